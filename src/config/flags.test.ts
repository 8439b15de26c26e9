import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';
import { type Config, flagsHelp, helpText, parseFlags, splitHostPort } from './flags.js';

function run(argv: string[]): Config {
  const result = parseFlags(argv);
  if (result.kind !== 'run') throw new Error(`expected a run config, got ${JSON.stringify(result)}`);
  return result.config;
}

function failure(argv: string[]): string {
  const result = parseFlags(argv);
  if (result.kind !== 'error') throw new Error(`expected an error, got ${JSON.stringify(result)}`);
  return result.message;
}

describe('parseFlags defaults', () => {
  const config = run([]);

  // cri-dockerd's own defaults, so dockercri can replace it with the same kubelet flags.
  it.each<[keyof Config, unknown]>([
    ['containerRuntimeEndpoint', 'unix:///var/run/cri-dockerd.sock'],
    ['dockerEndpoint', 'unix:///var/run/docker.sock'],
    ['podInfraContainerImage', 'registry.k8s.io/pause:3.10'],
    ['criDockerdRootDirectory', '/var/lib/cri-dockerd'],
    ['networkPlugin', 'cni'],
    ['cniBinDirs', ['/opt/cni/bin']],
    ['cniConfDir', '/etc/cni/net.d'],
    ['cniCacheDir', '/var/lib/cni/cache'],
    ['networkPluginMtu', 0],
    ['runtimeRequestTimeoutMs', 2 * 60_000],
    ['imagePullProgressDeadlineMs', 60_000],
    ['logLevel', 'info'],
    ['podCidr', ''],
    ['ipv6DualStack', false],
    ['hairpinMode', 'hairpin-veth'],
    ['runtimeCgroups', ''],
    ['streamingBindAddr', ''],
    ['streamingConnectionIdleTimeoutMs', 4 * 3_600_000],
    ['metricsBindAddr', ''],
    ['restrictOomScoreAdj', undefined],
    ['dockerLogMaxSize', '10m'],
    ['dockerLogMaxFile', 3],
  ])('%s defaults to %j', (key, want) => {
    expect(config[key]).toEqual(want);
  });

  it('sets every key of Config and no other', () => {
    expect(Object.keys(config).sort()).toEqual(
      [
        'containerRuntimeEndpoint', 'dockerEndpoint', 'podInfraContainerImage', 'criDockerdRootDirectory',
        'networkPlugin', 'cniBinDirs', 'cniConfDir', 'cniCacheDir', 'networkPluginMtu', 'podCidr',
        'ipv6DualStack', 'hairpinMode', 'runtimeCgroups', 'runtimeRequestTimeoutMs',
        'imagePullProgressDeadlineMs', 'streamingBindAddr', 'streamingConnectionIdleTimeoutMs', 'metricsBindAddr',
        'restrictOomScoreAdj', 'logLevel', 'dockerLogMaxSize', 'dockerLogMaxFile',
      ].sort(),
    );
  });
});

