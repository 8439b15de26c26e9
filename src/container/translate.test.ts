import Long from 'long';
import { describe, expect, it } from 'vitest';
import { Code, CriError } from '../errors.js';
import { runtime } from '../gen/api.js';
import {
  apiAtLeast,
  capabilityName,
  capabilityOptions,
  cdiDeviceRequests,
  commandAndArgs,
  containerCreateBody,
  containerUser,
  deviceMappings,
  dockerLogConfig,
  envList,
  logPathLabel,
  memorySwap,
  mountBindings,
  mountPropagation,
  namespaceModes,
  oomScoreAdj,
  pidMode,
  resourceOptions,
  securityOptions,
  stopSignalName,
  validateContainerConfig,
  type ContainerCreateOptions,
  type SandboxFacts,
} from './translate.js';

const SANDBOX_ID = 'a'.repeat(64);
const TARGET_ID = 'b'.repeat(64);
const IMAGE_ID = `sha256:${'c'.repeat(64)}`;
const HELD = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN'];
const { PROPAGATION_PRIVATE: PRIVATE, PROPAGATION_HOST_TO_CONTAINER: HOST_TO_CONTAINER, PROPAGATION_BIDIRECTIONAL: BIDIRECTIONAL } = runtime.v1.MountPropagation;
const POD = 0;
const CONTAINER = 1;
const NODE = 2;
const TARGET = 3;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

const sandbox = (over: Partial<SandboxFacts> = {}): SandboxFacts => ({
  sandboxId: SANDBOX_ID,
  pod: { name: 'web', namespace: 'default', uid: 'uid-1' },
  logDirectory: '/var/log/pods/default_web_uid-1',
  cgroupParent: '/kubepods/burstable/poduid-1',
  hostNetwork: false,
  hostIpc: false,
  ...over,
});

const options = (over: Partial<ContainerCreateOptions> = {}): ContainerCreateOptions => ({
  image: { id: IMAGE_ID, entrypoint: ['/docker-entrypoint.sh'], cmd: ['nginx'], user: '' },
  apiVersion: '1.41',
  cgroupDriver: 'cgroupfs',
  hostCapsComplete: true,
  heldCapabilities: HELD,
  cdiSupported: false,
  ...over,
});

const minimal = (over: runtime.v1.IContainerConfig = {}): runtime.v1.IContainerConfig => ({
  metadata: { name: 'app', attempt: 0 },
  image: { image: 'nginx:1.27' },
  ...over,
});

const withSc = (sc: runtime.v1.ILinuxContainerSecurityContext): runtime.v1.IContainerConfig => minimal({ linux: { securityContext: sc } });

function criError(fn: () => unknown): CriError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CriError);
    return err as CriError;
  }
  throw new Error('expected a CriError, nothing was thrown');
}

describe('apiAtLeast', () => {
  it.each<[string, string, boolean]>([
    ['1.41', '1.41', true],
    ['1.41', '1.42', false],
    ['1.44', '1.42', true],
    ['1.9', '1.10', false],
    ['1.100', '1.44', true],
    ['2.0', '1.44', true],
    ['1', '1.0', true],
    ['1.43.1', '1.44', false],
  ])('%s >= %s is %s', (have, min, expected) => {
    expect(apiAtLeast(have, min)).toBe(expected);
  });
});

