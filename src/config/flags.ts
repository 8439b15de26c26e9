import { isIP } from 'node:net';
import { isCidrList } from '../network/cidr.js';
import { parseLogSize } from '../util/size.js';
import { formatDuration, parseDuration } from './duration.js';

/** Everything dockercri is told on its command line, parsed and validated once. */
export interface Config {
  containerRuntimeEndpoint: string;
  dockerEndpoint: string;
  podInfraContainerImage: string;
  criDockerdRootDirectory: string;
  /** "cni" (the default, as in cri-dockerd) or "" for Docker's own bridge. */
  networkPlugin: '' | 'cni';
  cniBinDirs: string[];
  cniConfDir: string;
  cniCacheDir: string;
  networkPluginMtu: number;
  podCidr: string;
  ipv6DualStack: boolean;
  hairpinMode: string;
  runtimeCgroups: string;
  runtimeRequestTimeoutMs: number;
  imagePullProgressDeadlineMs: number;
  streamingBindAddr: string;
  streamingConnectionIdleTimeoutMs: number;
  /** IP:PORT of the Prometheus /metrics and /healthz server; empty: not served. */
  metricsBindAddr: string;
  /** undefined: decide at start from CAP_SYS_RESOURCE. */
  restrictOomScoreAdj: boolean | undefined;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  /** Docker's json-file max-size for containers (the buffer the CRI log is copied from), as Docker writes it. */
  dockerLogMaxSize: string;
  /** How many json-file files Docker keeps per container, the one it writes included. */
  dockerLogMaxFile: number;
}

export type ParseResult =
  | { kind: 'run'; config: Config }
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'error'; message: string };

type FlagType = 'string' | 'bool' | 'int' | 'duration';

interface FlagSpec {
  name: string;
  type: FlagType;
  help: string;
  key?: keyof Config;
  default?: string;
  /** Returns an error message for a bad value. */
  check?: (value: string) => string | undefined;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'panic'];

function checkEndpoint(value: string): string | undefined {
  if (value.startsWith('unix://') && value.length > 'unix://'.length) return undefined;
  if (value.startsWith('/')) return undefined;
  if (/^fd:\/\/[A-Za-z0-9_.-]*$/.test(value)) return undefined;
  return `must be unix:///path/to/socket, or fd:// for a socket systemd passes`;
}

function checkDockerEndpoint(value: string): string | undefined {
  if (/^unix:\/\/.+/.test(value) || /^tcp:\/\/[^/]+:\d+$/.test(value)) return undefined;
  return 'must be unix:///path or tcp://host:port';
}

function checkCidr(value: string): string | undefined {
  return value === '' || isCidrList(value) ? undefined : 'must be a CIDR or a comma-separated list of CIDRs';
}

function checkBindAddr(value: string): string | undefined {
  if (value === '') return undefined;
  if (isIP(value)) return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  const host = m?.[1] ?? m?.[2];
  if (m && host !== undefined && isIP(host) !== 0 && Number(m[3]) <= 65535) return undefined;
  return 'must be IP or IP:PORT';
}

/** Host and port of "IP:PORT" or "[IPv6]:PORT"; undefined when it is not that shape. */
export function splitHostPort(value: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  const host = m?.[1] ?? m?.[2];
  if (!m || host === undefined || isIP(host) === 0) return undefined;
  return { host, port: Number(m[3]) };
}

function checkMetricsBindAddr(value: string): string | undefined {
  if (value === '') return undefined;
  const port = splitHostPort(value)?.port;
  return port !== undefined && port >= 1 && port <= 65535 ? undefined : 'must be IP:PORT with a port from 1 to 65535';
}