describe('parseFlags values', () => {
  it.each<[string, string[], Partial<Config>]>([
    ['--flag=value', ['--container-runtime-endpoint=unix:///run/x.sock'], { containerRuntimeEndpoint: 'unix:///run/x.sock' }],
    ['--flag value', ['--container-runtime-endpoint', 'unix:///run/x.sock'], { containerRuntimeEndpoint: 'unix:///run/x.sock' }],
    ['a bare socket path', ['--container-runtime-endpoint', '/run/x.sock'], { containerRuntimeEndpoint: '/run/x.sock' }],
    ['systemd socket activation', ['--container-runtime-endpoint', 'fd://'], { containerRuntimeEndpoint: 'fd://' }],
    ['a named systemd socket', ['--container-runtime-endpoint=fd://cri'], { containerRuntimeEndpoint: 'fd://cri' }],
    ['a value with "=" in it', ['--pod-infra-container-image=reg.example/pause:3.9'], { podInfraContainerImage: 'reg.example/pause:3.9' }],
    ['a tcp docker endpoint', ['--docker-endpoint', 'tcp://127.0.0.1:2375'], { dockerEndpoint: 'tcp://127.0.0.1:2375' }],
    ['an empty network plugin selects the bridge', ['--network-plugin='], { networkPlugin: '' }],
    ['an empty network plugin as the next argument', ['--network-plugin', ''], { networkPlugin: '' }],
    ['comma-separated cni-bin-dir', ['--cni-bin-dir=/opt/cni/bin, /usr/lib/cni,,/x'], { cniBinDirs: ['/opt/cni/bin', '/usr/lib/cni', '/x'] }],
    ['mtu', ['--network-plugin-mtu', '1450'], { networkPluginMtu: 1450 }],
    ['docker log size', ['--docker-log-max-size', '512k', '--docker-log-max-file', '2'], { dockerLogMaxSize: '512k', dockerLogMaxFile: 2 }],
    ['durations', ['--runtime-request-timeout=30s', '--image-pull-progress-deadline', '1m30s'], { runtimeRequestTimeoutMs: 30_000, imagePullProgressDeadlineMs: 90_000 }],
    ['a zero duration', ['--runtime-request-timeout=0'], { runtimeRequestTimeoutMs: 0 }],
    ['an IPv4 and IPv6 pod CIDR list', ['--pod-cidr=10.244.0.0/16,fd00::/64'], { podCidr: '10.244.0.0/16,fd00::/64' }],
    ['a bare bool', ['--ipv6-dual-stack'], { ipv6DualStack: true }],
    ['bool =true', ['--ipv6-dual-stack=true'], { ipv6DualStack: true }],
    ['bool =false', ['--ipv6-dual-stack=false'], { ipv6DualStack: false }],
    ['bool =1', ['--ipv6-dual-stack=1'], { ipv6DualStack: true }],
    ['bool =T (Go strconv.ParseBool)', ['--ipv6-dual-stack=T'], { ipv6DualStack: true }],
    ['bool =F', ['--ipv6-dual-stack=F'], { ipv6DualStack: false }],
    ['an optional bool, bare', ['--restrict-oom-score-adj'], { restrictOomScoreAdj: true }],
    ['an optional bool, =false', ['--restrict-oom-score-adj=false'], { restrictOomScoreAdj: false }],
    ['the last of a repeated flag wins', ['--log-level=debug', '--log-level=error'], { logLevel: 'error' }],
    ['log level in capitals', ['--log-level=DEBUG'], { logLevel: 'debug' }],
    ['log level warning is warn', ['--log-level', 'warning'], { logLevel: 'warn' }],
    ['log level panic is fatal', ['--log-level=panic'], { logLevel: 'fatal' }],
    ['hairpin mode', ['--hairpin-mode=promiscuous-bridge'], { hairpinMode: 'promiscuous-bridge' }],
    ['runtime cgroups', ['--runtime-cgroups=/system.slice/docker.service'], { runtimeCgroups: '/system.slice/docker.service' }],
    ['streaming bind IP', ['--streaming-bind-addr=0.0.0.0'], { streamingBindAddr: '0.0.0.0' }],
    ['streaming bind IP:port', ['--streaming-bind-addr=127.0.0.1:10010'], { streamingBindAddr: '127.0.0.1:10010' }],
    ['streaming bind [IPv6]:port', ['--streaming-bind-addr', '[::1]:10010'], { streamingBindAddr: '[::1]:10010' }],
    ['metrics bind IP:port', ['--metrics-bind-addr=127.0.0.1:9324'], { metricsBindAddr: '127.0.0.1:9324' }],
    ['metrics bind [IPv6]:port', ['--metrics-bind-addr', '[::]:9324'], { metricsBindAddr: '[::]:9324' }],
  ])('%s', (_name, argv, want) => {
    expect(run(argv)).toMatchObject(want);
  });

  it('leaves the other flags at their defaults', () => {
    const config = run(['--cni-conf-dir', '/tmp/net.d']);
    expect(config.cniConfDir).toBe('/tmp/net.d');
    expect({ ...config, cniConfDir: '/etc/cni/net.d' }).toEqual(run([]));
  });

  it('does not mistake a value that looks like a flag for one', () => {
    expect(run(['--pod-infra-container-image', '--help']).podInfraContainerImage).toBe('--help');
  });
});

describe('parseFlags help and version', () => {
  it.each([[['--help']], [['-h']], [['--help=true']], [['--log-level=debug', '--help']]])('%j asks for help', (argv) => {
    expect(parseFlags(argv).kind).toBe('help');
  });

  it.each([[['--version']], [['--buildinfo']]])('%j asks for the version', (argv) => {
    expect(parseFlags(argv).kind).toBe('version');
  });

  it('--version=false runs', () => {
    expect(parseFlags(['--version=false']).kind).toBe('run');
  });

  it('the help text names the doctor subcommand and carries the flag lines doctor --help reuses', () => {
    const text = helpText();
    expect(text).toContain('dockercri doctor [flags]');
    for (const line of flagsHelp()) expect(text).toContain(line);
    expect(flagsHelp().some((l) => l.startsWith('      --cni-bin-dir string\n'))).toBe(true);
  });

  it('the help text lists every flag with its cri-dockerd default', () => {
    const text = helpText();
    for (const want of [
      '--container-runtime-endpoint string',
      '(default "unix:///var/run/cri-dockerd.sock")',
      '(default "registry.k8s.io/pause:3.10")',
      '--runtime-request-timeout duration',
      '(default 2m0s)',
      '(default 1m0s)',
      '(default 4h0m0s)',
      '--ipv6-dual-stack\n',
      '--network-plugin-mtu int',
    ]) {
      expect(text).toContain(want);
    }
  });
});