describe('validateContainerConfig', () => {
  const LOG_DIR = '/var/log/pods/x';

  it('accepts a minimal config and a full kubelet-like one', () => {
    expect(() => validateContainerConfig(minimal(), LOG_DIR)).not.toThrow();
    expect(() => validateContainerConfig(kubeletConfig(), LOG_DIR)).not.toThrow();
  });

  it.each<[string, runtime.v1.IContainerConfig | null, RegExp]>([
    ['no config', null, /config is required/],
    ['no metadata', { image: { image: 'x' } }, /metadata.name is required/],
    ['empty name', minimal({ metadata: { name: '' } }), /metadata.name is required/],
    ['name with _', minimal({ metadata: { name: 'a_b' } }), /letters, digits/],
    ['name with /', minimal({ metadata: { name: 'a/b' } }), /letters, digits/],
    ['name starting with -', minimal({ metadata: { name: '-a' } }), /letters, digits/],
    ['name with a space', minimal({ metadata: { name: 'a b' } }), /letters, digits/],
    ['no image', minimal({ image: null }), /image.image is required/],
    ['empty image', minimal({ image: { image: '' } }), /image.image is required/],
    ['empty label key', minimal({ labels: { '': 'v' } }), /keys must not be empty/],
    ['empty annotation key', minimal({ annotations: { '': 'v' } }), /keys must not be empty/],
    ['absolute log path', minimal({ logPath: '/etc/passwd' }), /must be relative/],
    ['log path escaping with ..', minimal({ logPath: '../../etc/x.log' }), /must not contain "\.\."/],
    ['log path with .. inside', minimal({ logPath: 'app/../../x.log' }), /must not contain "\.\."/],
    ['relative working dir', minimal({ workingDir: 'srv' }), /working directory "srv" must be an absolute path/],
    ['empty env name', minimal({ envs: [{ key: '', value: enc('x') }] }), /environment variable name/],
    ['env name with =', minimal({ envs: [{ key: 'A=B', value: enc('x') }] }), /environment variable name/],
    ['env value with NUL', minimal({ envs: [{ key: 'A', value: enc('x\0y') }] }), /must not contain NUL/],
    ['relative mount target', minimal({ mounts: [{ containerPath: 'data', hostPath: '/srv' }] }), /mount container path "data" must be an absolute path/],
    ['mount target with ..', minimal({ mounts: [{ containerPath: '/data/../etc', hostPath: '/srv' }] }), /mount container path .* must not contain/],
    ['relative host path', minimal({ mounts: [{ containerPath: '/data', hostPath: 'srv' }] }), /mount host path "srv" must be an absolute path/],
    ['host path escaping with ..', minimal({ mounts: [{ containerPath: '/data', hostPath: '/var/lib/kubelet/../../../etc' }] }), /mount host path .* must not contain "\.\."/],
    ['no host path', minimal({ mounts: [{ containerPath: '/data' }] }), /host_path is required/],
    ['image volume', minimal({ mounts: [{ containerPath: '/data', image: { image: 'busybox' } }] }), /image volumes are not supported/],
    ['idmapped mount', minimal({ mounts: [{ containerPath: '/data', hostPath: '/srv', uidMappings: [{ hostId: 1000, containerId: 0, length: 1 }] }] }), /idmapped mounts/],
    ['unknown propagation', minimal({ mounts: [{ containerPath: '/data', hostPath: '/srv', propagation: 7 as runtime.v1.MountPropagation }] }), /unknown mount propagation 7/],
    ['rro without readonly', minimal({ mounts: [{ containerPath: '/data', hostPath: '/srv', recursiveReadOnly: true }] }), /needs readonly/],
    ['rro with rslave', minimal({ mounts: [{ containerPath: '/data', hostPath: '/srv', readonly: true, recursiveReadOnly: true, propagation: HOST_TO_CONTAINER }] }), /needs private propagation/],
    ['rro with relabel', minimal({ mounts: [{ containerPath: '/data', hostPath: '/srv', readonly: true, recursiveReadOnly: true, selinuxRelabel: true }] }), /SELinux relabeling cannot/],
    ['colon path with relabel', minimal({ mounts: [{ containerPath: '/data', hostPath: '/srv/a:b', selinuxRelabel: true }] }), /SELinux relabeling cannot/],
    ['two mounts at one target', minimal({ mounts: [{ containerPath: '/data', hostPath: '/a' }, { containerPath: '/data/', hostPath: '/b' }] }), /two mounts at \/data/],
    ['relative device host path', minimal({ devices: [{ hostPath: 'dev/fuse', containerPath: '/dev/fuse', permissions: 'rwm' }] }), /device host path/],
    ['no device container path', minimal({ devices: [{ hostPath: '/dev/fuse', permissions: 'rwm' }] }), /device container path/],
    ['bad device permissions', minimal({ devices: [{ hostPath: '/dev/fuse', containerPath: '/dev/fuse', permissions: 'rwx' }] }), /permissions "rwx"/],
    ['repeated device permissions', minimal({ devices: [{ hostPath: '/dev/fuse', containerPath: '/dev/fuse', permissions: 'rr' }] }), /permissions "rr"/],
    ['unqualified CDI name', minimal({ CDIDevices: [{ name: 'gpu0' }] }), /CDI device "gpu0"/],
    ['negative memory', minimal({ linux: { resources: { memoryLimitInBytes: -1 } } }), /memory_limit_in_bytes must not be negative/],
    ['negative cpu period', minimal({ linux: { resources: { cpuPeriod: -5 } } }), /cpu_period must not be negative/],
    ['negative cpu shares', minimal({ linux: { resources: { cpuShares: -2 } } }), /cpu_shares must not be negative/],
    ['cpu quota below -1', minimal({ linux: { resources: { cpuQuota: -2 } } }), /cpu_quota must be -1 or more/],
    ['swap below -1', minimal({ linux: { resources: { memoryLimitInBytes: 1 << 24, memorySwapLimitInBytes: -2 } } }), /memory_swap_limit_in_bytes must be -1/],
    ['swap without memory', minimal({ linux: { resources: { memorySwapLimitInBytes: 1 << 24 } } }), /needs memory_limit_in_bytes/],
    ['swap below memory', minimal({ linux: { resources: { memoryLimitInBytes: 1 << 25, memorySwapLimitInBytes: 1 << 24 } } }), /must not be below memory_limit_in_bytes/],
    ['bad memory.swap.max', minimal({ linux: { resources: { memoryLimitInBytes: 1 << 25, unified: { 'memory.swap.max': '1G' } } } }), /memory.swap.max/],
    ['oom_score_adj above 1000', minimal({ linux: { resources: { oomScoreAdj: 1001 } } }), /oom_score_adj 1001/],
    ['oom_score_adj below -1000', minimal({ linux: { resources: { oomScoreAdj: -1001 } } }), /oom_score_adj -1001/],
    ['user and username', withSc({ runAsUser: { value: 1 }, runAsUsername: 'app' }), /mutually exclusive/],
    ['negative user', withSc({ runAsUser: { value: -1 } }), /run_as_user must not be negative/],
    ['negative group', withSc({ runAsUser: { value: 1 }, runAsGroup: { value: -1 } }), /run_as_group must not be negative/],
    ['negative supplemental group', withSc({ supplementalGroups: [1, -3] }), /supplemental_groups must not be negative/],
    ['strict supplemental groups', withSc({ supplementalGroupsPolicy: runtime.v1.SupplementalGroupsPolicy.Strict }), /Strict is not supported/],
    ['ambient capabilities', withSc({ capabilities: { addAmbientCapabilities: ['NET_BIND_SERVICE'] } }), /ambient capabilities/],
    ['bad capability name', withSc({ capabilities: { addCapabilities: ['NET ADMIN'] } }), /capability "NET ADMIN"/],
    ['bad dropped capability name', withSc({ capabilities: { dropCapabilities: [''] } }), /capability ""/],
    ['unknown pid mode', withSc({ namespaceOptions: { pid: 9 as runtime.v1.NamespaceMode } }), /unknown PID namespace mode 9/],
    ['target without id', withSc({ namespaceOptions: { pid: TARGET } }), /TARGET needs target_id/],
    ['user namespace', withSc({ namespaceOptions: { usernsOptions: { mode: POD, uids: [{ hostId: 100000, containerId: 0, length: 65536 }] } } }), /user namespaces are not supported/],
    ['relative masked path', withSc({ maskedPaths: ['proc/kcore'] }), /masked or read-only path/],
    ['relative readonly path', withSc({ readonlyPaths: ['proc/sys'] }), /masked or read-only path/],
    ['unknown seccomp path', withSc({ seccompProfilePath: 'strict' }), /unknown seccomp profile "strict"/],
    ['relative localhost seccomp', withSc({ seccomp: { profileType: 2, localhostRef: 'profiles/a.json' } }), /must be an absolute path/],
    ['localhost seccomp without ref', withSc({ seccomp: { profileType: 2 } }), /needs localhost_ref/],
    ['unknown apparmor name', withSc({ apparmorProfile: 'strict' }), /unknown AppArmor profile/],
    ['unknown stop signal', minimal({ stopSignal: 99 as runtime.v1.Signal }), /unknown stop signal 99/],
  ])('rejects %s', (_, config, message) => {
    const err = criError(() => validateContainerConfig(config, LOG_DIR));
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.message).toMatch(message);
  });

  it('rejects a log path when the sandbox has no absolute log directory', () => {
    const err = criError(() => validateContainerConfig(minimal({ logPath: 'app/0.log' }), ''));
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.message).toMatch(/log_directory/);
  });

  it('accepts what kubelet may legitimately send at the edges', () => {
    for (const config of [
      minimal({ logPath: '' }),
      minimal({ logPath: 'app..0.log' }),
      minimal({ metadata: { name: 'a' } }),
      minimal({ envs: [{ key: 'EMPTY', value: new Uint8Array() }] }),
      minimal({ mounts: [{ containerPath: '/data', hostPath: '/srv/a:b' }] }),
      minimal({ devices: [{ hostPath: '/dev/fuse', containerPath: '/dev/fuse', permissions: '' }] }),
      minimal({ linux: { resources: { cpuQuota: -1, memoryLimitInBytes: 1 << 24, memorySwapLimitInBytes: -1 } } }),
      minimal({ linux: { resources: { memoryLimitInBytes: 1 << 24, unified: { 'memory.swap.max': 'max', 'memory.high': '1000' } } } }),
      withSc({ runAsGroup: { value: 0 } }),
      withSc({ namespaceOptions: { pid: TARGET, targetId: TARGET_ID } }),
      withSc({ namespaceOptions: { usernsOptions: { mode: NODE } } }),
      withSc({ capabilities: { addCapabilities: ['all', 'CAP_NET_ADMIN'], dropCapabilities: ['ALL'] } }),
    ]) {
      expect(() => validateContainerConfig(config, '/var/log/pods/x')).not.toThrow();
    }
  });
});

