#!/usr/bin/env bash
# Shell helpers shared by setup-host.sh and test-env.sh (sourced, not run).

# daemonize LOG CMD...: start CMD in its own session, detached from this script: stdin /dev/null,
# stdout+stderr appended to LOG, and no other inherited descriptor (a daemon that kept a caller's
# pipe open would make `.ci/run | tee` hang, one that kept a lock fd would hold the lock). Sets
# DAEMON_PID.
daemonize() {
  local logfile=$1; shift
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
    done
    exec setsid "$@" >>"$logfile" 2>&1 </dev/null
  ) &
  DAEMON_PID=$!
}

# alive PID: the process exists and is not a zombie (PID 1 here may never reap orphans)
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}