const FLAGS: FlagSpec[] = [
  { name: 'container-runtime-endpoint', key: 'containerRuntimeEndpoint', type: 'string', default: 'unix:///var/run/cri-dockerd.sock', check: checkEndpoint, help: 'The endpoint dockercri serves the CRI on: unix:///path, or fd:// for the socket systemd passes (socket activation).' },
  { name: 'docker-endpoint', key: 'dockerEndpoint', type: 'string', default: 'unix:///var/run/docker.sock', check: checkDockerEndpoint, help: 'The Docker Engine API endpoint.' },
  { name: 'pod-infra-container-image', key: 'podInfraContainerImage', type: 'string', default: 'registry.k8s.io/pause:3.10', check: (v) => (v.trim() === '' ? 'must not be empty' : undefined), help: 'The image whose container holds each pod\'s namespaces.' },
  { name: 'cri-dockerd-root-directory', key: 'criDockerdRootDirectory', type: 'string', default: '/var/lib/cri-dockerd', check: (v) => (v.startsWith('/') ? undefined : 'must be an absolute path'), help: 'Where sandbox checkpoints are kept (shared with cri-dockerd).' },
  { name: 'network-plugin', key: 'networkPlugin', type: 'string', default: 'cni', check: (v) => (v === '' || v === 'cni' ? undefined : 'must be "cni" or empty (Docker\'s bridge)'), help: 'Pod networking: "cni", or empty for Docker\'s default bridge.' },
  { name: 'cni-bin-dir', key: 'cniBinDirs', type: 'string', default: '/opt/cni/bin', help: 'Comma-separated directories holding CNI plugin binaries.' },
  { name: 'cni-conf-dir', key: 'cniConfDir', type: 'string', default: '/etc/cni/net.d', help: 'Directory searched for CNI network configurations.' },
  { name: 'cni-cache-dir', key: 'cniCacheDir', type: 'string', default: '/var/lib/cni/cache', help: 'Directory where CNI results are cached.' },
  { name: 'network-plugin-mtu', key: 'networkPluginMtu', type: 'int', default: '0', check: (v) => (Number(v) >= 0 && Number(v) <= 65535 ? undefined : 'must be between 0 and 65535'), help: 'MTU handed to the network plugin; 0 keeps its default.' },
  { name: 'pod-cidr', key: 'podCidr', type: 'string', default: '', check: checkCidr, help: 'CIDR for pod IPs in standalone mode.' },
  { name: 'ipv6-dual-stack', key: 'ipv6DualStack', type: 'bool', default: 'false', help: 'Enable IPv6 dual-stack pod networking.' },
  { name: 'hairpin-mode', key: 'hairpinMode', type: 'string', default: 'hairpin-veth', check: (v) => (['promiscuous-bridge', 'hairpin-veth', 'none'].includes(v) ? undefined : 'must be promiscuous-bridge, hairpin-veth or none'), help: 'How pods reach themselves through their service IP.' },
  { name: 'runtime-cgroups', key: 'runtimeCgroups', type: 'string', default: '', check: (v) => (v === '' || v.startsWith('/') ? undefined : 'must be an absolute cgroup name'), help: 'Absolute cgroup the runtime is expected to run in.' },
  { name: 'runtime-request-timeout', key: 'runtimeRequestTimeoutMs', type: 'duration', default: '2m0s', help: 'Timeout of runtime requests other than pull, logs, exec and attach.' },
  { name: 'image-pull-progress-deadline', key: 'imagePullProgressDeadlineMs', type: 'duration', default: '1m0s', help: 'Cancel a pull that makes no progress for this long.' },
  { name: 'streaming-bind-addr', key: 'streamingBindAddr', type: 'string', default: '', check: checkBindAddr, help: 'IP or IP:PORT of the streaming server (default: a free port on 127.0.0.1).' },
  { name: 'streaming-connection-idle-timeout', key: 'streamingConnectionIdleTimeoutMs', type: 'duration', default: '4h0m0s', help: 'Close a streaming connection idle for this long.' },
  { name: 'metrics-bind-addr', key: 'metricsBindAddr', type: 'string', default: '', check: checkMetricsBindAddr, help: 'IP:PORT serving Prometheus metrics at /metrics and health at /healthz (default: off).' },
  { name: 'restrict-oom-score-adj', key: 'restrictOomScoreAdj', type: 'bool', help: 'Never ask for an oom_score_adj below dockercri\'s own (default: on when CAP_SYS_RESOURCE is missing).' },
  { name: 'docker-log-max-size', key: 'dockerLogMaxSize', type: 'string', default: '10m', check: (v) => ((parseLogSize(v) ?? 0) >= 64 * 1024 ? undefined : 'must be a size of at least 64k, such as 10m'), help: "Size at which Docker rotates a container's json-file log, which dockercri copies to the CRI log." },
  { name: 'docker-log-max-file', key: 'dockerLogMaxFile', type: 'int', default: '3', check: (v) => (Number(v) >= 2 && Number(v) <= 100 ? undefined : 'must be between 2 and 100'), help: "json-file logs Docker keeps per container: what covers a restart of dockercri is (max-file - 1) x max-size." },
  { name: 'log-level', key: 'logLevel', type: 'string', default: 'info', check: (v) => (LOG_LEVELS.includes(v.toLowerCase()) ? undefined : `must be one of ${LOG_LEVELS.join(', ')}`), help: 'Log level.' },
  { name: 'version', type: 'bool', help: 'Print the version and exit.' },
  { name: 'buildinfo', type: 'bool', help: 'Print build information and exit.' },
  { name: 'help', type: 'bool', help: 'Show this help.' },
];