describe('logPathLabel', () => {
  it.each<[string, string, string | undefined]>([
    ['/var/log/pods/ns_pod_uid', 'app/0.log', '/var/log/pods/ns_pod_uid/app/0.log'],
    ['/var/log/pods/ns_pod_uid/', 'app/0.log', '/var/log/pods/ns_pod_uid/app/0.log'],
    ['/var/log/pods/ns_pod_uid', './app//0.log', '/var/log/pods/ns_pod_uid/app/0.log'],
    ['/var/log/pods/ns_pod_uid', '', undefined],
    ['', '', undefined],
  ])('%s + %s → %s', (dir, path, expected) => {
    expect(logPathLabel(dir, path)).toBe(expected);
  });
});

describe('commandAndArgs', () => {
  const image = { id: IMAGE_ID, entrypoint: ['/entry'], cmd: ['default'] };
  it.each<[string, string[] | null, string[] | null, object]>([
    ['command and args replace both', ['/bin/sh'], ['-c', 'echo hi'], { Entrypoint: ['/bin/sh'], Cmd: ['-c', 'echo hi'] }],
    ["a command alone drops the image's cmd", ['/bin/sleep', '3600'], [], { Entrypoint: ['/bin/sleep', '3600'] }],
    ["args alone keep the image's entrypoint", [], ['--port', '80'], { Cmd: ['--port', '80'] }],
    ['neither keeps the image defaults', [], [], {}],
    ['null lists keep the image defaults', null, null, {}],
  ])('%s', (_, command, args, expected) => {
    expect(commandAndArgs(command, args, image)).toEqual(expected);
  });

  it.each<[string, string[], string[], object]>([
    ['an image with only a cmd', [], [], { id: IMAGE_ID, cmd: ['sh'] }],
    ['an image with only an entrypoint', [], [], { id: IMAGE_ID, entrypoint: ['/entry'] }],
    ['an image with nothing, given a command', ['/bin/true'], [], { id: IMAGE_ID }],
    ['an image with nothing, given args', [], ['/bin/true'], { id: IMAGE_ID, entrypoint: null, cmd: null }],
  ])('runs %s', (_, command, args, img) => {
    expect(() => commandAndArgs(command, args, img as never)).not.toThrow();
  });

  it('rejects a container with nothing to run', () => {
    const err = criError(() => commandAndArgs([], [], { id: IMAGE_ID, entrypoint: null, cmd: [] }));
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.message).toMatch(/nothing to run.*sha256:c/);
  });
});

describe('envList', () => {
  it.each<[string, runtime.v1.IKeyValue[] | null, string[]]>([
    ['none', null, []],
    ['bytes values in order', [{ key: 'A', value: enc('1') }, { key: 'B', value: enc('two words') }], ['A=1', 'B=two words']],
    ['an empty value', [{ key: 'EMPTY', value: new Uint8Array() }], ['EMPTY=']],
    ['a missing value', [{ key: 'UNSET' }], ['UNSET=']],
    ['a value with = and newlines', [{ key: 'X', value: enc('a=b\nc') }], ['X=a=b\nc']],
    ['UTF-8', [{ key: 'GREETING', value: enc('grüß dich ✓') }], ['GREETING=grüß dich ✓']],
    ['a value given as a string', [{ key: 'S', value: 'str' as unknown as Uint8Array }], ['S=str']],
    ['repeated keys kept in order (the last wins in the process)', [{ key: 'A', value: enc('1') }, { key: 'A', value: enc('2') }], ['A=1', 'A=2']],
    ['relaxed names', [{ key: 'my.var-1', value: enc('x') }], ['my.var-1=x']],
  ])('%s', (_, envs, expected) => {
    expect(envList(envs)).toEqual(expected);
  });
});

describe('mountPropagation', () => {
  it.each<[runtime.v1.MountPropagation | null | undefined, string | undefined]>([
    [PRIVATE, undefined],
    [undefined, undefined],
    [null, undefined],
    [HOST_TO_CONTAINER, 'rslave'],
    [BIDIRECTIONAL, 'rshared'],
  ])('%s → %s', (p, expected) => {
    expect(mountPropagation(p)).toBe(expected);
  });
});

describe('mountBindings', () => {
  const m = (over: runtime.v1.IMount): runtime.v1.IMount => ({ containerPath: '/data', hostPath: '/srv/data', ...over });
  it.each<[string, runtime.v1.IMount, string, { Binds: string[]; Mounts: object[] }]>([
    ['read-write, private', m({}), '1.41', { Binds: ['/srv/data:/data'], Mounts: [] }],
    ['read-only', m({ readonly: true }), '1.41', { Binds: ['/srv/data:/data:ro'], Mounts: [] }],
    ['host to container', m({ propagation: HOST_TO_CONTAINER }), '1.41', { Binds: ['/srv/data:/data:rslave'], Mounts: [] }],
    ['bidirectional', m({ propagation: BIDIRECTIONAL }), '1.41', { Binds: ['/srv/data:/data:rshared'], Mounts: [] }],
    ['SELinux relabel', m({ selinuxRelabel: true }), '1.41', { Binds: ['/srv/data:/data:Z'], Mounts: [] }],
    ['everything a bind string says', m({ readonly: true, propagation: HOST_TO_CONTAINER, selinuxRelabel: true }), '1.41', { Binds: ['/srv/data:/data:ro,rslave,Z'], Mounts: [] }],
    ['read-write on a new Engine', m({ propagation: BIDIRECTIONAL }), '1.47', { Binds: ['/srv/data:/data:rshared'], Mounts: [] }],
    ['read-only on API 1.43 (still non-recursive there)', m({ readonly: true }), '1.43', { Binds: ['/srv/data:/data:ro'], Mounts: [] }],
    [
      'read-only on API 1.44 stays non-recursive',
      m({ readonly: true, propagation: HOST_TO_CONTAINER }),
      '1.44',
      { Binds: [], Mounts: [{ Type: 'bind', Source: '/srv/data', Target: '/data', ReadOnly: true, BindOptions: { Propagation: 'rslave', CreateMountpoint: true, ReadOnlyNonRecursive: true } }] },
    ],
    ['read-only with relabel on API 1.44 keeps the relabel', m({ readonly: true, selinuxRelabel: true }), '1.44', { Binds: ['/srv/data:/data:ro,Z'], Mounts: [] }],
    [
      'recursive read-only on API 1.44',
      m({ readonly: true, recursiveReadOnly: true }),
      '1.44',
      { Binds: [], Mounts: [{ Type: 'bind', Source: '/srv/data', Target: '/data', ReadOnly: true, BindOptions: { CreateMountpoint: true, ReadOnlyForceRecursive: true } }] },
    ],
    ['a host path with a colon on API 1.41', m({ hostPath: '/srv/a:b' }), '1.41', { Binds: [], Mounts: [{ Type: 'bind', Source: '/srv/a:b', Target: '/data' }] }],
    [
      'a container path with a colon on API 1.42',
      m({ containerPath: '/data/a:b', readonly: true, propagation: BIDIRECTIONAL }),
      '1.42',
      { Binds: [], Mounts: [{ Type: 'bind', Source: '/srv/data', Target: '/data/a:b', ReadOnly: true, BindOptions: { Propagation: 'rshared', CreateMountpoint: true } }] },
    ],
    ['a path with a comma stays a bind string', m({ hostPath: '/srv/a,b', readonly: true }), '1.41', { Binds: ['/srv/a,b:/data:ro'], Mounts: [] }],
  ])('%s', (_, mount, api, expected) => {
    expect(mountBindings([mount], api)).toEqual(expected);
  });

  it('keeps the order of many mounts and splits them by syntax', () => {
    const mounts = [m({ containerPath: '/a', hostPath: '/h/a' }), m({ containerPath: '/b', hostPath: '/h/b', readonly: true }), m({ containerPath: '/c', hostPath: '/h/c' })];
    expect(mountBindings(mounts, '1.44')).toEqual({
      Binds: ['/h/a:/a', '/h/c:/c'],
      Mounts: [{ Type: 'bind', Source: '/h/b', Target: '/b', ReadOnly: true, BindOptions: { CreateMountpoint: true, ReadOnlyNonRecursive: true } }],
    });
    expect(mountBindings(null, '1.41')).toEqual({ Binds: [], Mounts: [] });
  });

  it('refuses recursive read-only where the Engine cannot enforce it', () => {
    const err = criError(() => mountBindings([m({ readonly: true, recursiveReadOnly: true })], '1.43'));
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.message).toMatch(/RROUnsupported.*need Docker Engine API 1.44.*speaks 1.43/);
  });

  it('refuses recursive read-only where the sandbox runtime cannot do it, even on API 1.44', () => {
    const err = criError(() => mountBindings([m({ readonly: true, recursiveReadOnly: true })], '1.44', 'Docker runtime "kata" does not offer the "rro" mount option'));
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.message).toMatch(/mount at \/data: .*RROUnsupported.*"kata" does not offer/);
  });

  it('a runtime gap does not touch mounts that ask for no recursion', () => {
    expect(mountBindings([m({ readonly: true })], '1.44', 'no rro here').Mounts[0]?.BindOptions?.ReadOnlyNonRecursive).toBe(true);
  });
});

