// PodSandboxConfig ⇄ Docker: the pause container's create body, and its inspect data back into
// CRI statuses. Pure: no I/O.
import { isIP } from 'node:net';
import { basename } from 'node:path';
import type Long from 'long';
import { invalidArgument } from '../errors.js';
import type { runtime } from '../gen/api.js';
import type { ContainerCreateBody, ContainerInspect } from '../docker/client.js';
import { LABEL_CONTAINER_NAME, LABEL_TYPE, SANDBOX_CONTAINER_NAME, TYPE_SANDBOX, extractLabels, makeLabels, parseName, sandboxName, withoutInherited } from '../docker/naming.js';
import { apparmorChoice, apparmorOpts, dockerUser, privilegedOptions, seccompChoice, seccompOpts, selinuxOpts } from '../security/translate.js';
import { int64, rfc3339ToNs } from '../util/time.js';

export const NamespaceMode = { POD: 0, CONTAINER: 1, NODE: 2, TARGET: 3 } as const;
export const SandboxState = { READY: 0, NOTREADY: 1 } as const;
const PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;

/** cpu.shares of the pause container: it does nothing, so it gets the minimum weight. */
const SANDBOX_CPU_SHARES = 2;
// one name part: Kubernetes allows one-character names, so unlike Docker's own pattern, no minimum
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAX_LABEL_BYTES = 256 * 1024;

export type NetworkMode = 'cni' | 'bridge';

export interface SandboxCreateOptions {
  image: string;
  networkMode: NetworkMode;
  cgroupDriver: 'systemd' | 'cgroupfs';
  oomScoreAdj: number;
  hostCapsComplete: boolean;
  heldCapabilities: readonly string[];
  /** The Docker runtime for a RuntimeClass handler; undefined for Docker's default. */
  dockerRuntime?: string;
  /** Content of a Localhost seccomp profile, read by the caller. */
  seccompProfileJson?: string;
}

export interface PortSpec {
  protocol: (typeof PROTOCOLS)[number];
  containerPort: number;
  hostPort: number;
  hostIp: string;
}

/** Rejects a config kubelet would never send, before anything is created. */
export function validateSandboxConfig(config: runtime.v1.IPodSandboxConfig | null | undefined): asserts config is runtime.v1.PodSandboxConfig {
  if (!config) throw invalidArgument('RunPodSandbox: config is required');
  const m = config.metadata;
  if (!m) throw invalidArgument('RunPodSandbox: config.metadata is required');
  for (const [field, value] of [['name', m.name], ['namespace', m.namespace], ['uid', m.uid]] as const) {
    if (!value) throw invalidArgument(`RunPodSandbox: config.metadata.${field} is required`);
    if (value.includes('_') || !DOCKER_NAME.test(value) || value.length > 253) {
      throw invalidArgument(`RunPodSandbox: config.metadata.${field} "${value.slice(0, 100)}" must be letters, digits, '.' and '-', at most 253 characters`);
    }
  }
  portSpecs(config.portMappings);
  let labelBytes = 0;
  for (const [k, v] of [...Object.entries(config.labels ?? {}), ...Object.entries(config.annotations ?? {})]) {
    if (k === '') throw invalidArgument('RunPodSandbox: label and annotation keys must not be empty');
    labelBytes += k.length + v.length;
  }
  if (labelBytes > MAX_LABEL_BYTES) throw invalidArgument(`RunPodSandbox: labels and annotations exceed ${MAX_LABEL_BYTES} bytes`);
  if ((config.hostname ?? '').length > 253) throw invalidArgument('RunPodSandbox: hostname longer than 253 characters');
  const dns = config.dnsConfig;
  for (const line of [...(dns?.servers ?? []), ...(dns?.searches ?? []), ...(dns?.options ?? [])]) {
    if (/[\n\r]/.test(line)) throw invalidArgument('RunPodSandbox: DNS settings must not contain line breaks');
  }
  for (const server of dns?.servers ?? []) {
    if (!isIP(server)) throw invalidArgument(`RunPodSandbox: DNS server "${server.slice(0, 100)}" is not an IP address`);
  }
}

export interface PodIdentity {
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
}

/** The validated metadata of a sandbox config. */
export function podIdentity(config: runtime.v1.IPodSandboxConfig): PodIdentity {
  const m = config.metadata;
  return { name: m?.name ?? '', namespace: m?.namespace ?? '', uid: m?.uid ?? '', attempt: m?.attempt ?? 0 };
}

