import { describe, expect, it } from 'vitest';
import { Code, CriError } from '../errors.js';
import type { runtime } from '../gen/api.js';
import {
  type PrivilegedOptions,
  type ProfileChoice,
  apparmorChoice,
  apparmorOpts,
  dockerUser,
  privilegedOptions,
  seccompChoice,
  seccompOpts,
  selinuxOpts,
} from './translate.js';

const RuntimeDefault = 0;
const Unconfined = 1;
const Localhost = 2;

function invalid(fn: () => unknown): CriError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CriError);
    expect((err as CriError).code).toBe(Code.INVALID_ARGUMENT);
    return err as CriError;
  }
  throw new Error('expected an INVALID_ARGUMENT error');
}

describe('seccompChoice', () => {
  it.each<[string, runtime.v1.ISecurityProfile | null | undefined, string | null | undefined, ProfileChoice]>([
    ['nothing set: unconfined, as CRI defines the empty path', undefined, undefined, { kind: 'unconfined' }],
    ['null field and empty path', null, '', { kind: 'unconfined' }],
    ['path unconfined', undefined, 'unconfined', { kind: 'unconfined' }],
    ['path runtime/default', undefined, 'runtime/default', { kind: 'default' }],
    ['path docker/default', undefined, 'docker/default', { kind: 'default' }],
    ['path localhost/<absolute>', undefined, 'localhost//var/lib/kubelet/seccomp/audit.json', { kind: 'localhost', ref: '/var/lib/kubelet/seccomp/audit.json' }],
    ['field RuntimeDefault', { profileType: RuntimeDefault }, undefined, { kind: 'default' }],
    ['field without a type reads as RuntimeDefault', {}, undefined, { kind: 'default' }],
    ['field Unconfined', { profileType: Unconfined }, undefined, { kind: 'unconfined' }],
    ['field Localhost', { profileType: Localhost, localhostRef: '/var/lib/kubelet/seccomp/audit.json' }, undefined, { kind: 'localhost', ref: '/var/lib/kubelet/seccomp/audit.json' }],
    ['the field wins over the deprecated path', { profileType: RuntimeDefault }, 'unconfined', { kind: 'default' }],
    ['an Unconfined field wins over a default path', { profileType: Unconfined }, 'runtime/default', { kind: 'unconfined' }],
  ])('%s', (_name, field, path, want) => {
    expect(seccompChoice(field, path)).toEqual(want);
  });

  it.each<[string, runtime.v1.ISecurityProfile | null | undefined, string | undefined, string]>([
    ['an unknown path', undefined, 'seccomp-strict', 'unknown seccomp profile "seccomp-strict"'],
    ['a bare localhost/ path', undefined, 'localhost/', 'Localhost needs localhost_ref'],
    ['a relative localhost path', undefined, 'localhost/profiles/audit.json', 'must be an absolute path'],
    ['a Localhost field without a ref', { profileType: Localhost }, undefined, 'seccomp profile type Localhost needs localhost_ref'],
    ['a Localhost field with a relative ref', { profileType: Localhost, localhostRef: 'audit.json' }, undefined, 'must be an absolute path'],
    ['an unknown profile type', { profileType: 7 as runtime.v1.SecurityProfile.ProfileType }, undefined, 'unknown seccomp profile type 7'],
  ])('rejects %s', (_name, field, path, message) => {
    expect(invalid(() => seccompChoice(field, path)).message).toContain(message);
  });
});

describe('apparmorChoice', () => {
  it.each<[string, runtime.v1.ISecurityProfile | null | undefined, string | null | undefined, ProfileChoice]>([
    ['nothing set: the runtime default, as CRI defines the empty name', undefined, undefined, { kind: 'default' }],
    ['name runtime/default', null, 'runtime/default', { kind: 'default' }],
    ['name unconfined', undefined, 'unconfined', { kind: 'unconfined' }],
    ['name localhost/<profile>', undefined, 'localhost/k8s-apparmor-example-deny-write', { kind: 'localhost', ref: 'k8s-apparmor-example-deny-write' }],
    ['field RuntimeDefault', { profileType: RuntimeDefault }, undefined, { kind: 'default' }],
    ['field Unconfined', { profileType: Unconfined }, undefined, { kind: 'unconfined' }],
    ['field Localhost, a profile name (no path needed)', { profileType: Localhost, localhostRef: 'deny-write' }, undefined, { kind: 'localhost', ref: 'deny-write' }],
    ['the field wins over the deprecated name', { profileType: Unconfined }, 'localhost/deny-write', { kind: 'unconfined' }],
  ])('%s', (_name, field, name, want) => {
    expect(apparmorChoice(field, name)).toEqual(want);
  });

  it.each<[string, runtime.v1.ISecurityProfile | null | undefined, string | undefined, string]>([
    ['an unknown name', undefined, 'docker-default', 'unknown AppArmor profile "docker-default"'],
    ['a bare localhost/ name', undefined, 'localhost/', 'apparmor profile type Localhost needs localhost_ref'],
    ['a Localhost field without a ref', { profileType: Localhost, localhostRef: '' }, undefined, 'apparmor profile type Localhost needs localhost_ref'],
    ['an unknown profile type', { profileType: 3 as runtime.v1.SecurityProfile.ProfileType }, undefined, 'unknown apparmor profile type 3'],
  ])('rejects %s', (_name, field, name, message) => {
    expect(invalid(() => apparmorChoice(field, name)).message).toContain(message);
  });

  it('cuts an absurdly long name in its message', () => {
    expect(invalid(() => apparmorChoice(undefined, 'x'.repeat(10_000))).message.length).toBeLessThan(300);
  });
});