describe('deviceMappings', () => {
  it.each<[string, runtime.v1.IDevice[] | null, object[]]>([
    ['none', null, []],
    ['kubelet-style', [{ hostPath: '/dev/fuse', containerPath: '/dev/fuse', permissions: 'mrw' }], [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'mrw' }]],
    ['renamed, read-only', [{ hostPath: '/dev/nvidia0', containerPath: '/dev/gpu', permissions: 'r' }], [{ PathOnHost: '/dev/nvidia0', PathInContainer: '/dev/gpu', CgroupPermissions: 'r' }]],
    ['no permissions means all', [{ hostPath: '/dev/kvm', containerPath: '/dev/kvm' }], [{ PathOnHost: '/dev/kvm', PathInContainer: '/dev/kvm', CgroupPermissions: 'rwm' }]],
  ])('%s', (_, devices, expected) => {
    expect(deviceMappings(devices)).toEqual(expected);
  });
});

describe('cdiDeviceRequests', () => {
  it('asks the cdi driver for every device in one request', () => {
    expect(cdiDeviceRequests([{ name: 'nvidia.com/gpu=0' }, { name: 'vendor.com/class=all' }], true)).toEqual([{ Driver: 'cdi', DeviceIDs: ['nvidia.com/gpu=0', 'vendor.com/class=all'] }]);
  });

  it('asks nothing without CDI devices, whatever the Engine', () => {
    expect(cdiDeviceRequests([], false)).toEqual([]);
    expect(cdiDeviceRequests(null, true)).toEqual([]);
  });

  it('refuses CDI devices on an Engine without CDI', () => {
    const err = criError(() => cdiDeviceRequests([{ name: 'nvidia.com/gpu=0' }], false));
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.message).toMatch(/nvidia.com\/gpu=0.*CDI enabled/);
  });
});

describe('memorySwap', () => {
  const MiB = 1 << 20;
  it.each<[string, number, number, Record<string, string> | null, number | undefined]>([
    ['no memory limit: nothing to say', 0, 0, null, undefined],
    ['no memory limit, swap field ignored', 0, -1, null, undefined],
    ['no memory limit, unified swap ignored', 0, 0, { 'memory.swap.max': '0' }, undefined],
    ['a memory limit alone: no swap', 64 * MiB, 0, null, 64 * MiB],
    ['the swap field (cgroup v1)', 64 * MiB, 128 * MiB, null, 128 * MiB],
    ['the swap field equal to memory (kubelet NoSwap on v1)', 64 * MiB, 64 * MiB, null, 64 * MiB],
    ['unlimited swap', 64 * MiB, -1, null, -1],
    ['unified swap (cgroup v2) adds to memory', 64 * MiB, 0, { 'memory.swap.max': String(32 * MiB) }, 96 * MiB],
    ['unified swap of 0 (kubelet NoSwap on v2)', 64 * MiB, 0, { 'memory.swap.max': '0' }, 64 * MiB],
    ['unified swap "max"', 64 * MiB, 0, { 'memory.swap.max': 'max' }, -1],
    ['unified wins over the field, as it is written last', 64 * MiB, 128 * MiB, { 'memory.swap.max': '0' }, 64 * MiB],
    ['other unified keys do not matter', 64 * MiB, 0, { 'memory.high': '1000' }, 64 * MiB],
  ])('%s', (_, memory, swap, unified, expected) => {
    expect(memorySwap(memory, swap, unified)).toBe(expected);
  });
});

describe('oomScoreAdj', () => {
  it.each<[number, number | undefined, number]>([
    [-997, undefined, -997],
    [-997, -500, -500],
    [1000, -500, 1000],
    [0, 0, 0],
    [-1000, -1000, -1000],
  ])('%s with floor %s → %s', (requested, floor, expected) => {
    expect(oomScoreAdj(requested, floor)).toBe(expected);
  });
});