/** Port mappings checked and normalised. */
export function portSpecs(mappings: runtime.v1.IPortMapping[] | null | undefined): PortSpec[] {
  return (mappings ?? []).map((pm, i) => {
    const protocol = PROTOCOLS[pm.protocol ?? 0];
    if (!protocol) throw invalidArgument(`RunPodSandbox: port mapping ${i}: unknown protocol ${String(pm.protocol)}`);
    const containerPort = pm.containerPort ?? 0;
    const hostPort = pm.hostPort ?? 0;
    if (containerPort < 1 || containerPort > 65535) throw invalidArgument(`RunPodSandbox: port mapping ${i}: container port ${containerPort} is not in 1-65535`);
    if (hostPort < 0 || hostPort > 65535) throw invalidArgument(`RunPodSandbox: port mapping ${i}: host port ${hostPort} is not in 0-65535`);
    const hostIp = pm.hostIp ?? '';
    if (hostIp !== '' && !isIP(hostIp)) throw invalidArgument(`RunPodSandbox: port mapping ${i}: host IP "${hostIp.slice(0, 100)}" is not an IP address`);
    return { protocol, containerPort, hostPort, hostIp };
  });
}

/** The cgroup parent Docker expects: systemd wants only the slice name. */
export function cgroupParent(parent: string, driver: 'systemd' | 'cgroupfs'): string {
  if (parent === '') return '';
  return driver === 'systemd' ? basename(parent) : parent;
}

const isHostNetwork = (config: runtime.v1.IPodSandboxConfig): boolean => config.linux?.securityContext?.namespaceOptions?.network === NamespaceMode.NODE;
export { isHostNetwork };

/** The Docker create body of a sandbox's pause container. */
export function sandboxCreateBody(config: runtime.v1.PodSandboxConfig, opts: SandboxCreateOptions): ContainerCreateBody {
  const labels = makeLabels(config.labels, config.annotations);
  labels[LABEL_TYPE] = TYPE_SANDBOX;
  labels[LABEL_CONTAINER_NAME] = SANDBOX_CONTAINER_NAME;
  const linux = config.linux;
  const sc = linux?.securityContext;
  const ns = sc?.namespaceOptions;
  const hostNetwork = ns?.network === NamespaceMode.NODE;

  const hostConfig: Record<string, unknown> = {
    IpcMode: ns?.ipc === NamespaceMode.NODE ? 'host' : 'shareable',
    NetworkMode: hostNetwork ? 'host' : opts.networkMode === 'cni' ? 'none' : 'default',
    OomScoreAdj: opts.oomScoreAdj,
    CpuShares: SANDBOX_CPU_SHARES,
    SecurityOpt: ['no-new-privileges'],
  };
  if (ns?.pid === NamespaceMode.NODE) hostConfig.PidMode = 'host';
  const parent = cgroupParent(linux?.cgroupParent ?? '', opts.cgroupDriver);
  if (parent !== '') hostConfig.CgroupParent = parent;
  if (linux?.sysctls && Object.keys(linux.sysctls).length > 0) hostConfig.Sysctls = { ...linux.sysctls };
  if (opts.dockerRuntime) hostConfig.Runtime = opts.dockerRuntime;

  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of portSpecs(config.portMappings)) {
    const key = `${p.containerPort}/${p.protocol}`;
    exposed[key] = {};
    // with CNI the portmap plugin publishes host ports; Docker's own publishing needs its bridge
    if (p.hostPort > 0 && opts.networkMode === 'bridge' && !hostNetwork) (bindings[key] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
  }
  if (Object.keys(bindings).length > 0) hostConfig.PortBindings = bindings;

  const security: string[] = [];
  let user = '';
  if (sc) {
    user = dockerUser(sc.runAsUser ? int64(sc.runAsUser.value) : undefined, sc.runAsUser && sc.runAsGroup ? int64(sc.runAsGroup.value) : undefined);
    if (sc.readonlyRootfs) hostConfig.ReadonlyRootfs = true;
    if ((sc.supplementalGroups ?? []).length > 0) hostConfig.GroupAdd = (sc.supplementalGroups ?? []).map((g) => String(int64(g)));
    security.push(...selinuxOpts(sc.selinuxOptions));
    if (sc.privileged) {
      const priv = privilegedOptions(opts.hostCapsComplete, opts.heldCapabilities);
      const { SecurityOpt, ...rest } = priv;
      Object.assign(hostConfig, rest);
      security.push(...SecurityOpt);
    }
    if (!sc.privileged || opts.hostCapsComplete) {
      security.push(...seccompOpts(seccompChoice(sc.seccomp, sc.seccompProfilePath), opts.seccompProfileJson));
      security.push(...apparmorOpts(apparmorChoice(sc.apparmor, undefined)));
    }
  }
  hostConfig.SecurityOpt = [...(hostConfig.SecurityOpt as string[]), ...security];

  const body: ContainerCreateBody = {
    name: sandboxName(podIdentity(config)),
    Image: opts.image,
    Labels: labels,
    HostConfig: hostConfig as ContainerCreateBody['HostConfig'],
  };
  if (!hostNetwork && config.hostname) body.Hostname = config.hostname;
  if (Object.keys(exposed).length > 0) body.ExposedPorts = exposed;
  if (user !== '') body.User = user;
  return body;
}

