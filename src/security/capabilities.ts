import { readFileSync } from 'node:fs';

/** Linux capability names by bit number (capability.h), as Docker spells them. */
export const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

export const CAP_SYS_RESOURCE_BIT = 24;

/** The capability names set in a /proc status mask such as "000001fffeffffff". */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex}`);
  return CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

export interface HostCapabilities {
  /** What this process holds (CapEff). */
  effective: string[];
  /** Whether the process can grant every capability Docker knows, as privileged mode asks. */
  complete: boolean;
  hasSysResource: boolean;
}

/** Reads dockercri's own capabilities from /proc/self/status. */
export function readHostCapabilities(statusText = readFileSync('/proc/self/status', 'utf8')): HostCapabilities {
  const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(statusText)?.[1] ?? '0';
  const effective = capabilitiesFromMask(eff);
  return { effective, complete: effective.length === CAPABILITIES.length, hasSysResource: effective.includes('CAP_SYS_RESOURCE') };
}
