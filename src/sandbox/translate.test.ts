import Long from 'long';
import { describe, expect, it } from 'vitest';
import type { ContainerCreateBody, ContainerInspect } from '../docker/client.js';
import { Code, CriError } from '../errors.js';
import { runtime } from '../gen/api.js';
import { CAPABILITIES } from '../security/capabilities.js';
import {
  type PortSpec,
  type SandboxCreateOptions,
  NamespaceMode,
  SandboxState,
  cgroupParent,
  createdAtNs,
  isHostNetwork,
  matchesFilter,
  namespaceOptions,
  networkStatus,
  podIdentity,
  portSpecs,
  resolvConf,
  runtimeHandler,
  sandboxCreateBody,
  sandboxMetadata,
  sandboxState,
  toPodSandbox,
  validateSandboxConfig,
} from './translate.js';

const UID = '3f9a2c1e-7b4d-4e8a-9c6f-1d2e3f4a5b6c';
const SANDBOX_ID = '8d3b0e4a5f6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e';
const PAUSE = 'registry.k8s.io/pause:3.10';
const TCP = 0;
const UDP = 1;
const SCTP = 2;
const PROFILE = { RuntimeDefault: 0, Unconfined: 1, Localhost: 2 } as const;
const SECCOMP_JSON = '{"defaultAction":"SCMP_ACT_LOG"}';
const SLICE = `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replace(/-/g, '_')}.slice`;

type Props = runtime.v1.PodSandboxConfig.$Properties;
type SecurityContext = runtime.v1.LinuxSandboxSecurityContext.$Properties;

/** A sandbox config as kubelet sends it for an ordinary pod. */
function podProps(): Props {
  return {
    metadata: { name: 'web-0', namespace: 'shop', uid: UID, attempt: 1 },
    hostname: 'web-0',
    logDirectory: `/var/log/pods/shop_web-0_${UID}`,
    dnsConfig: { servers: ['10.96.0.10'], searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], options: ['ndots:5'] },
    portMappings: [{ protocol: TCP, containerPort: 8080, hostPort: 0 }],
    labels: { app: 'web', 'io.kubernetes.pod.name': 'web-0', 'io.kubernetes.pod.namespace': 'shop', 'io.kubernetes.pod.uid': UID },
    annotations: { 'kubernetes.io/config.source': 'api', 'kubernetes.io/config.seen': '2024-05-01T10:00:00.000000000Z' },
    linux: {
      cgroupParent: SLICE,
      securityContext: {
        namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD },
        seccomp: { profileType: PROFILE.RuntimeDefault },
      },
    },
  };
}

/** The pod config with `patch` over it; `sc` replaces the security context's fields it names. */
function pod(patch: Partial<Props> = {}, sc: Partial<SecurityContext> = {}): runtime.v1.PodSandboxConfig {
  const base = podProps();
  const linux = { ...base.linux, securityContext: { ...base.linux?.securityContext, ...sc } };
  return runtime.v1.PodSandboxConfig.create({ ...base, linux, ...patch });
}

const options = (o: Partial<SandboxCreateOptions> = {}): SandboxCreateOptions => ({
  image: PAUSE,
  networkMode: 'cni',
  cgroupDriver: 'systemd',
  oomScoreAdj: -998,
  hostCapsComplete: true,
  heldCapabilities: [...CAPABILITIES],
  ...o,
});

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

