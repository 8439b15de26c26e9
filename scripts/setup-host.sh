#!/usr/bin/env bash
# Prepare this host for dockercri's tests: install the Debian packages they need and make sure a
# Docker Engine answers. Idempotent: on a host that already has everything it does no apt work and
# returns in well under a second.
#
# Run as root. If this script starts dockerd it writes its pid to $STATE_DIR/dockerd.started so
# that CI (.ci/run) can stop exactly that daemon at the end; a dockerd that was already running is
# left alone and not recorded.
set -euo pipefail

STATE_DIR=/run/dockercri-test
DOCKERD_LOG=/var/log/dockercri-dockerd.log
DOCKERD_MARKER=$STATE_DIR/dockerd.started
DOCKERD_WAIT_S=60

PACKAGES=(docker.io docker-registry busybox-static containernetworking-plugins socat gcc systemd
          apache2-utils iproute2 iptables util-linux curl xz-utils procps)

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

log() { echo "setup-host: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

# --- packages -------------------------------------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # Another apt/dpkg may be running (e.g. a provisioning step): wait for its lock instead of failing.
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -q
  apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}"
fi

# The docker.io package puts its client in /usr/bin; a client-only docker found earlier on PATH is
# fine as long as it can talk to the engine (API version negotiation).
command -v docker >/dev/null || die "no docker client on PATH after install"
command -v dockerd >/dev/null || export PATH="$PATH:/usr/sbin:/sbin"
command -v dockerd >/dev/null || die "dockerd not found after installing docker.io"

# --- dockerd --------------------------------------------------------------------------------------
mkdir -p "$STATE_DIR"
# a marker whose dockerd is gone is stale (the daemon died or was restarted by someone else)
if [ -f "$DOCKERD_MARKER" ] && ! alive "$(cat "$DOCKERD_MARKER")"; then rm -f "$DOCKERD_MARKER"; fi
started=0
docker_ok() { timeout 10 docker version >/dev/null 2>&1; }

if docker_ok; then
  log "docker engine already answers"
  exit 0
fi

# A pid file left by a dead dockerd is harmless (dockerd overwrites it); a live one means a daemon
# that is still starting or wedged: wait for it rather than starting a second one.
if [ -f /var/run/docker.pid ] && alive "$(cat /var/run/docker.pid)"; then
  log "dockerd (pid $(cat /var/run/docker.pid)) is running but not answering yet; waiting"
else
  # no systemd here: cgroups must be mounted (cgroupfs-mount from docker.io's dependencies)
  if [ ! -e /sys/fs/cgroup/cpu ] && [ ! -e /sys/fs/cgroup/cgroup.controllers ] && command -v cgroupfs-mount >/dev/null; then
    cgroupfs-mount || true
  fi
  log "starting dockerd (log: $DOCKERD_LOG)"
  daemonize "$DOCKERD_LOG" dockerd
  echo "$DAEMON_PID" >"$DOCKERD_MARKER"
  started=1
fi

for _ in $(seq $((DOCKERD_WAIT_S * 2))); do
  if docker_ok; then
    log "docker engine is up: $(docker version --format 'server {{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null)"
    exit 0
  fi
  if [ "$started" = 1 ] && ! alive "$(cat "$DOCKERD_MARKER")"; then
    rm -f "$DOCKERD_MARKER"
    tail -n 20 "$DOCKERD_LOG" >&2 || true
    die "dockerd exited during startup; see $DOCKERD_LOG"
  fi
  sleep 0.5
done
tail -n 20 "$DOCKERD_LOG" >&2 || true
die "docker engine did not answer within ${DOCKERD_WAIT_S}s; see $DOCKERD_LOG"