describe('resourceOptions', () => {
  it.each<[string, runtime.v1.ILinuxContainerResources | null, number | undefined, object]>([
    ['none', null, undefined, {}],
    ['none, with a floor above 0', null, 200, { OomScoreAdj: 200 }],
    ['none, with a floor below 0', null, -500, {}],
    ['zeros mean unset', { cpuPeriod: 0, cpuQuota: 0, cpuShares: 0, memoryLimitInBytes: 0, cpusetCpus: '', cpusetMems: '' }, undefined, { OomScoreAdj: 0 }],
    [
      'a Guaranteed pod container',
      { cpuPeriod: 100000, cpuQuota: 50000, cpuShares: 512, memoryLimitInBytes: 134217728, oomScoreAdj: -997 },
      undefined,
      { CpuPeriod: 100000, CpuQuota: 50000, CpuShares: 512, Memory: 134217728, MemorySwap: 134217728, OomScoreAdj: -997 },
    ],
    ['a BestEffort container', { cpuShares: 2, oomScoreAdj: 1000, cpuPeriod: 100000 }, undefined, { CpuShares: 2, CpuPeriod: 100000, OomScoreAdj: 1000 }],
    ['cpusets', { cpusetCpus: '0-3,6', cpusetMems: '0' }, undefined, { CpusetCpus: '0-3,6', CpusetMems: '0', OomScoreAdj: 0 }],
    ['unlimited quota', { cpuQuota: -1 }, undefined, { CpuQuota: -1, OomScoreAdj: 0 }],
    ['swap from the field', { memoryLimitInBytes: 1 << 26, memorySwapLimitInBytes: 1 << 27 }, undefined, { Memory: 1 << 26, MemorySwap: 1 << 27, OomScoreAdj: 0 }],
    ['oom_score_adj raised to the floor', { oomScoreAdj: -997 }, -500, { OomScoreAdj: -500 }],
    ['int64 fields as Long', { memoryLimitInBytes: Long.fromString('8589934592'), cpuQuota: Long.fromInt(20000), oomScoreAdj: Long.fromInt(-997) }, undefined, { Memory: 8589934592, MemorySwap: 8589934592, CpuQuota: 20000, OomScoreAdj: -997 }],
    ['hugepages and other unified keys have no Docker field', { hugepageLimits: [{ pageSize: '2MB', limit: 1 << 21 }], unified: { 'memory.high': '1000' } }, undefined, { OomScoreAdj: 0 }],
  ])('%s', (_, r, floor, expected) => {
    expect(resourceOptions(r, floor)).toEqual(expected);
  });
});

describe('capabilityName', () => {
  it.each([
    ['NET_ADMIN', 'CAP_NET_ADMIN'],
    ['net_admin', 'CAP_NET_ADMIN'],
    ['CAP_SYS_TIME', 'CAP_SYS_TIME'],
    ['cap_chown', 'CAP_CHOWN'],
    ['ALL', 'ALL'],
    ['all', 'ALL'],
  ])('%s → %s', (name, expected) => {
    expect(capabilityName(name)).toBe(expected);
  });
});

describe('capabilityOptions', () => {
  it.each<[string, runtime.v1.ICapability | null, boolean, object]>([
    ['nothing asked: Docker defaults', null, true, {}],
    ['empty lists: Docker defaults', { addCapabilities: [], dropCapabilities: [] }, true, {}],
    ['add and drop, names normalised', { addCapabilities: ['NET_ADMIN', 'sys_time'], dropCapabilities: ['MKNOD'] }, true, { CapAdd: ['CAP_NET_ADMIN', 'CAP_SYS_TIME'], CapDrop: ['CAP_MKNOD'] }],
    ['duplicates once', { addCapabilities: ['NET_ADMIN', 'CAP_NET_ADMIN'] }, true, { CapAdd: ['CAP_NET_ADMIN'] }],
    ['a drop beats an add of the same', { addCapabilities: ['NET_ADMIN', 'NET_RAW'], dropCapabilities: ['NET_RAW'] }, true, { CapAdd: ['CAP_NET_ADMIN'], CapDrop: ['CAP_NET_RAW'] }],
    ['drop ALL, add some (the restricted profile)', { dropCapabilities: ['ALL'], addCapabilities: ['NET_BIND_SERVICE'] }, true, { CapAdd: ['CAP_NET_BIND_SERVICE'], CapDrop: ['ALL'] }],
    ['drop ALL alone', { dropCapabilities: ['all'] }, true, { CapDrop: ['ALL'] }],
    ['drop ALL and an add also dropped', { dropCapabilities: ['ALL', 'CHOWN'], addCapabilities: ['CHOWN', 'KILL'] }, true, { CapAdd: ['CAP_KILL'], CapDrop: ['ALL'] }],
    ['add ALL', { addCapabilities: ['ALL'] }, true, { CapAdd: ['ALL'] }],
    ['add ALL minus one', { addCapabilities: ['ALL'], dropCapabilities: ['SYS_ADMIN'] }, true, { CapAdd: ['ALL'], CapDrop: ['CAP_SYS_ADMIN'] }],
    ['add ALL then drop ALL: none but the adds', { addCapabilities: ['ALL', 'KILL'], dropCapabilities: ['ALL'] }, true, { CapAdd: ['CAP_KILL'], CapDrop: ['ALL'] }],
    ['add ALL on a short host: what is held', { addCapabilities: ['ALL'] }, false, { CapAdd: HELD, CapDrop: ['ALL'] }],
    ['add ALL minus one on a short host', { addCapabilities: ['ALL'], dropCapabilities: ['NET_ADMIN'] }, false, { CapAdd: ['CAP_CHOWN', 'CAP_KILL', 'CAP_SYS_ADMIN'], CapDrop: ['ALL'] }],
    ['individual caps on a short host are passed on', { addCapabilities: ['NET_ADMIN'] }, false, { CapAdd: ['CAP_NET_ADMIN'] }],
  ])('%s', (_, cap, complete, expected) => {
    expect(capabilityOptions(cap, complete, HELD)).toEqual(expected);
  });
});

describe('containerUser', () => {
  it.each<[string, runtime.v1.ILinuxContainerSecurityContext | null, string | undefined]>([
    ["nothing: the image's user", null, undefined],
    ['a uid', { runAsUser: { value: 1000 } }, '1000'],
    ['uid 0', { runAsUser: { value: 0 } }, '0'],
    ['a uid and gid', { runAsUser: { value: 1000 }, runAsGroup: { value: 3000 } }, '1000:3000'],
    ['a uid as Long', { runAsUser: { value: Long.fromInt(65534) } }, '65534'],
    ['a username', { runAsUsername: 'nginx' }, 'nginx'],
    ['a username and gid', { runAsUsername: 'nginx', runAsGroup: { value: 101 } }, 'nginx:101'],
  ])('%s', (_, sc, expected) => {
    expect(containerUser(sc)).toBe(expected);
  });
});

