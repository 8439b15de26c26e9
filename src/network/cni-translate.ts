// The pure half of running CNI plugins: what goes into a plugin's environment and stdin, and what
// comes out of its stdout. Follows the CNI spec (SPEC.md) and libcni's choices where the spec
// leaves room (api.go: buildOneConfig, injectRuntimeConfig; invoke/args.go; invoke/exec.go).
import { isIP } from 'node:net';
import type { BandwidthCap } from './bandwidth.js';
import type { CniPluginConf } from './cni-config.js';

export interface PortMappingCap {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIP: string;
}

export interface DnsCap {
  servers: string[];
  searches: string[];
  options: string[];
}

/** Who a pod is, as CNI_ARGS tells plugins. */
export interface PodIdentity {
  sandboxId: string;
  podName: string;
  podNamespace: string;
  podUid: string;
}

/** A plugin's result JSON (any spec version), kept as parsed so it round-trips unchanged. */
export type CniResult = Record<string, unknown>;

/** A network config list as plugins are run from it. */
export interface CniNetworkList {
  name: string;
  cniVersion: string;
  plugins: CniPluginConf[];
}

/** The per-attachment parameters of one ADD or DEL (libcni's RuntimeConf). */
export interface CniAttachment {
  containerId: string;
  /** Empty when the network namespace is gone (DEL only). */
  netns: string;
  ifName: string;
  cniArgs: [string, string][];
  capabilityArgs: Record<string, unknown>;
}

export type CniCommand = 'ADD' | 'DEL';

export const DEFAULT_IFNAME = 'eth0';

/** The loopback network cri-dockerd (and dockershim before it) attaches every pod to first. */
export const LOOPBACK_NETWORK: CniNetworkList = { name: 'cni-loopback', cniVersion: '0.2.0', plugins: [{ type: 'loopback' }] };

/** libcni's rule for container ids and network names (pkg/utils: cniValidNameChars). */
const CNI_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function isValidCniName(name: string): boolean {
  return CNI_NAME.test(name);
}

/** Plugin types that create the pod's link themselves and take an "mtu" key for it. */
const MTU_PLUGINS = new Set(['bridge', 'ptp']);

/** CNI_ARGS as cri-dockerd sends them, plus K8S_POD_UID as containerd and CRI-O do. */
export function podCniArgs(pod: PodIdentity): [string, string][] {
  return [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', pod.podNamespace],
    ['K8S_POD_NAME', pod.podName],
    ['K8S_POD_INFRA_CONTAINER_ID', pod.sandboxId],
    ['K8S_POD_UID', pod.podUid],
  ];
}

/** A value that would break CNI_ARGS' `k=v;k=v` syntax, or undefined when all are fine. */
export function badCniArg(args: [string, string][]): string | undefined {
  const bad = args.find(([k, v]) => /[;=]/.test(k) || v.includes(';'));
  return bad ? `${bad[0]}=${bad[1]}` : undefined;
}

export function formatCniArgs(args: [string, string][]): string {
  return args.map(([k, v]) => `${k}=${v}`).join(';');
}

/**
 * The capability arguments of a pod (CONVENTIONS.md). portMappings is always present, as
 * cri-dockerd sends it (entries without a host port dropped, protocol lower case); dns only when
 * the pod has a DNS config, with empty lists left out; ipRanges only when a pod CIDR is known;
 * bandwidth only when the pod has a bandwidth annotation.
 */
export function podCapabilityArgs(portMappings: readonly PortMappingCap[], dns: DnsCap | undefined, podCidr: string, bandwidth?: BandwidthCap): Record<string, unknown> {
  const caps: Record<string, unknown> = {
    portMappings: portMappings
      .filter((p) => p.hostPort > 0)
      .map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol.toLowerCase(), hostIP: p.hostIP })),
  };
  if (dns) {
    const entry: Record<string, string[]> = {};
    if (dns.servers.length > 0) entry.servers = [...dns.servers];
    if (dns.searches.length > 0) entry.searches = [...dns.searches];
    if (dns.options.length > 0) entry.options = [...dns.options];
    if (Object.keys(entry).length > 0) caps.dns = entry;
  }
  if (podCidr !== '') caps.ipRanges = podCidr.split(',').map((subnet) => [{ subnet: subnet.trim() }]);
  if (bandwidth) caps.bandwidth = { ...bandwidth };
  return caps;
}

/** The capabilities a plugin config declares as supported. */
export function declaredCapabilities(plugin: CniPluginConf): string[] {
  const caps = plugin.capabilities;
  if (typeof caps !== 'object' || caps === null || Array.isArray(caps)) return [];
  return Object.entries(caps as Record<string, unknown>)
    .filter(([, on]) => on === true)
    .map(([name]) => name);
}

/** The runtimeConfig for one plugin: the capability args it declares, or undefined for none. */
export function pluginRuntimeConfig(plugin: CniPluginConf, capabilityArgs: Record<string, unknown>): Record<string, unknown> | undefined {
  const rc: Record<string, unknown> = {};
  for (const name of declaredCapabilities(plugin)) {
    if (Object.hasOwn(capabilityArgs, name)) rc[name] = capabilityArgs[name];
  }
  return Object.keys(rc).length > 0 ? rc : undefined;
}

export interface PluginConfigInput {
  list: CniNetworkList;
  plugin: CniPluginConf;
  prevResult?: CniResult | undefined;
  capabilityArgs: Record<string, unknown>;
  /** --network-plugin-mtu; 0 leaves the plugin's own default. */
  mtu: number;
}

/**
 * The stdin of one plugin invocation: its config with the list's name and cniVersion, prevResult
 * when there is one, and runtimeConfig replaced by the declared capability args (libcni replaces
 * rather than merges). An mtu is added only to link-creating plugins whose config has none.
 */
