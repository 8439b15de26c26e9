// What the kernel says of a process (CPU time and resident memory, from /proc), and the node flags
// a bench starts dockercri's process with.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // the command name may hold spaces: fields are counted after its closing parenthesis
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Resident memory in MiB. */
export function rssMiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

/** The PID of the Docker Engine at /var/run/docker.sock: from the pid file it writes, else the first dockerd found. */
export function dockerdPid(): number | undefined {
  try {
    const pid = Number(readFileSync('/var/run/docker.pid', 'utf8').trim());
    if (pid > 0 && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'dockerd') return pid;
  } catch {
    // no pid file: look for the process
  }
  return pidOf('dockerd');
}

/** User + system CPU seconds of `pid`, or undefined when it no longer runs. */
export function cpuSecondsIfAlive(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return cpuSeconds(pid);
  } catch {
    return undefined;
  }
}

/** The PID of the process whose command is `comm` (the first found), or undefined. */
export function pidOf(comm: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

/** Flags for dockercri's node from DOCKERCRI_NODE_ARGS (space-separated), e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
export function dockercriNodeArgs(): string[] {
  return (process.env.DOCKERCRI_NODE_ARGS ?? '').split(' ').filter(Boolean);
}