describe('parseFlags errors', () => {
  it.each<[string, string[], RegExp]>([
    ['an unknown flag', ['--no-such-flag'], /^unknown flag: --no-such-flag/],
    ['an unknown flag with a value', ['--no-such-flag=1'], /^unknown flag: --no-such-flag /],
    ['a positional argument', ['serve'], /unexpected argument "serve"/],
    ['a single-dash flag', ['-log-level=info'], /unexpected argument "-log-level=info"/],
    ['a bare "--"', ['--'], /unexpected argument "--"/],
    ['a missing value', ['--log-level'], /^flag needs an argument: --log-level$/],
    ['a missing value after others', ['--ipv6-dual-stack', '--cni-conf-dir'], /^flag needs an argument: --cni-conf-dir$/],
    ['a bad bool', ['--ipv6-dual-stack=yes'], /invalid value "yes" for --ipv6-dual-stack: must be true or false/],
    ['an empty bool', ['--ipv6-dual-stack='], /for --ipv6-dual-stack: must be true or false/],
    ['a bad duration', ['--runtime-request-timeout=2 minutes'], /invalid value "2 minutes" for --runtime-request-timeout: must be a duration/],
    ['a duration without unit', ['--runtime-request-timeout', '120'], /--runtime-request-timeout: must be a duration/],
    ['a negative duration', ['--image-pull-progress-deadline=-1m'], /--image-pull-progress-deadline: must be a duration/],
    ['a bad int', ['--network-plugin-mtu=1500b'], /invalid value "1500b" for --network-plugin-mtu: must be an integer/],
    ['a docker log size too small', ['--docker-log-max-size=1k'], /invalid value "1k" for --docker-log-max-size: must be a size of at least 64k/],
    ['a docker log size that is none', ['--docker-log-max-size=lots'], /invalid value "lots" for --docker-log-max-size/],
    ['one docker log file', ['--docker-log-max-file=1'], /invalid value "1" for --docker-log-max-file: must be between 2 and 100/],
    ['a fractional int', ['--network-plugin-mtu=1.5'], /--network-plugin-mtu: must be an integer/],
    ['a negative mtu', ['--network-plugin-mtu=-1'], /--network-plugin-mtu: must be between 0 and 65535/],
    ['a too large mtu', ['--network-plugin-mtu=65536'], /--network-plugin-mtu: must be between 0 and 65535/],
    ['a CIDR without prefix length', ['--pod-cidr=10.0.0.0'], /invalid value "10.0.0.0" for --pod-cidr: must be a CIDR/],
    ['a CIDR with a too long prefix', ['--pod-cidr=10.0.0.0/33'], /--pod-cidr: must be a CIDR/],
    ['an IPv6 CIDR with a too long prefix', ['--pod-cidr=fd00::/129'], /--pod-cidr: must be a CIDR/],
    ['a CIDR of a host name', ['--pod-cidr=example.com/24'], /--pod-cidr: must be a CIDR/],
    ['a CIDR list with an empty entry', ['--pod-cidr=10.0.0.0/8,'], /--pod-cidr: must be a CIDR/],
    ['a CIDR with two slashes', ['--pod-cidr=10.0.0.0/8/8'], /--pod-cidr: must be a CIDR/],
    ['a tcp runtime endpoint', ['--container-runtime-endpoint=tcp://0.0.0.0:1234'], /--container-runtime-endpoint: must be unix:\/\/\/path\/to\/socket/],
    ['an empty unix endpoint', ['--container-runtime-endpoint=unix://'], /--container-runtime-endpoint: must be unix/],
    ['a relative endpoint', ['--container-runtime-endpoint=run/x.sock'], /--container-runtime-endpoint: must be unix/],
    ['an fd endpoint with a path', ['--container-runtime-endpoint=fd:///run/x.sock'], /--container-runtime-endpoint: must be unix:\/\/\/path\/to\/socket, or fd:\/\//],
    ['an http docker endpoint', ['--docker-endpoint=http://localhost:2375'], /--docker-endpoint: must be unix:\/\/\/path or tcp:\/\/host:port/],
    ['a tcp docker endpoint without port', ['--docker-endpoint=tcp://localhost'], /--docker-endpoint: must be/],
    ['an empty pause image', ['--pod-infra-container-image= '], /--pod-infra-container-image: must not be empty/],
    ['a relative root directory', ['--cri-dockerd-root-directory=var/lib/x'], /--cri-dockerd-root-directory: must be an absolute path/],
    ['a network plugin other than cni', ['--network-plugin=kubenet'], /invalid value "kubenet" for --network-plugin/],
    ['a bad log level', ['--log-level=verbose'], /invalid value "verbose" for --log-level: must be one of trace, debug, info/],
    ['a bad hairpin mode', ['--hairpin-mode=on'], /--hairpin-mode: must be promiscuous-bridge, hairpin-veth or none/],
    ['a relative runtime cgroup', ['--runtime-cgroups=docker'], /--runtime-cgroups: must be an absolute cgroup name/],
    ['a streaming address with a host name', ['--streaming-bind-addr=localhost:10010'], /--streaming-bind-addr: must be IP or IP:PORT/],
    ['a streaming port out of range', ['--streaming-bind-addr=127.0.0.1:65536'], /--streaming-bind-addr: must be IP or IP:PORT/],
    ['an unbracketed IPv6 address with port', ['--streaming-bind-addr=::1:80:x'], /--streaming-bind-addr: must be IP or IP:PORT/],
    ['a metrics address without a port', ['--metrics-bind-addr=127.0.0.1'], /--metrics-bind-addr: must be IP:PORT with a port from 1 to 65535/],
    ['a metrics address with port 0', ['--metrics-bind-addr=127.0.0.1:0'], /--metrics-bind-addr: must be IP:PORT/],
    ['a metrics port out of range', ['--metrics-bind-addr=0.0.0.0:65536'], /--metrics-bind-addr: must be IP:PORT/],
    ['a metrics address with a host name', ['--metrics-bind-addr=localhost:9324'], /--metrics-bind-addr: must be IP:PORT/],
    ['a metrics address that is a port alone', ['--metrics-bind-addr=:9324'], /--metrics-bind-addr: must be IP:PORT/],
  ])('%s', (_name, argv, want) => {
    expect(failure(argv)).toMatch(want);
  });

  it('reports the first bad flag even when help is asked for later', () => {
    expect(failure(['--bogus', '--help'])).toMatch(/unknown flag: --bogus/);
  });
});

describe('parseDuration', () => {
  it.each<[string, number]>([
    ['0', 0],
    ['-0', 0],
    ['0s', 0],
    ['2m0s', 120_000],
    ['2m', 120_000],
    ['1m', 60_000],
    ['30s', 30_000],
    ['1.5h', 5_400_000],
    ['1.15h', 4_140_000],
    ['1.1s', 1_100],
    ['300ms', 300],
    ['1h2m3s', 3_723_000],
    ['1h2m3s4ms', 3_723_004],
    ['4h0m0s', 14_400_000],
    ['.5s', 500],
    ['1.s', 1_000],
    ['+5s', 5_000],
    ['-1m30s', -90_000],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['1500μs', 1.5],
    ['2000000ns', 2],
    ['1ns', 0.000001],
    ['1s1s', 2_000],
    ['0.0000000015s', 0.000001],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '1', '120', 'm', 's1', '1 m', ' 1m', '1m ', '1d', '1M', '1H', '.s', '1..5s', '1.5.5s', '--1s', '1m-1s', 'one second', '1e3ms', 'Infinity'])(
    '%j is not a duration',
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );
});

describe('formatDuration', () => {
  it.each<[number, string]>([
    [0, '0s'],
    [120_000, '2m0s'],
    [60_000, '1m0s'],
    [3_600_000, '1h0m0s'],
    [14_400_000, '4h0m0s'],
    [3_723_000, '1h2m3s'],
    [5_400_000, '1h30m0s'],
    [30_000, '30s'],
    [1_000, '1s'],
    [1_500, '1.5s'],
    [61_500, '1m1.5s'],
    [500, '500ms'],
    [1.5, '1.5ms'],
    [0.5, '500µs'],
    [0.0015, '1.5µs'],
    [0.000001, '1ns'],
    [-90_000, '-1m30s'],
    [-500, '-500ms'],
    [100 * 3_600_000, '100h0m0s'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each(['2m0s', '1h2m3.5s', '500ms', '1.5µs', '7ns', '100h0m0s', '-1m30s'])('round-trips %s', (text) => {
    expect(formatDuration(parseDuration(text) as number)).toBe(text);
  });
});

describe('splitHostPort', () => {
  it.each<[string, { host: string; port: number } | undefined]>([
    ['127.0.0.1:9324', { host: '127.0.0.1', port: 9324 }],
    ['[::1]:80', { host: '::1', port: 80 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['127.0.0.1', undefined],
    ['::1:80', undefined],
    ['localhost:80', undefined],
    ['[127.0.0.1:80', undefined],
  ])('%s', (value, want) => {
    expect(splitHostPort(value)).toEqual(want);
  });
});