describe('validateSandboxConfig', () => {
  const meta = (m: runtime.v1.IPodSandboxMetadata): runtime.v1.PodSandboxConfig => pod({ metadata: { ...podProps().metadata, ...m } });

  it.each<[string, runtime.v1.IPodSandboxConfig | null | undefined, string]>([
    ['no config', undefined, 'config is required'],
    ['a null config', null, 'config is required'],
    ['no metadata', pod({ metadata: null }), 'config.metadata is required'],
    ['no name', meta({ name: '' }), 'config.metadata.name is required'],
    ['no namespace', meta({ namespace: undefined }), 'config.metadata.namespace is required'],
    ['no uid', meta({ uid: '' }), 'config.metadata.uid is required'],
    ['an underscore in the name, which would break the Docker name', meta({ name: 'web_0' }), 'config.metadata.name "web_0"'],
    ['an underscore in the namespace', meta({ namespace: 'my_ns' }), 'config.metadata.namespace "my_ns"'],
    ['an underscore in the uid', meta({ uid: 'a_b' }), 'config.metadata.uid "a_b"'],
    ['a slash in the name', meta({ name: 'web/0' }), 'config.metadata.name'],
    ['a space in the name', meta({ name: 'web 0' }), 'config.metadata.name'],
    ['a name starting with a dash', meta({ name: '-web' }), 'config.metadata.name'],
    ['a name starting with a dot', meta({ name: '.web' }), 'config.metadata.name'],
    ['a name of 254 characters', meta({ name: 'a'.repeat(254) }), 'at most 253 characters'],
    ['a namespace of 254 characters', meta({ namespace: 'n'.repeat(254) }), 'config.metadata.namespace'],
    ['an unknown port protocol', pod({ portMappings: [{ protocol: 3 as runtime.v1.Protocol, containerPort: 80 }] }), 'port mapping 0: unknown protocol 3'],
    ['a container port of 0', pod({ portMappings: [{ protocol: TCP, containerPort: 80 }, { protocol: TCP, containerPort: 0 }] }), 'port mapping 1: container port 0'],
    ['a missing container port', pod({ portMappings: [{ protocol: TCP, hostPort: 80 }] }), 'container port 0 is not in 1-65535'],
    ['a container port of 65536', pod({ portMappings: [{ containerPort: 65536 }] }), 'container port 65536'],
    ['a negative host port', pod({ portMappings: [{ containerPort: 80, hostPort: -1 }] }), 'host port -1 is not in 0-65535'],
    ['a host port of 65536', pod({ portMappings: [{ containerPort: 80, hostPort: 65536 }] }), 'host port 65536'],
    ['a host IP that is a name', pod({ portMappings: [{ containerPort: 80, hostPort: 80, hostIp: 'localhost' }] }), 'host IP "localhost" is not an IP address'],
    ['a host IP with a prefix', pod({ portMappings: [{ containerPort: 80, hostPort: 80, hostIp: '10.0.0.0/8' }] }), 'host IP'],
    ['an empty label key', pod({ labels: { '': 'x' } }), 'keys must not be empty'],
    ['an empty annotation key', pod({ annotations: { '': 'x' } }), 'keys must not be empty'],
    ['labels and annotations over 256 KiB', pod({ labels: { big: 'x'.repeat(200 * 1024) }, annotations: { big: 'y'.repeat(100 * 1024) } }), 'exceed 262144 bytes'],
    ['a hostname of 254 characters', pod({ hostname: 'h'.repeat(254) }), 'hostname longer than 253'],
    ['a line break in a DNS server', pod({ dnsConfig: { servers: ['10.96.0.10\nnameserver 1.1.1.1'] } }), 'line breaks'],
    ['a line break in a search domain', pod({ dnsConfig: { searches: ['cluster.local\noptions debug'] } }), 'line breaks'],
    ['a carriage return in an option', pod({ dnsConfig: { options: ['ndots:5\r'] } }), 'line breaks'],
    ['a DNS server that is a name', pod({ dnsConfig: { servers: ['kube-dns.kube-system'] } }), 'DNS server "kube-dns.kube-system" is not an IP address'],
  ])('rejects %s', (_name, config, message) => {
    expect(invalid(() => validateSandboxConfig(config)).message).toContain(message);
  });

  it.each<[string, runtime.v1.IPodSandboxConfig]>([
    ['an ordinary pod', pod()],
    ['the least kubelet sends', { metadata: { name: 'p', namespace: 'default', uid: UID } }],
    ['one-character names, which Kubernetes allows', meta({ name: 'a', namespace: 'b', uid: 'c' })],
    ['a DNS-subdomain pod name', meta({ name: 'web.example.com' })],
    ['names of 253 characters', meta({ name: 'a'.repeat(253), namespace: 'n'.repeat(253) })],
    ['udp and sctp ports and host IPs of both families', pod({ portMappings: [{ protocol: UDP, containerPort: 53, hostPort: 53, hostIp: '127.0.0.1' }, { protocol: SCTP, containerPort: 65535, hostPort: 65535, hostIp: '::1' }] })],
    ['IPv6 DNS servers', pod({ dnsConfig: { servers: ['fd00:10:96::a', '10.96.0.10'] } })],
    ['empty label values', pod({ labels: { flag: '' } })],
    ['a hostname of 253 characters', pod({ hostname: 'h'.repeat(253) })],
  ])('accepts %s', (_name, config) => {
    expect(() => validateSandboxConfig(config)).not.toThrow();
  });

  it('cuts an absurdly long name in its message', () => {
    expect(invalid(() => validateSandboxConfig(meta({ name: `${'x'.repeat(100_000)}_` }))).message.length).toBeLessThan(300);
  });
});

describe('podIdentity', () => {
  it.each<[runtime.v1.IPodSandboxConfig, ReturnType<typeof podIdentity>]>([
    [pod(), { name: 'web-0', namespace: 'shop', uid: UID, attempt: 1 }],
    [{ metadata: { name: 'p', namespace: 'default', uid: UID } }, { name: 'p', namespace: 'default', uid: UID, attempt: 0 }],
    [{}, { name: '', namespace: '', uid: '', attempt: 0 }],
  ])('%#', (config, want) => {
    expect(podIdentity(config)).toEqual(want);
  });
});