describe('securityOptions', () => {
  const opts = (over: Partial<ContainerCreateOptions> = {}): ContainerCreateOptions => options(over);
  const json = '{"defaultAction":"SCMP_ACT_ERRNO"}';
  it.each<[string, runtime.v1.ILinuxContainerSecurityContext | null, Partial<ContainerCreateOptions>, object]>([
    ['no security context: unconfined seccomp, default AppArmor', null, {}, { SecurityOpt: ['seccomp=unconfined'] }],
    ['an empty one, the same', {}, {}, { SecurityOpt: ['seccomp=unconfined'] }],
    ['RuntimeDefault seccomp via the field', { seccomp: { profileType: 0 } }, {}, { SecurityOpt: [] }],
    ['Unconfined seccomp via the field', { seccomp: { profileType: 1 } }, {}, { SecurityOpt: ['seccomp=unconfined'] }],
    ['Localhost seccomp via the field', { seccomp: { profileType: 2, localhostRef: '/var/lib/kubelet/seccomp/a.json' } }, { seccompProfileJson: json }, { SecurityOpt: [`seccomp=${json}`] }],
    ['the field wins over the deprecated path', { seccomp: { profileType: 0 }, seccompProfilePath: 'unconfined' }, {}, { SecurityOpt: [] }],
    ['runtime/default via the deprecated path', { seccompProfilePath: 'runtime/default' }, {}, { SecurityOpt: [] }],
    ['docker/default via the deprecated path', { seccompProfilePath: 'docker/default' }, {}, { SecurityOpt: [] }],
    ['localhost/ via the deprecated path', { seccompProfilePath: 'localhost//etc/seccomp/a.json' }, { seccompProfileJson: json }, { SecurityOpt: [`seccomp=${json}`] }],
    ['AppArmor Unconfined via the field', { seccomp: { profileType: 0 }, apparmor: { profileType: 1 } }, {}, { SecurityOpt: ['apparmor=unconfined'] }],
    ['AppArmor Localhost via the field', { seccomp: { profileType: 0 }, apparmor: { profileType: 2, localhostRef: 'k8s-deny-write' } }, {}, { SecurityOpt: ['apparmor=k8s-deny-write'] }],
    ['AppArmor via the deprecated name', { seccomp: { profileType: 0 }, apparmorProfile: 'localhost/k8s-deny-write' }, {}, { SecurityOpt: ['apparmor=k8s-deny-write'] }],
    ['AppArmor field wins over the deprecated name', { seccomp: { profileType: 0 }, apparmor: { profileType: 0 }, apparmorProfile: 'unconfined' }, {}, { SecurityOpt: [] }],
    [
      'SELinux options',
      { seccomp: { profileType: 0 }, selinuxOptions: { user: 'system_u', role: 'system_r', type: 'container_t', level: 's0:c1,c2' } },
      {},
      { SecurityOpt: ['label=user:system_u', 'label=role:system_r', 'label=type:container_t', 'label=level:s0:c1,c2'] },
    ],
    ['no_new_privs', { seccomp: { profileType: 0 }, noNewPrivs: true }, {}, { SecurityOpt: ['no-new-privileges'] }],
    ['read-only root, user and groups', { seccomp: { profileType: 0 }, readonlyRootfs: true, runAsUser: { value: 1000 }, runAsGroup: { value: 3000 }, supplementalGroups: [4000, Long.fromInt(5000)] }, {}, { SecurityOpt: [], ReadonlyRootfs: true, User: '1000:3000', GroupAdd: ['4000', '5000'] }],
    ['masked and read-only paths', { seccomp: { profileType: 0 }, maskedPaths: ['/proc/kcore'], readonlyPaths: ['/proc/sys'] }, {}, { SecurityOpt: [], MaskedPaths: ['/proc/kcore'], ReadonlyPaths: ['/proc/sys'] }],
    ["empty masked paths keep Docker's", { seccomp: { profileType: 0 }, maskedPaths: [], readonlyPaths: [] }, {}, { SecurityOpt: [] }],
    ['capabilities', { seccomp: { profileType: 0 }, capabilities: { dropCapabilities: ['ALL'], addCapabilities: ['NET_BIND_SERVICE'] } }, {}, { SecurityOpt: [], CapAdd: ['CAP_NET_BIND_SERVICE'], CapDrop: ['ALL'] }],
    [
      'privileged: Docker privileged, capabilities and masks ignored',
      { privileged: true, capabilities: { dropCapabilities: ['ALL'] }, maskedPaths: ['/proc/kcore'], seccomp: { profileType: 0 } },
      {},
      { Privileged: true, SecurityOpt: [] },
    ],
    [
      'privileged on a short host: exactly the held capabilities, unconfined',
      { privileged: true, capabilities: { addCapabilities: ['SYS_TIME'] }, seccomp: { profileType: 0 }, apparmorProfile: 'localhost/x' },
      { hostCapsComplete: false },
      { CapAdd: HELD, CapDrop: ['ALL'], MaskedPaths: [], ReadonlyPaths: [], DeviceCgroupRules: ['a *:* rwm'], SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined', 'label=disable'] },
    ],
  ])('%s', (_, sc, over, expected) => {
    expect(securityOptions(sc, opts(over))).toEqual(expected);
  });

  it('rejects a group without a user, as containerd does', () => {
    for (const imageUser of ['www', '', undefined]) {
      const err = criError(() => securityOptions({ runAsGroup: { value: 5 }, seccomp: { profileType: 0 } }, opts({ image: { id: IMAGE_ID, user: imageUser } })));
      expect(err.code).toBe(Code.INVALID_ARGUMENT);
      expect(err.message).toContain('run_as_group');
    }
  });

  it('fails when the caller did not read a Localhost profile', () => {
    const err = criError(() => securityOptions({ seccomp: { profileType: 2, localhostRef: '/a.json' } }, opts()));
    expect(err.code).toBe(Code.INTERNAL);
    expect(err.message).toMatch(/seccomp profile \/a.json was not read/);
  });
});

describe('pidMode', () => {
  it.each<[number | null | undefined, string | undefined]>([
    [POD, `container:${SANDBOX_ID}`],
    [undefined, `container:${SANDBOX_ID}`],
    [CONTAINER, undefined],
    [NODE, 'host'],
    [TARGET, `container:${TARGET_ID}`],
  ])('%s → %s', (mode, expected) => {
    expect(pidMode(mode, SANDBOX_ID, TARGET_ID)).toBe(expected);
  });
});

describe('namespaceModes', () => {
  const join = `container:${SANDBOX_ID}`;
  it.each<[string, runtime.v1.INamespaceOption | null, Partial<SandboxFacts>, string | undefined, object]>([
    ['an ordinary pod (kubelet sends pid CONTAINER)', { pid: CONTAINER }, {}, undefined, { NetworkMode: join, IpcMode: join }],
    ['no options: CRI default POD sharing', null, {}, undefined, { NetworkMode: join, IpcMode: join, PidMode: join }],
    ['shareProcessNamespace', { pid: POD }, {}, undefined, { NetworkMode: join, IpcMode: join, PidMode: join }],
    ['hostPID', { pid: NODE }, {}, undefined, { NetworkMode: join, IpcMode: join, PidMode: 'host' }],
    ['hostNetwork: host UTS, network still through the sandbox', { network: NODE, pid: CONTAINER }, { hostNetwork: true }, undefined, { NetworkMode: join, IpcMode: join, UTSMode: 'host' }],
    ['hostIPC', { ipc: NODE, pid: CONTAINER }, { hostIpc: true }, undefined, { NetworkMode: join, IpcMode: 'host' }],
    ['all host', { network: NODE, ipc: NODE, pid: NODE }, { hostNetwork: true, hostIpc: true }, undefined, { NetworkMode: join, IpcMode: 'host', UTSMode: 'host', PidMode: 'host' }],
    ['an ephemeral container targeting another (resolved ID)', { pid: TARGET, targetId: 'bbbb' }, {}, TARGET_ID, { NetworkMode: join, IpcMode: join, PidMode: `container:${TARGET_ID}` }],
    ['a target as given when not resolved', { pid: TARGET, targetId: TARGET_ID }, {}, undefined, { NetworkMode: join, IpcMode: join, PidMode: `container:${TARGET_ID}` }],
  ])('%s', (_, ns, over, target, expected) => {
    expect(namespaceModes(ns, sandbox(over), target)).toEqual(expected);
  });
});

describe('stopSignalName', () => {
  it.each<[runtime.v1.Signal | null | undefined, string | undefined]>([
    [undefined, undefined],
    [null, undefined],
    [runtime.v1.Signal.RUNTIME_DEFAULT, undefined],
    [runtime.v1.Signal.SIGTERM, 'SIGTERM'],
    [runtime.v1.Signal.SIGQUIT, 'SIGQUIT'],
    [runtime.v1.Signal.SIGUSR1, 'SIGUSR1'],
    [runtime.v1.Signal.SIGRTMIN, 'SIGRTMIN'],
    [runtime.v1.Signal.SIGRTMINPLUS1, 'SIGRTMIN+1'],
    [runtime.v1.Signal.SIGRTMINPLUS15, 'SIGRTMIN+15'],
    [runtime.v1.Signal.SIGRTMAXMINUS14, 'SIGRTMAX-14'],
    [runtime.v1.Signal.SIGRTMAX, 'SIGRTMAX'],
  ])('%s → %s', (signal, expected) => {
    expect(stopSignalName(signal)).toBe(expected);
  });
});

describe('dockerLogConfig', () => {
  it('is a bounded json-file log by default', () => {
    expect(dockerLogConfig(undefined)).toEqual({ Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3', compress: 'false' } });
  });

  it('takes the options it is given instead', () => {
    expect(dockerLogConfig({ 'max-size': '50m' })).toEqual({ Type: 'json-file', Config: { 'max-size': '50m' } });
  });
});

/** A container config as kubelet sends it for an ordinary pod. */
function kubeletConfig(): runtime.v1.IContainerConfig {
  return {
    metadata: { name: 'nginx', attempt: 2 },
    image: { image: 'sha256:cccc', userSpecifiedImage: 'nginx:1.27' },
    command: ['/bin/sh', '-c'],
    args: ['exec nginx -g "daemon off;"'],
    workingDir: '/usr/share/nginx',
    envs: [
      { key: 'KUBERNETES_SERVICE_HOST', value: enc('10.96.0.1') },
      { key: 'MODE', value: enc('prod') },
    ],
    mounts: [
      { containerPath: '/var/run/secrets/kubernetes.io/serviceaccount', hostPath: '/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~projected/kube-api-access-x', readonly: true, selinuxRelabel: true },
      { containerPath: '/etc/hosts', hostPath: '/var/lib/kubelet/pods/uid-1/etc-hosts', selinuxRelabel: true },
      { containerPath: '/dev/termination-log', hostPath: '/var/lib/kubelet/pods/uid-1/containers/nginx/0a1b2c3d', selinuxRelabel: true },
      { containerPath: '/host/proc', hostPath: '/proc', readonly: true, propagation: HOST_TO_CONTAINER },
    ],
    devices: [{ hostPath: '/dev/fuse', containerPath: '/dev/fuse', permissions: 'mrw' }],
    labels: { 'io.kubernetes.container.name': 'nginx', 'io.kubernetes.pod.name': 'web', 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': 'uid-1' },
    annotations: { 'io.kubernetes.container.hash': 'abc123', 'io.kubernetes.container.restartCount': '2', 'io.kubernetes.container.terminationMessagePath': '/dev/termination-log' },
    logPath: 'nginx/2.log',
    stdin: false,
    tty: false,
    linux: {
      resources: { cpuPeriod: 100000, cpuQuota: 20000, cpuShares: 204, memoryLimitInBytes: 268435456, oomScoreAdj: 968, cpusetCpus: '', cpusetMems: '', hugepageLimits: [{ pageSize: '2MB', limit: 0 }], unified: {} },
      securityContext: {
        namespaceOptions: { network: POD, pid: CONTAINER, ipc: POD },
        runAsUser: { value: 101 },
        capabilities: { dropCapabilities: ['ALL'], addCapabilities: ['NET_BIND_SERVICE'] },
        noNewPrivs: true,
        maskedPaths: ['/proc/asound', '/proc/acpi', '/proc/kcore'],
        readonlyPaths: ['/proc/bus', '/proc/fs'],
        seccomp: { profileType: 0 },
        apparmor: { profileType: 0 },
      },
    },
    stopSignal: runtime.v1.Signal.SIGQUIT,
  };
}

describe('containerCreateBody', () => {
  it('translates an ordinary kubelet config completely', () => {
    const config = kubeletConfig();
    validateContainerConfig(config, sandbox().logDirectory);
    expect(containerCreateBody(config, sandbox(), options())).toEqual({
      name: 'k8s_nginx_web_default_uid-1_2',
      Image: IMAGE_ID,
      Labels: {
        'io.kubernetes.container.name': 'nginx',
        'io.kubernetes.pod.name': 'web',
        'io.kubernetes.pod.namespace': 'default',
        'io.kubernetes.pod.uid': 'uid-1',
        'annotation.io.kubernetes.container.hash': 'abc123',
        'annotation.io.kubernetes.container.restartCount': '2',
        'annotation.io.kubernetes.container.terminationMessagePath': '/dev/termination-log',
        'io.kubernetes.docker.type': 'container',
        'io.kubernetes.sandbox.id': SANDBOX_ID,
        'io.kubernetes.container.logpath': '/var/log/pods/default_web_uid-1/nginx/2.log',
      },
      Entrypoint: ['/bin/sh', '-c'],
      Cmd: ['exec nginx -g "daemon off;"'],
      Env: ['KUBERNETES_SERVICE_HOST=10.96.0.1', 'MODE=prod'],
      WorkingDir: '/usr/share/nginx',
      User: '101',
      StopSignal: 'SIGQUIT',
      Healthcheck: { Test: ['NONE'] },
      HostConfig: {
        NetworkMode: `container:${SANDBOX_ID}`,
        IpcMode: `container:${SANDBOX_ID}`,
        CpuPeriod: 100000,
        CpuQuota: 20000,
        CpuShares: 204,
        Memory: 268435456,
        MemorySwap: 268435456,
        OomScoreAdj: 968,
        CapAdd: ['CAP_NET_BIND_SERVICE'],
        CapDrop: ['ALL'],
        MaskedPaths: ['/proc/asound', '/proc/acpi', '/proc/kcore'],
        ReadonlyPaths: ['/proc/bus', '/proc/fs'],
        SecurityOpt: ['no-new-privileges'],
        CgroupParent: '/kubepods/burstable/poduid-1',
        Binds: [
          '/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~projected/kube-api-access-x:/var/run/secrets/kubernetes.io/serviceaccount:ro,Z',
          '/var/lib/kubelet/pods/uid-1/etc-hosts:/etc/hosts:Z',
          '/var/lib/kubelet/pods/uid-1/containers/nginx/0a1b2c3d:/dev/termination-log:Z',
          '/proc:/host/proc:ro,rslave',
        ],
        Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'mrw' }],
        RestartPolicy: { Name: 'no' },
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3', compress: 'false' } },
      },
    });
  });

  it('translates a minimal config to little more than the joins', () => {
    expect(containerCreateBody(minimal(), sandbox({ cgroupParent: '' }), options())).toEqual({
      name: 'k8s_app_web_default_uid-1_0',
      Image: IMAGE_ID,
      Labels: { 'io.kubernetes.docker.type': 'container', 'io.kubernetes.sandbox.id': SANDBOX_ID },
      Healthcheck: { Test: ['NONE'] },
      HostConfig: {
        NetworkMode: `container:${SANDBOX_ID}`,
        IpcMode: `container:${SANDBOX_ID}`,
        PidMode: `container:${SANDBOX_ID}`,
        SecurityOpt: ['seccomp=unconfined'],
        RestartPolicy: { Name: 'no' },
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3', compress: 'false' } },
      },
    });
  });

  it.each<[string, runtime.v1.IContainerConfig, Partial<SandboxFacts>, Partial<ContainerCreateOptions>, (b: ReturnType<typeof containerCreateBody>) => unknown, unknown]>([
    ['tty and stdin', minimal({ tty: true, stdin: true, stdinOnce: true }), {}, {}, (b) => [b.Tty, b.OpenStdin, b.StdinOnce], [true, true, true]],
    ['no tty, no stdin: fields left out', minimal({ tty: false, stdin: false }), {}, {}, (b) => ['Tty' in b, 'OpenStdin' in b, 'StdinOnce' in b], [false, false, false]],
    ['no log path: no label', minimal({ logPath: '' }), {}, {}, (b) => b.Labels?.['io.kubernetes.container.logpath'], undefined],
    ['kubelet labels cannot override the shim labels', minimal({ labels: { 'io.kubernetes.sandbox.id': 'forged', 'io.kubernetes.docker.type': 'podsandbox' } }), {}, {}, (b) => [b.Labels?.['io.kubernetes.sandbox.id'], b.Labels?.['io.kubernetes.docker.type']], [SANDBOX_ID, 'container']],
    ['systemd cgroup driver: the slice name', minimal(), { cgroupParent: '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poduid_1.slice' }, { cgroupDriver: 'systemd' }, (b) => b.HostConfig?.CgroupParent, 'kubepods-burstable-poduid_1.slice'],
    ["the sandbox's runtime", minimal(), { runtime: 'runsc' }, {}, (b) => b.HostConfig?.Runtime, 'runsc'],
    ['no runtime for the default', minimal(), {}, {}, (b) => 'Runtime' in (b.HostConfig ?? {}), false],
    ['attempt in the name', minimal({ metadata: { name: 'app', attempt: 7 } }), {}, {}, (b) => b.name, 'k8s_app_web_default_uid-1_7'],
    ['image by ID, whatever the config names', minimal({ image: { image: 'nginx:latest' } }), {}, {}, (b) => b.Image, IMAGE_ID],
    ['oom floor', minimal({ linux: { resources: { oomScoreAdj: -997 } } }), {}, { oomScoreAdjFloor: -900 }, (b) => b.HostConfig?.OomScoreAdj, -900],
    ['CDI devices on a CDI Engine', minimal({ CDIDevices: [{ name: 'nvidia.com/gpu=all' }] }), {}, { cdiSupported: true }, (b) => b.HostConfig?.DeviceRequests, [{ Driver: 'cdi', DeviceIDs: ['nvidia.com/gpu=all'] }]],
    ['read-only mounts on Engine 25', minimal({ mounts: [{ containerPath: '/cfg', hostPath: '/etc/app', readonly: true }] }), {}, { apiVersion: '1.44' }, (b) => [b.HostConfig?.Binds, b.HostConfig?.Mounts], [undefined, [{ Type: 'bind', Source: '/etc/app', Target: '/cfg', ReadOnly: true, BindOptions: { CreateMountpoint: true, ReadOnlyNonRecursive: true } }]]],
    ['docker log options from the caller', minimal(), {}, { dockerLogOptions: { 'max-size': '1m', 'max-file': '1' } }, (b) => b.HostConfig?.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '1' } }],
    ['args only: image entrypoint kept', minimal({ args: ['--debug'] }), {}, {}, (b) => ['Entrypoint' in b, b.Cmd], [false, ['--debug']]],
    ['a Localhost seccomp profile', withSc({ seccomp: { profileType: 2, localhostRef: '/p.json' } }), {}, { seccompProfileJson: '{}' }, (b) => b.HostConfig?.SecurityOpt, ['seccomp={}']],
    ['ephemeral container in a target', withSc({ namespaceOptions: { pid: TARGET, targetId: 'bbb' } }), {}, { targetDockerId: TARGET_ID }, (b) => b.HostConfig?.PidMode, `container:${TARGET_ID}`],
    ['host network pod', withSc({ namespaceOptions: { network: NODE, pid: CONTAINER } }), { hostNetwork: true }, {}, (b) => [b.HostConfig?.NetworkMode, b.HostConfig?.UTSMode, 'Hostname' in b], [`container:${SANDBOX_ID}`, 'host', false]],
  ])('%s', (_, config, sandboxOver, optsOver, pick, expected) => {
    expect(pick(containerCreateBody(config, sandbox(sandboxOver), options(optsOver)))).toEqual(expected);
  });

  it.each<[string, runtime.v1.IContainerConfig, Partial<ContainerCreateOptions>, Code, RegExp]>([
    ['CDI devices on an Engine without CDI', minimal({ CDIDevices: [{ name: 'nvidia.com/gpu=all' }] }), {}, Code.FAILED_PRECONDITION, /CDI enabled/],
    ['recursive read-only on Engine 20.10', minimal({ mounts: [{ containerPath: '/cfg', hostPath: '/etc/app', readonly: true, recursiveReadOnly: true }] }), {}, Code.FAILED_PRECONDITION, /API 1.44/],
    ['recursive read-only with a runtime lacking rro', minimal({ mounts: [{ containerPath: '/cfg', hostPath: '/etc/app', readonly: true, recursiveReadOnly: true }] }), { apiVersion: '1.44', recursiveReadOnlyGap: 'they need Linux 5.12 or newer' }, Code.FAILED_PRECONDITION, /Linux 5.12/],
    ['nothing to run', minimal(), { image: { id: IMAGE_ID } }, Code.INVALID_ARGUMENT, /nothing to run/],
  ])('fails for %s', (_, config, optsOver, code, message) => {
    const err = criError(() => containerCreateBody(config, sandbox(), options(optsOver)));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });
});