describe('seccompOpts', () => {
  const json = '{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}';
  it.each<[string, ProfileChoice, string | undefined, string[]]>([
    ['default: nothing, Docker applies its own profile', { kind: 'default' }, undefined, []],
    ['unconfined', { kind: 'unconfined' }, undefined, ['seccomp=unconfined']],
    ['localhost: the profile content, not its path', { kind: 'localhost', ref: '/var/lib/kubelet/seccomp/audit.json' }, json, [`seccomp=${json}`]],
  ])('%s', (_name, choice, profileJson, want) => {
    expect(seccompOpts(choice, profileJson)).toEqual(want);
  });
});

describe('apparmorOpts', () => {
  it.each<[ProfileChoice, string[]]>([
    [{ kind: 'default' }, []],
    [{ kind: 'unconfined' }, ['apparmor=unconfined']],
    [{ kind: 'localhost', ref: 'deny-write' }, ['apparmor=deny-write']],
  ])('%j → %j', (choice, want) => {
    expect(apparmorOpts(choice)).toEqual(want);
  });
});

describe('selinuxOpts', () => {
  it.each<[string, runtime.v1.ISELinuxOption | null | undefined, string[]]>([
    ['none', undefined, []],
    ['null', null, []],
    ['all empty', { user: '', role: '', type: '', level: '' }, []],
    ['only a level', { level: 's0:c123,c456' }, ['label=level:s0:c123,c456']],
    ['only a role', { role: 'system_r' }, ['label=role:system_r']],
    ['only a user and a type', { user: 'system_u', type: 'spc_t' }, ['label=user:system_u', 'label=type:spc_t']],
    [
      'every part, in Docker\'s order',
      { level: 's0:c1,c2', type: 'spc_t', role: 'system_r', user: 'system_u' },
      ['label=user:system_u', 'label=role:system_r', 'label=type:spc_t', 'label=level:s0:c1,c2'],
    ],
  ])('%s', (_name, opts, want) => {
    expect(selinuxOpts(opts)).toEqual(want);
  });
});

describe('privilegedOptions', () => {
  const held = ['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN'];
  it.each<[string, boolean, readonly string[], PrivilegedOptions]>([
    ['a complete host: Docker\'s own privileged mode', true, held, { Privileged: true, SecurityOpt: [] }],
    [
      'a short host: the held capabilities and everything else privileged means',
      false,
      held,
      {
        CapAdd: ['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN'],
        SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined', 'label=disable'],
        MaskedPaths: [],
        ReadonlyPaths: [],
        DeviceCgroupRules: ['a *:* rwm'],
      },
    ],
  ])('%s', (_name, complete, caps, want) => {
    expect(privilegedOptions(complete, caps)).toEqual(want);
  });

  it('copies the held list', () => {
    const caps = ['CAP_CHOWN'];
    const out = privilegedOptions(false, caps);
    out.CapAdd?.push('CAP_SYS_ADMIN');
    expect(caps).toEqual(['CAP_CHOWN']);
  });
});

describe('dockerUser', () => {
  it.each<[number | undefined, number | undefined, string | undefined, string]>([
    [undefined, undefined, undefined, ''],
    [0, undefined, undefined, '0'],
    [0, 0, undefined, '0:0'],
    [1000, undefined, undefined, '1000'],
    [1000, 3000, undefined, '1000:3000'],
    [undefined, 3000, undefined, ''],
    [undefined, undefined, 'nginx', 'nginx'],
    [undefined, 101, 'nginx', 'nginx:101'],
    [1000, undefined, 'nginx', '1000'],
    [undefined, undefined, '', ''],
  ])('uid %j gid %j username %j → %j', (uid, gid, username, want) => {
    expect(dockerUser(uid, gid, username)).toBe(want);
  });
});