export function buildPluginConfig(input: PluginConfigInput): Record<string, unknown> {
  const { list, plugin, prevResult, capabilityArgs, mtu } = input;
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  if (prevResult !== undefined) conf.prevResult = prevResult;
  const rc = pluginRuntimeConfig(plugin, capabilityArgs);
  if (rc) conf.runtimeConfig = rc;
  if (mtu > 0 && MTU_PLUGINS.has(plugin.type) && plugin.mtu === undefined) conf.mtu = mtu;
  return conf;
}

/** The environment of one invocation, on top of the shim's own (plugins run iptables and need PATH). */
export function pluginEnv(command: CniCommand, attachment: CniAttachment, binDirs: readonly string[]): Record<string, string> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: attachment.containerId,
    CNI_NETNS: attachment.netns,
    CNI_ARGS: formatCniArgs(attachment.cniArgs),
    CNI_IFNAME: attachment.ifName,
    CNI_PATH: binDirs.join(':'),
  };
}

/** Compares dotted versions numerically; a missing part counts as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const pb = b.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** DEL gets the cached ADD result as prevResult from spec 0.4.0 on, as in libcni. */
export function delTakesPrevResult(cniVersion: string): boolean {
  return compareVersions(cniVersion, '0.4.0') >= 0;
}

/**
 * Parses an ADD's stdout. A result without cniVersion is taken to be in the config's version
 * (libcni's fixupResultVersion). A string says why the output is unusable.
 */
export function parseResult(stdout: string, confVersion: string): CniResult | string {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    return `its output is not JSON: ${JSON.stringify(truncate(stdout.trim(), 200))}`;
  }
  if (doc === null) return { cniVersion: confVersion };
  if (typeof doc !== 'object' || Array.isArray(doc)) return 'its output is not a JSON object';
  const result = doc as CniResult;
  if (typeof result.cniVersion !== 'string' || result.cniVersion === '') return { ...result, cniVersion: confVersion };
  return result;
}

interface ResultIp {
  address?: unknown;
  interface?: unknown;
}

interface ResultInterface {
  name?: unknown;
  sandbox?: unknown;
}

const stripPrefix = (cidr: string): string => cidr.split('/')[0] ?? '';

/**
 * The pod's IPs from a result: IPv4 before IPv6, without prefix length, no duplicates. From the
 * 0.3.0+ form ("ips" with "interfaces") it takes the addresses on `ifName` inside the sandbox,
 * as containerd does; failing that, those on any sandbox interface, then those on no named
 * interface, then all. From the 0.1.0/0.2.0 form it takes "ip4" and "ip6".
 */
export function podIps(result: CniResult, ifName: string): string[] {
  let found: string[] = [];
  if (Array.isArray(result.ips)) {
    const ips = (result.ips as ResultIp[]).filter((ip) => typeof ip?.address === 'string');
    const interfaces = Array.isArray(result.interfaces) ? (result.interfaces as ResultInterface[]) : [];
    const ifaceOf = (ip: ResultIp): ResultInterface | undefined => (typeof ip.interface === 'number' ? interfaces[ip.interface] : undefined);
    const inSandbox = (iface: ResultInterface | undefined): boolean => typeof iface?.sandbox === 'string' && iface.sandbox !== '';
    let chosen = ips.filter((ip) => inSandbox(ifaceOf(ip)) && ifaceOf(ip)?.name === ifName);
    if (chosen.length === 0) chosen = ips.filter((ip) => inSandbox(ifaceOf(ip)));
    if (chosen.length === 0) chosen = ips.filter((ip) => ifaceOf(ip) === undefined);
    if (chosen.length === 0) chosen = ips;
    found = chosen.map((ip) => stripPrefix(ip.address as string));
  } else {
    for (const key of ['ip4', 'ip6']) {
      const entry = result[key] as { ip?: unknown } | undefined;
      if (typeof entry?.ip === 'string') found.push(stripPrefix(entry.ip));
    }
  }
  const valid = [...new Set(found)].filter((ip) => isIP(ip) !== 0);
  return [...valid.filter((ip) => isIP(ip) === 4), ...valid.filter((ip) => isIP(ip) === 6)];
}

/** A plugin's failure as the spec's error JSON says it, or as its stderr does when there is none. */
export interface PluginFailure {
  /** CNI error code (SPEC.md section 5), when the plugin gave one. */
  code?: number;
  message: string;
}

/** Reads a failed plugin's output: the error JSON on stdout, else stderr, else the exit status. */
export function parsePluginFailure(stdout: string, stderr: string, exitStatus: string): PluginFailure {
  const out = stdout.trim();
  if (out !== '') {
    try {
      const doc = JSON.parse(out) as { code?: unknown; msg?: unknown; details?: unknown };
      if (typeof doc === 'object' && doc !== null) {
        const msg = typeof doc.msg === 'string' ? doc.msg : '';
        const details = typeof doc.details === 'string' ? doc.details : '';
        const text = [msg, details].filter((s) => s !== '').join(': ') || `${exitStatus}, no message`;
        return typeof doc.code === 'number' ? { code: doc.code, message: text } : { message: text };
      }
    } catch {
      // not the error JSON: fall through to the raw output
    }
    return { message: `${exitStatus}: ${truncate(out, 2000)}` };
  }
  const err = stderr.trim();
  return { message: err !== '' ? `${exitStatus}: ${truncate(err, 2000)}` : `${exitStatus}, no output` };
}

/** CNI error code 11 ("try again later") and 50/51 (plugin not available) are transient. */
export function isTransientCniCode(code: number | undefined): boolean {
  return code === 11 || code === 50 || code === 51;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