describe('portSpecs', () => {
  it.each<[string, runtime.v1.IPortMapping[] | null | undefined, PortSpec[]]>([
    ['none', undefined, []],
    ['null', null, []],
    ['a container port alone: tcp, no host port, any address', [{ containerPort: 80 }], [{ protocol: 'tcp', containerPort: 80, hostPort: 0, hostIp: '' }]],
    [
      'each protocol, with host ports and addresses',
      [
        { protocol: TCP, containerPort: 8080, hostPort: 80, hostIp: '0.0.0.0' },
        { protocol: UDP, containerPort: 53, hostPort: 5353, hostIp: '::' },
        { protocol: SCTP, containerPort: 9, hostPort: 0, hostIp: '' },
      ],
      [
        { protocol: 'tcp', containerPort: 8080, hostPort: 80, hostIp: '0.0.0.0' },
        { protocol: 'udp', containerPort: 53, hostPort: 5353, hostIp: '::' },
        { protocol: 'sctp', containerPort: 9, hostPort: 0, hostIp: '' },
      ],
    ],
    ['the port bounds', [{ containerPort: 1, hostPort: 65535 }], [{ protocol: 'tcp', containerPort: 1, hostPort: 65535, hostIp: '' }]],
  ])('%s', (_name, mappings, want) => {
    expect(portSpecs(mappings)).toEqual(want);
  });
});

describe('cgroupParent', () => {
  it.each<[string, 'systemd' | 'cgroupfs', string]>([
    ['', 'systemd', ''],
    ['', 'cgroupfs', ''],
    [SLICE, 'systemd', `kubepods-besteffort-pod${UID.replace(/-/g, '_')}.slice`],
    ['/kubepods.slice/kubepods-podabc.slice', 'systemd', 'kubepods-podabc.slice'],
    ['kubepods.slice', 'systemd', 'kubepods.slice'],
    [`/kubepods/burstable/pod${UID}`, 'cgroupfs', `/kubepods/burstable/pod${UID}`],
    ['/kubepods/podabc', 'cgroupfs', '/kubepods/podabc'],
  ])('%j with %s → %j', (parent, driver, want) => {
    expect(cgroupParent(parent, driver)).toBe(want);
  });
});

describe('isHostNetwork', () => {
  it.each<[string, runtime.v1.IPodSandboxConfig, boolean]>([
    ['pod network', pod(), false],
    ['host network', pod({}, { namespaceOptions: { network: NamespaceMode.NODE } }), true],
    ['no linux section', pod({ linux: null }), false],
    ['no namespace options', pod({}, { namespaceOptions: null }), false],
  ])('%s', (_name, config, want) => {
    expect(isHostNetwork(config)).toBe(want);
  });
});

