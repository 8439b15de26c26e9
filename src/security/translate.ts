// CRI security settings → Docker HostConfig options. Pure: profile files are read by the caller.
import { invalidArgument } from '../errors.js';
import type { runtime } from '../gen/api.js';

export type ProfileChoice = { kind: 'default' } | { kind: 'unconfined' } | { kind: 'localhost'; ref: string };

const PROFILE = { RuntimeDefault: 0, Unconfined: 1, Localhost: 2 } as const;

/**
 * Which seccomp profile applies: the `seccomp` field when it is set, else the deprecated path
 * ("runtime/default", "docker/default", "unconfined", "localhost/<path>", or "" for unconfined).
 */
export function seccompChoice(profile: runtime.v1.ISecurityProfile | null | undefined, deprecatedPath: string | null | undefined): ProfileChoice {
  if (profile) return profileChoice(profile, 'seccomp');
  const path = deprecatedPath ?? '';
  if (path === '' || path === 'unconfined') return { kind: 'unconfined' };
  if (path === 'runtime/default' || path === 'docker/default') return { kind: 'default' };
  if (path.startsWith('localhost/')) return localhost(path.slice('localhost/'.length), 'seccomp');
  throw invalidArgument(`unknown seccomp profile "${path.slice(0, 200)}"`);
}

/** Which AppArmor profile applies, from the field or the deprecated name. */
export function apparmorChoice(profile: runtime.v1.ISecurityProfile | null | undefined, deprecatedName: string | null | undefined): ProfileChoice {
  if (profile) return profileChoice(profile, 'apparmor');
  const name = deprecatedName ?? '';
  if (name === '' || name === 'runtime/default') return { kind: 'default' };
  if (name === 'unconfined') return { kind: 'unconfined' };
  if (name.startsWith('localhost/')) return localhost(name.slice('localhost/'.length), 'apparmor');
  throw invalidArgument(`unknown AppArmor profile "${name.slice(0, 200)}"`);
}

function profileChoice(p: runtime.v1.ISecurityProfile, what: string): ProfileChoice {
  switch (p.profileType ?? PROFILE.RuntimeDefault) {
    case PROFILE.RuntimeDefault:
      return { kind: 'default' };
    case PROFILE.Unconfined:
      return { kind: 'unconfined' };
    case PROFILE.Localhost:
      return localhost(p.localhostRef ?? '', what);
    default:
      throw invalidArgument(`unknown ${what} profile type ${String(p.profileType)}`);
  }
}

function localhost(ref: string, what: string): ProfileChoice {
  if (ref === '') throw invalidArgument(`${what} profile type Localhost needs localhost_ref`);
  if (what === 'seccomp' && !ref.startsWith('/')) throw invalidArgument(`seccomp profile "${ref.slice(0, 200)}" must be an absolute path`);
  return { kind: 'localhost', ref };
}

/** Docker security options for a seccomp choice; `profileJson` is the Localhost file's content. */
export function seccompOpts(choice: ProfileChoice, profileJson?: string): string[] {
  if (choice.kind === 'unconfined') return ['seccomp=unconfined'];
  if (choice.kind === 'localhost') return [`seccomp=${profileJson ?? ''}`];
  return [];
}

export function apparmorOpts(choice: ProfileChoice): string[] {
  if (choice.kind === 'unconfined') return ['apparmor=unconfined'];
  if (choice.kind === 'localhost') return [`apparmor=${choice.ref}`];
  return [];
}

export function selinuxOpts(o: runtime.v1.ISELinuxOption | null | undefined): string[] {
  if (!o) return [];
  const out: string[] = [];
  if (o.user) out.push(`label=user:${o.user}`);
  if (o.role) out.push(`label=role:${o.role}`);
  if (o.type) out.push(`label=type:${o.type}`);
  if (o.level) out.push(`label=level:${o.level}`);
  return out;
}

export interface PrivilegedOptions {
  Privileged?: boolean;
  CapAdd?: string[];
  SecurityOpt: string[];
  MaskedPaths?: string[];
  ReadonlyPaths?: string[];
  DeviceCgroupRules?: string[];
}

/**
 * What privileged mode becomes on this host. Docker's privileged mode asks runc for every
 * capability Docker knows, which fails where dockercri's own set is short; there, as containerd
 * does, the container gets exactly the capabilities held, with everything else privileged means
 * (no seccomp or AppArmor confinement, no masked or read-only system paths, all devices allowed).
 */
export function privilegedOptions(hostComplete: boolean, held: readonly string[]): PrivilegedOptions {
  if (hostComplete) return { Privileged: true, SecurityOpt: [] };
  return {
    CapAdd: [...held],
    SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined', 'label=disable'],
    MaskedPaths: [],
    ReadonlyPaths: [],
    DeviceCgroupRules: ['a *:* rwm'],
  };
}

/** Docker's "User" for a run-as uid and gid (the gid only together with a uid). */
export function dockerUser(uid: number | undefined, gid: number | undefined, username?: string): string {
  const user = uid !== undefined ? String(uid) : username ?? '';
  if (user === '') return '';
  return gid !== undefined ? `${user}:${gid}` : user;
}