/** resolv.conf content for a DNS config; undefined when it sets nothing. */
export function resolvConf(dns: runtime.v1.IDNSConfig | null | undefined): string | undefined {
  if (!dns) return undefined;
  const lines = (dns.servers ?? []).map((s) => `nameserver ${s}`);
  if ((dns.searches ?? []).length > 0) lines.push(`search ${(dns.searches ?? []).join(' ')}`);
  if ((dns.options ?? []).length > 0) lines.push(`options ${(dns.options ?? []).join(' ')}`);
  return lines.length > 0 ? `${lines.join('\n')}\n` : undefined;
}

export function sandboxMetadata(inspect: ContainerInspect): runtime.v1.IPodSandboxMetadata {
  const parts = parseName(inspect.Name);
  if (!parts) return { name: inspect.Name.replace(/^\//, ''), uid: '', namespace: '', attempt: 0 };
  return { name: parts.name, namespace: parts.namespace, uid: parts.uid, attempt: parts.attempt };
}

export const sandboxState = (inspect: ContainerInspect): number => (inspect.State?.Running ? SandboxState.READY : SandboxState.NOTREADY);

/** The handler kubelet asked for: Docker's default runtime reads back as the empty handler. */
export function runtimeHandler(inspect: ContainerInspect, defaultRuntime: string): string {
  const rt = (inspect.HostConfig as { Runtime?: string } | undefined)?.Runtime ?? '';
  return rt === '' || rt === defaultRuntime ? '' : rt;
}

export function namespaceOptions(inspect: ContainerInspect): runtime.v1.INamespaceOption {
  const hc = inspect.HostConfig as { NetworkMode?: string; PidMode?: string; IpcMode?: string } | undefined;
  return {
    network: hc?.NetworkMode === 'host' ? NamespaceMode.NODE : NamespaceMode.POD,
    pid: hc?.PidMode === 'host' ? NamespaceMode.NODE : NamespaceMode.CONTAINER,
    ipc: hc?.IpcMode === 'host' ? NamespaceMode.NODE : NamespaceMode.POD,
  };
}

export const createdAtNs = (inspect: ContainerInspect): Long => rfc3339ToNs(inspect.Created);

/** The sandbox as ListPodSandbox shows it; `imageLabels` are the pause image's own labels. */
export function toPodSandbox(inspect: ContainerInspect, defaultRuntime: string, imageLabels: Record<string, string>): runtime.v1.IPodSandbox {
  const { labels, annotations } = extractLabels(withoutInherited(inspect.Config?.Labels, imageLabels));
  return {
    id: inspect.Id,
    metadata: sandboxMetadata(inspect),
    state: sandboxState(inspect),
    createdAt: createdAtNs(inspect),
    labels,
    annotations,
    runtimeHandler: runtimeHandler(inspect, defaultRuntime),
  };
}

/** Pod IPs as CRI reports them: the first is primary, the rest additional. */
export function networkStatus(ips: readonly string[]): runtime.v1.IPodSandboxNetworkStatus | undefined {
  if (ips.length === 0) return undefined;
  return { ip: ips[0], additionalIps: ips.slice(1).map((ip) => ({ ip })) };
}

export interface SandboxFilter {
  id?: string;
  state?: number;
  labels?: Record<string, string>;
}

/** Whether a sandbox matches a ListPodSandbox filter (id by full ID or prefix). */
export function matchesFilter(s: runtime.v1.IPodSandbox, f: runtime.v1.IPodSandboxFilter | null | undefined): boolean {
  if (!f) return true;
  if (f.id && !(s.id ?? '').startsWith(f.id)) return false;
  if (f.state && s.state !== (f.state.state ?? 0)) return false;
  for (const [k, v] of Object.entries(f.labelSelector ?? {})) if (s.labels?.[k] !== v) return false;
  return true;
}