describe('sandboxCreateBody', () => {
  const LABELS = {
    app: 'web',
    'io.kubernetes.pod.name': 'web-0',
    'io.kubernetes.pod.namespace': 'shop',
    'io.kubernetes.pod.uid': UID,
    'annotation.kubernetes.io/config.source': 'api',
    'annotation.kubernetes.io/config.seen': '2024-05-01T10:00:00.000000000Z',
    'io.kubernetes.docker.type': 'podsandbox',
    'io.kubernetes.container.name': 'POD',
  };

  it('makes the whole body of an ordinary pod on a CNI node', () => {
    expect(sandboxCreateBody(pod(), options())).toEqual({
      name: `k8s_POD_web-0_shop_${UID}_1`,
      Image: PAUSE,
      Labels: LABELS,
      Hostname: 'web-0',
      ExposedPorts: { '8080/tcp': {} },
      HostConfig: {
        IpcMode: 'shareable',
        NetworkMode: 'none',
        OomScoreAdj: -998,
        CpuShares: 2,
        CgroupParent: `kubepods-besteffort-pod${UID.replace(/-/g, '_')}.slice`,
        SecurityOpt: ['no-new-privileges'],
      },
    } satisfies ContainerCreateBody);
  });

  it.each<[string, SandboxCreateOptions['networkMode'], ContainerCreateBody]>([
    [
      'cni',
      'cni',
      {
        name: `k8s_POD_p_default_${UID}_0`,
        Image: PAUSE,
        Labels: { 'io.kubernetes.docker.type': 'podsandbox', 'io.kubernetes.container.name': 'POD' },
        HostConfig: { IpcMode: 'shareable', NetworkMode: 'none', OomScoreAdj: -998, CpuShares: 2, SecurityOpt: ['no-new-privileges'] },
      },
    ],
    [
      'bridge',
      'bridge',
      {
        name: `k8s_POD_p_default_${UID}_0`,
        Image: PAUSE,
        Labels: { 'io.kubernetes.docker.type': 'podsandbox', 'io.kubernetes.container.name': 'POD' },
        HostConfig: { IpcMode: 'shareable', NetworkMode: 'default', OomScoreAdj: -998, CpuShares: 2, SecurityOpt: ['no-new-privileges'] },
      },
    ],
  ])('makes the whole body of a config without a linux section in %s mode', (_name, networkMode, want) => {
    const config = runtime.v1.PodSandboxConfig.create({ metadata: { name: 'p', namespace: 'default', uid: UID } });
    expect(sandboxCreateBody(config, options({ networkMode }))).toEqual(want);
  });

  it('does not let kubelet labels override the shim\'s own', () => {
    const body = sandboxCreateBody(pod({ labels: { 'io.kubernetes.docker.type': 'container', 'io.kubernetes.container.name': 'app' } }), options());
    expect(body.Labels).toMatchObject({ 'io.kubernetes.docker.type': 'podsandbox', 'io.kubernetes.container.name': 'POD' });
  });

  // Each row: a config and options, the body fields it must have, and the fields it must not.
  it.each<[string, runtime.v1.PodSandboxConfig, Partial<SandboxCreateOptions>, Record<string, unknown>, string[]]>([
    // namespaces and network
    ['host IPC', pod({}, { namespaceOptions: { ipc: NamespaceMode.NODE } }), {}, { HostConfig: { IpcMode: 'host' } }, ['HostConfig.PidMode']],
    ['host PID', pod({}, { namespaceOptions: { pid: NamespaceMode.NODE } }), {}, { HostConfig: { PidMode: 'host', IpcMode: 'shareable' } }, []],
    ['pod PID shares nothing with the host', pod({}, { namespaceOptions: { pid: NamespaceMode.POD } }), {}, { HostConfig: { IpcMode: 'shareable' } }, ['HostConfig.PidMode']],
    ['host network on a CNI node', pod({}, { namespaceOptions: { network: NamespaceMode.NODE } }), {}, { HostConfig: { NetworkMode: 'host' } }, ['Hostname']],
    ['host network on a bridge node', pod({}, { namespaceOptions: { network: NamespaceMode.NODE } }), { networkMode: 'bridge' }, { HostConfig: { NetworkMode: 'host' } }, ['Hostname']],
    ['pod network on a CNI node: none, CNI sets it up', pod(), { networkMode: 'cni' }, { HostConfig: { NetworkMode: 'none' }, Hostname: 'web-0' }, []],
    ['pod network on a bridge node', pod(), { networkMode: 'bridge' }, { HostConfig: { NetworkMode: 'default' }, Hostname: 'web-0' }, []],
    ['no linux section on a CNI node', pod({ linux: null }), { networkMode: 'cni' }, { HostConfig: { NetworkMode: 'none', IpcMode: 'shareable', SecurityOpt: ['no-new-privileges'] } }, ['HostConfig.PidMode', 'HostConfig.CgroupParent', 'User']],
    ['no hostname', pod({ hostname: '' }), {}, {}, ['Hostname']],
    // ports
    [
      'bridge: host ports published, port-only mappings only exposed',
      pod({ portMappings: [{ protocol: TCP, containerPort: 8080, hostPort: 80 }, { protocol: UDP, containerPort: 53, hostPort: 5353, hostIp: '127.0.0.1' }, { protocol: TCP, containerPort: 9090 }] }),
      { networkMode: 'bridge' },
      { ExposedPorts: { '8080/tcp': {}, '53/udp': {}, '9090/tcp': {} }, HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '', HostPort: '80' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }] } } },
      [],
    ],
    [
      'bridge: one container port on two host addresses',
      pod({ portMappings: [{ containerPort: 80, hostPort: 8080, hostIp: '0.0.0.0' }, { containerPort: 80, hostPort: 8080, hostIp: '::' }] }),
      { networkMode: 'bridge' },
      { ExposedPorts: { '80/tcp': {} }, HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }] } } },
      [],
    ],
    ['bridge: no host port, no bindings', pod({ portMappings: [{ containerPort: 80, hostPort: 0 }] }), { networkMode: 'bridge' }, { ExposedPorts: { '80/tcp': {} } }, ['HostConfig.PortBindings']],
    ['cni: the portmap plugin publishes, not Docker', pod({ portMappings: [{ containerPort: 80, hostPort: 8080 }] }), { networkMode: 'cni' }, { ExposedPorts: { '80/tcp': {} } }, ['HostConfig.PortBindings']],
    [
      'bridge with host network: nothing to publish',
      pod({ portMappings: [{ containerPort: 80, hostPort: 80 }] }, { namespaceOptions: { network: NamespaceMode.NODE } }),
      { networkMode: 'bridge' },
      { HostConfig: { NetworkMode: 'host' } },
      ['HostConfig.PortBindings'],
    ],
    ['no port mappings', pod({ portMappings: [] }), { networkMode: 'bridge' }, {}, ['ExposedPorts', 'HostConfig.PortBindings']],
    ['an sctp port', pod({ portMappings: [{ protocol: SCTP, containerPort: 3868, hostPort: 3868 }] }), { networkMode: 'bridge' }, { ExposedPorts: { '3868/sctp': {} }, HostConfig: { PortBindings: { '3868/sctp': [{ HostIp: '', HostPort: '3868' }] } } }, []],
    // resources, cgroups, runtime
    ['the OOM score from the options', pod(), { oomScoreAdj: -999 }, { HostConfig: { OomScoreAdj: -999, CpuShares: 2 } }, []],
    ['systemd: the slice name only', pod(), { cgroupDriver: 'systemd' }, { HostConfig: { CgroupParent: `kubepods-besteffort-pod${UID.replace(/-/g, '_')}.slice` } }, []],
    [
      'cgroupfs: the whole path',
      pod({ linux: { cgroupParent: `/kubepods/besteffort/pod${UID}` } }),
      { cgroupDriver: 'cgroupfs' },
      { HostConfig: { CgroupParent: `/kubepods/besteffort/pod${UID}` } },
      [],
    ],
    ['no cgroup parent', pod({ linux: { cgroupParent: '' } }), {}, {}, ['HostConfig.CgroupParent']],
    [
      'sysctls',
      pod({ linux: { sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0', 'kernel.shm_rmid_forced': '1' } } }),
      {},
      { HostConfig: { Sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0', 'kernel.shm_rmid_forced': '1' } } },
      [],
    ],
    ['no sysctls', pod({ linux: { sysctls: {} } }), {}, {}, ['HostConfig.Sysctls']],
    ['a RuntimeClass runtime', pod(), { dockerRuntime: 'nvidia' }, { HostConfig: { Runtime: 'nvidia' } }, []],
    ['Docker\'s default runtime', pod(), { dockerRuntime: undefined }, {}, ['HostConfig.Runtime']],
    // users and the filesystem
    ['a uid', pod({}, { runAsUser: { value: 65535 } }), {}, { User: '65535' }, []],
    ['uid 0 is a user, not "none"', pod({}, { runAsUser: { value: 0 } }), {}, { User: '0' }, []],
    ['a decoded int64 uid and gid', pod({}, { runAsUser: { value: Long.fromNumber(1000) }, runAsGroup: { value: Long.fromNumber(3000) } }), {}, { User: '1000:3000' }, []],
    ['a gid without a uid is not applied', pod({}, { runAsGroup: { value: 3000 } }), {}, {}, ['User']],
    ['supplemental groups', pod({}, { supplementalGroups: [2000, Long.fromNumber(4000)] }), {}, { HostConfig: { GroupAdd: ['2000', '4000'] } }, []],
    ['no supplemental groups', pod({}, { supplementalGroups: [] }), {}, {}, ['HostConfig.GroupAdd']],
    ['a read-only rootfs', pod({}, { readonlyRootfs: true }), {}, { HostConfig: { ReadonlyRootfs: true } }, []],
    ['a writable rootfs', pod({}, { readonlyRootfs: false }), {}, {}, ['HostConfig.ReadonlyRootfs']],
    // seccomp, AppArmor, SELinux
    ['seccomp RuntimeDefault: Docker\'s profile', pod(), {}, { HostConfig: { SecurityOpt: ['no-new-privileges'] } }, []],
    ['seccomp Unconfined', pod({}, { seccomp: { profileType: PROFILE.Unconfined } }), {}, { HostConfig: { SecurityOpt: ['no-new-privileges', 'seccomp=unconfined'] } }, []],
    [
      'seccomp Localhost: the profile content',
      pod({}, { seccomp: { profileType: PROFILE.Localhost, localhostRef: '/var/lib/kubelet/seccomp/log.json' } }),
      { seccompProfileJson: SECCOMP_JSON },
      { HostConfig: { SecurityOpt: ['no-new-privileges', `seccomp=${SECCOMP_JSON}`] } },
      [],
    ],
    ['seccomp neither field nor path: unconfined', pod({}, { seccomp: null }), {}, { HostConfig: { SecurityOpt: ['no-new-privileges', 'seccomp=unconfined'] } }, []],
    ['the deprecated path runtime/default', pod({}, { seccomp: null, seccompProfilePath: 'runtime/default' }), {}, { HostConfig: { SecurityOpt: ['no-new-privileges'] } }, []],
    ['the deprecated path unconfined', pod({}, { seccomp: null, seccompProfilePath: 'unconfined' }), {}, { HostConfig: { SecurityOpt: ['no-new-privileges', 'seccomp=unconfined'] } }, []],
    [
      'the deprecated path localhost/',
      pod({}, { seccomp: null, seccompProfilePath: 'localhost//var/lib/kubelet/seccomp/log.json' }),
      { seccompProfileJson: SECCOMP_JSON },
      { HostConfig: { SecurityOpt: ['no-new-privileges', `seccomp=${SECCOMP_JSON}`] } },
      [],
    ],
    ['the field wins over the deprecated path', pod({}, { seccomp: { profileType: PROFILE.RuntimeDefault }, seccompProfilePath: 'unconfined' }), {}, { HostConfig: { SecurityOpt: ['no-new-privileges'] } }, []],
    ['AppArmor Localhost', pod({}, { apparmor: { profileType: PROFILE.Localhost, localhostRef: 'k8s-deny-write' } }), {}, { HostConfig: { SecurityOpt: ['no-new-privileges', 'apparmor=k8s-deny-write'] } }, []],
    ['AppArmor Unconfined', pod({}, { apparmor: { profileType: PROFILE.Unconfined } }), {}, { HostConfig: { SecurityOpt: ['no-new-privileges', 'apparmor=unconfined'] } }, []],
    [
      'SELinux labels, then seccomp and AppArmor',
      pod({}, { selinuxOptions: { user: 'system_u', role: 'system_r', type: 'container_t', level: 's0:c12,c34' }, seccomp: { profileType: PROFILE.Unconfined }, apparmor: { profileType: PROFILE.Unconfined } }),
      {},
      { HostConfig: { SecurityOpt: ['no-new-privileges', 'label=user:system_u', 'label=role:system_r', 'label=type:container_t', 'label=level:s0:c12,c34', 'seccomp=unconfined', 'apparmor=unconfined'] } },
      [],
    ],
    // privileged
    [
      'privileged on a complete host: Docker\'s privileged mode, the profiles asked for',
      pod({}, { privileged: true, seccomp: null, apparmor: { profileType: PROFILE.Unconfined } }),
      { hostCapsComplete: true },
      { HostConfig: { Privileged: true, SecurityOpt: ['no-new-privileges', 'seccomp=unconfined', 'apparmor=unconfined'] } },
      ['HostConfig.CapAdd', 'HostConfig.MaskedPaths', 'HostConfig.DeviceCgroupRules'],
    ],
    [
      'privileged on a short host: the held capabilities, unconfined, nothing masked, every device',
      pod({}, { privileged: true, selinuxOptions: { type: 'spc_t' }, seccomp: { profileType: PROFILE.Localhost, localhostRef: '/p.json' }, apparmor: { profileType: PROFILE.Localhost, localhostRef: 'deny' } }),
      { hostCapsComplete: false, heldCapabilities: ['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN'], seccompProfileJson: SECCOMP_JSON },
      {
        HostConfig: {
          CapAdd: ['CAP_CHOWN', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN'],
          SecurityOpt: ['no-new-privileges', 'label=type:spc_t', 'seccomp=unconfined', 'apparmor=unconfined', 'label=disable'],
          MaskedPaths: [],
          ReadonlyPaths: [],
          DeviceCgroupRules: ['a *:* rwm'],
        },
      },
      ['HostConfig.Privileged'],
    ],
    ['not privileged', pod({}, { privileged: false }), { hostCapsComplete: false }, {}, ['HostConfig.Privileged', 'HostConfig.CapAdd', 'HostConfig.MaskedPaths']],
  ])('%s', (_name, config, opts, want, absent) => {
    const body = sandboxCreateBody(config, options(opts));
    expect(body).toMatchObject(want);
    for (const path of absent) expect(body).not.toHaveProperty(path);
  });

  it('rejects a seccomp profile it cannot apply', () => {
    expect(invalid(() => sandboxCreateBody(pod({}, { seccomp: null, seccompProfilePath: 'localhost/relative.json' }), options())).message).toContain('absolute path');
  });

  it('copies the sysctls rather than sharing kubelet\'s map', () => {
    const sysctls = { 'net.ipv4.ip_forward': '1' };
    const body = sandboxCreateBody(pod({ linux: { sysctls } }), options());
    expect(body.HostConfig?.Sysctls).toEqual(sysctls);
    expect(body.HostConfig?.Sysctls).not.toBe(sysctls);
  });
});

describe('resolvConf', () => {
  it.each<[string, runtime.v1.IDNSConfig | null | undefined, string | undefined]>([
    ['no DNS config', undefined, undefined],
    ['null', null, undefined],
    ['an empty DNS config', { servers: [], searches: [], options: [] }, undefined],
    [
      'a ClusterFirst pod',
      { servers: ['10.96.0.10'], searches: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], options: ['ndots:5'] },
      'nameserver 10.96.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n',
    ],
    ['two servers', { servers: ['10.96.0.10', 'fd00:10:96::a'] }, 'nameserver 10.96.0.10\nnameserver fd00:10:96::a\n'],
    ['only options', { options: ['ndots:2', 'edns0', 'timeout:1'] }, 'options ndots:2 edns0 timeout:1\n'],
    ['only searches', { searches: ['example.com'] }, 'search example.com\n'],
  ])('%s', (_name, dns, want) => {
    expect(resolvConf(dns)).toBe(want);
  });
});

/** A pause container as `docker inspect` shows it, trimmed of nothing the type requires. */
function pauseInspect(o: { name?: string; running?: boolean; created?: string; labels?: Record<string, string>; hostConfig?: ContainerInspect['HostConfig'] } = {}): ContainerInspect {
  const running = o.running ?? true;
  return {
    Id: SANDBOX_ID,
    Created: o.created ?? '2024-05-01T10:00:00.123456789Z',
    Path: '/pause',
    Args: [],
    State: {
      Status: running ? 'running' : 'exited',
      Running: running,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: running ? 41234 : 0,
      ExitCode: 0,
      Error: '',
      StartedAt: '2024-05-01T10:00:00.456789012Z',
      FinishedAt: running ? '0001-01-01T00:00:00Z' : '2024-05-01T11:00:00.000000000Z',
    },
    Image: `sha256:${'ab'.repeat(32)}`,
    ResolvConfPath: `/var/lib/docker/containers/${SANDBOX_ID}/resolv.conf`,
    HostnamePath: `/var/lib/docker/containers/${SANDBOX_ID}/hostname`,
    HostsPath: `/var/lib/docker/containers/${SANDBOX_ID}/hosts`,
    LogPath: `/var/lib/docker/containers/${SANDBOX_ID}/${SANDBOX_ID}-json.log`,
    Name: o.name ?? `/k8s_POD_web-0_shop_${UID}_1`,
    RestartCount: 0,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: 'docker-default',
    HostConfig: o.hostConfig ?? { NetworkMode: 'none', IpcMode: 'shareable', PidMode: '', Runtime: 'runc', CgroupParent: 'kubepods-besteffort.slice', OomScoreAdj: -998, CpuShares: 2, SecurityOpt: ['no-new-privileges'] },
    GraphDriver: { Name: 'overlay2', Data: { DeviceId: '', DeviceName: '', DeviceSize: '' } },
    Mounts: [],
    Config: {
      Hostname: 'web-0',
      Domainname: '',
      User: '',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ExposedPorts: { '8080/tcp': {} },
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: [],
      Image: PAUSE,
      Volumes: {},
      WorkingDir: '/',
      Entrypoint: ['/pause'],
      Labels: o.labels ?? {
        app: 'web',
        'io.kubernetes.pod.name': 'web-0',
        'io.kubernetes.pod.namespace': 'shop',
        'io.kubernetes.pod.uid': UID,
        'annotation.kubernetes.io/config.source': 'api',
        'io.kubernetes.docker.type': 'podsandbox',
        'io.kubernetes.container.name': 'POD',
        'org.opencontainers.image.source': 'https://github.com/kubernetes/kubernetes',
      },
    },
    NetworkSettings: { SandboxID: 'c0ffee', Ports: {}, SandboxKey: '/var/run/docker/netns/c0ffee', Networks: {} },
  };
}

const PAUSE_IMAGE_LABELS = { 'org.opencontainers.image.source': 'https://github.com/kubernetes/kubernetes' };

describe('sandboxMetadata', () => {
  it.each<[string, string, runtime.v1.IPodSandboxMetadata]>([
    ['a shim name', `/k8s_POD_web-0_shop_${UID}_1`, { name: 'web-0', namespace: 'shop', uid: UID, attempt: 1 }],
    ['a randomized shim name', `/k8s_POD_web-0_shop_${UID}_2_1234567`, { name: 'web-0', namespace: 'shop', uid: UID, attempt: 2 }],
    ['a name not made by a shim', '/nostalgic_hopper', { name: 'nostalgic_hopper', namespace: '', uid: '', attempt: 0 }],
  ])('%s', (_name, name, want) => {
    expect(sandboxMetadata(pauseInspect({ name }))).toEqual(want);
  });
});

describe('sandboxState', () => {
  it.each<[boolean, number]>([
    [true, SandboxState.READY],
    [false, SandboxState.NOTREADY],
  ])('running %s → %i', (running, want) => {
    expect(sandboxState(pauseInspect({ running }))).toBe(want);
  });
});

describe('runtimeHandler', () => {
  it.each<[string, ContainerInspect['HostConfig'], string, string]>([
    ['Docker\'s default runtime reads back as the empty handler', { Runtime: 'runc' }, 'runc', ''],
    ['another runtime is its own handler', { Runtime: 'nvidia' }, 'runc', 'nvidia'],
    ['runc when the default is crun', { Runtime: 'runc' }, 'crun', 'runc'],
    ['no runtime recorded', {}, 'runc', ''],
    ['an empty runtime', { Runtime: '' }, 'runc', ''],
  ])('%s', (_name, hostConfig, defaultRuntime, want) => {
    expect(runtimeHandler(pauseInspect({ hostConfig }), defaultRuntime)).toBe(want);
  });
});

describe('namespaceOptions', () => {
  it.each<[string, ContainerInspect['HostConfig'], runtime.v1.INamespaceOption]>([
    ['a CNI pod', { NetworkMode: 'none', IpcMode: 'shareable', PidMode: '' }, { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD }],
    ['a bridge pod', { NetworkMode: 'default', IpcMode: 'shareable' }, { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD }],
    ['all host namespaces', { NetworkMode: 'host', IpcMode: 'host', PidMode: 'host' }, { network: NamespaceMode.NODE, pid: NamespaceMode.NODE, ipc: NamespaceMode.NODE }],
    ['host PID only', { NetworkMode: 'none', IpcMode: 'shareable', PidMode: 'host' }, { network: NamespaceMode.POD, pid: NamespaceMode.NODE, ipc: NamespaceMode.POD }],
    ['nothing recorded', {}, { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD }],
  ])('%s', (_name, hostConfig, want) => {
    expect(namespaceOptions(pauseInspect({ hostConfig }))).toEqual(want);
  });
});

describe('createdAtNs', () => {
  it.each<[string, string]>([
    ['2024-05-01T10:00:00.123456789Z', '1714557600123456789'],
    ['2024-05-01T10:00:00Z', '1714557600000000000'],
    ['0001-01-01T00:00:00Z', '0'],
  ])('%s → %s', (created, want) => {
    expect(createdAtNs(pauseInspect({ created })).toString()).toBe(want);
  });
});

describe('toPodSandbox', () => {
  it('shows a running sandbox with kubelet\'s labels only', () => {
    expect(toPodSandbox(pauseInspect(), 'runc', PAUSE_IMAGE_LABELS)).toEqual({
      id: SANDBOX_ID,
      metadata: { name: 'web-0', namespace: 'shop', uid: UID, attempt: 1 },
      state: SandboxState.READY,
      createdAt: Long.fromString('1714557600123456789'),
      labels: { app: 'web', 'io.kubernetes.pod.name': 'web-0', 'io.kubernetes.pod.namespace': 'shop', 'io.kubernetes.pod.uid': UID },
      annotations: { 'kubernetes.io/config.source': 'api' },
      runtimeHandler: '',
    });
  });

  it.each<[string, ContainerInspect, Record<string, string>, Partial<runtime.v1.IPodSandbox>]>([
    [
      'without the image labels, the image\'s label shows as kubelet\'s',
      pauseInspect(),
      {},
      { labels: { app: 'web', 'io.kubernetes.pod.name': 'web-0', 'io.kubernetes.pod.namespace': 'shop', 'io.kubernetes.pod.uid': UID, ...PAUSE_IMAGE_LABELS } },
    ],
    [
      'a label kubelet set to another value than the image\'s is kept',
      pauseInspect({ labels: { 'io.kubernetes.docker.type': 'podsandbox', 'org.opencontainers.image.source': 'mine' } }),
      PAUSE_IMAGE_LABELS,
      { labels: { 'org.opencontainers.image.source': 'mine' }, annotations: {} },
    ],
    [
      'a stopped sandbox of another runtime',
      pauseInspect({ running: false, hostConfig: { NetworkMode: 'none', Runtime: 'kata' } }),
      PAUSE_IMAGE_LABELS,
      { state: SandboxState.NOTREADY, runtimeHandler: 'kata' },
    ],
  ])('%s', (_name, inspect, imageLabels, want) => {
    expect(toPodSandbox(inspect, 'runc', imageLabels)).toMatchObject(want);
  });
});

describe('networkStatus', () => {
  it.each<[string, string[], runtime.v1.IPodSandboxNetworkStatus | undefined]>([
    ['no IPs: no network status', [], undefined],
    ['one IP', ['10.244.1.5'], { ip: '10.244.1.5', additionalIps: [] }],
    ['dual stack: the first is primary', ['10.244.1.5', 'fd00:10:244:1::5'], { ip: '10.244.1.5', additionalIps: [{ ip: 'fd00:10:244:1::5' }] }],
  ])('%s', (_name, ips, want) => {
    expect(networkStatus(ips)).toEqual(want);
  });
});

describe('matchesFilter', () => {
  const sandbox: runtime.v1.IPodSandbox = {
    id: SANDBOX_ID,
    metadata: { name: 'web-0', namespace: 'shop', uid: UID, attempt: 1 },
    state: SandboxState.READY,
    labels: { app: 'web', 'io.kubernetes.pod.namespace': 'shop' },
  };
  const stopped: runtime.v1.IPodSandbox = { ...sandbox, state: SandboxState.NOTREADY };

  it.each<[string, runtime.v1.IPodSandbox, runtime.v1.IPodSandboxFilter | null | undefined, boolean]>([
    ['no filter', sandbox, undefined, true],
    ['a null filter', sandbox, null, true],
    ['an empty decoded filter', sandbox, runtime.v1.PodSandboxFilter.create(), true],
    ['the full ID', sandbox, { id: SANDBOX_ID }, true],
    ['an ID prefix', sandbox, { id: SANDBOX_ID.slice(0, 12) }, true],
    ['another ID', sandbox, { id: 'f'.repeat(12) }, false],
    ['an ID longer than the sandbox\'s', sandbox, { id: `${SANDBOX_ID}0` }, false],
    ['state READY on a ready sandbox', sandbox, { state: { state: SandboxState.READY } }, true],
    ['state READY on a stopped sandbox', stopped, { state: { state: SandboxState.READY } }, false],
    ['state NOTREADY on a stopped sandbox', stopped, { state: { state: SandboxState.NOTREADY } }, true],
    ['state NOTREADY on a ready sandbox', sandbox, { state: { state: SandboxState.NOTREADY } }, false],
    ['a state value without a state is READY', stopped, { state: {} }, false],
    ['a label subset', sandbox, { labelSelector: { app: 'web' } }, true],
    ['all labels', sandbox, { labelSelector: { app: 'web', 'io.kubernetes.pod.namespace': 'shop' } }, true],
    ['a label with another value', sandbox, { labelSelector: { app: 'db' } }, false],
    ['a label the sandbox lacks', sandbox, { labelSelector: { tier: 'front' } }, false],
    ['everything matching', sandbox, { id: SANDBOX_ID.slice(0, 5), state: { state: SandboxState.READY }, labelSelector: { app: 'web' } }, true],
    ['everything but the state', stopped, { id: SANDBOX_ID.slice(0, 5), state: { state: SandboxState.READY }, labelSelector: { app: 'web' } }, false],
  ])('%s', (_name, s, filter, want) => {
    expect(matchesFilter(s, filter)).toBe(want);
  });
});