const BY_NAME = new Map(FLAGS.map((f) => [f.name, f]));

function checkTyped(spec: FlagSpec, value: string): string | undefined {
  switch (spec.type) {
    case 'bool':
      return /^(true|false|1|0|t|f|T|F|TRUE|FALSE|True|False)$/.test(value) ? undefined : 'must be true or false';
    case 'int':
      return /^-?\d+$/.test(value) ? undefined : 'must be an integer';
    case 'duration': {
      const ms = parseDuration(value);
      return ms === undefined || ms < 0 ? 'must be a duration such as 2m0s, 30s or 500ms' : undefined;
    }
    default:
      return undefined;
  }
}

const truthy = (v: string): boolean => /^(true|1|t)$/i.test(v);

/** Parses argv (without node and script) the way Go's pflag would, then validates each value. */
export function parseFlags(argv: readonly string[]): ParseResult {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-h') {
      values.set('help', 'true');
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      return { kind: 'error', message: `unexpected argument "${arg}" (see --help)` };
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = BY_NAME.get(name);
    if (!spec) return { kind: 'error', message: `unknown flag: --${name} (see --help)` };
    let value: string;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (spec.type === 'bool') value = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined) return { kind: 'error', message: `flag needs an argument: --${name}` };
      value = next;
      i++;
    }
    const problem = checkTyped(spec, value) ?? spec.check?.(value);
    if (problem) return { kind: 'error', message: `invalid value "${value}" for --${name}: ${problem}` };
    values.set(name, value);
  }
  if (truthy(values.get('help') ?? 'false')) return { kind: 'help', text: helpText() };
  if (truthy(values.get('version') ?? 'false') || truthy(values.get('buildinfo') ?? 'false')) return { kind: 'version' };

  const config: Record<string, unknown> = {};
  for (const spec of FLAGS) {
    if (!spec.key) continue;
    const raw = values.get(spec.name) ?? spec.default;
    if (raw === undefined) {
      config[spec.key] = undefined;
      continue;
    }
    switch (spec.type) {
      case 'bool':
        config[spec.key] = truthy(raw);
        break;
      case 'int':
        config[spec.key] = Number(raw);
        break;
      case 'duration':
        config[spec.key] = parseDuration(raw);
        break;
      default:
        config[spec.key] = raw;
    }
  }
  config.cniBinDirs = String(config.cniBinDirs).split(',').map((d) => d.trim()).filter((d) => d !== '');
  config.logLevel = normalizeLevel(String(config.logLevel));
  return { kind: 'run', config: config as unknown as Config };
}

function normalizeLevel(level: string): Config['logLevel'] {
  const l = level.toLowerCase();
  if (l === 'warning') return 'warn';
  if (l === 'panic') return 'fatal';
  return l as Config['logLevel'];
}

/** The help lines of every daemon flag (shared with `dockercri doctor --help`). */
export function flagsHelp(): string[] {
  return FLAGS.map((f) => {
    const arg = f.type === 'bool' ? '' : ` ${f.type}`;
    const def = f.default !== undefined && f.default !== '' && f.type !== 'bool' ? ` (default ${f.type === 'duration' ? formatDuration(parseDuration(f.default) ?? 0) : JSON.stringify(f.default)})` : '';
    return `      --${f.name}${arg}\n          ${f.help}${def}`;
  });
}

export function helpText(): string {
  return [
    'dockercri: a Kubernetes CRI (runtime.v1) runtime on Docker Engine, a drop-in replacement for cri-dockerd.',
    '',
    'Usage:',
    '  dockercri [flags]',
    '  dockercri doctor [flags]   check this node before pointing kubelet at dockercri (see doctor --help)',
    '',
    'Flags:',
    ...flagsHelp(),
    '',
  ].join('\n');
}
