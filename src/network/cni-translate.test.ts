import { describe, expect, it } from 'vitest';
import {
  LOOPBACK_NETWORK,
  badCniArg,
  buildPluginConfig,
  compareVersions,
  delTakesPrevResult,
  formatCniArgs,
  isValidCniName,
  parsePluginFailure,
  parseResult,
  pluginEnv,
  pluginRuntimeConfig,
  podCapabilityArgs,
  podCniArgs,
  podIps,
  type CniNetworkList,
} from './cni-translate.js';

const SANDBOX = 'a'.repeat(64);
const pod = { sandboxId: SANDBOX, podName: 'web-0', podNamespace: 'shop', podUid: '7c9e6679-7425-40de-944b-e07fc1f90ae7' };

describe('CNI_ARGS', () => {
  it('carries IgnoreUnknown and the pod identity, in cri-dockerd order plus the UID', () => {
    const args = podCniArgs(pod);
    expect(formatCniArgs(args)).toBe(
      `IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=${SANDBOX};K8S_POD_UID=7c9e6679-7425-40de-944b-e07fc1f90ae7`,
    );
    expect(badCniArg(args)).toBeUndefined();
  });

  it('rejects values that would break the k=v;k=v syntax', () => {
    expect(badCniArg(podCniArgs({ ...pod, podName: 'a;b' }))).toBe('K8S_POD_NAME=a;b');
    expect(badCniArg([['K=Y', 'v']])).toBe('K=Y=v');
  });

  it('is part of the plugin environment with the other CNI_ variables', () => {
    const env = pluginEnv('DEL', { containerId: SANDBOX, netns: '', ifName: 'eth0', cniArgs: [['IgnoreUnknown', '1']], capabilityArgs: {} }, ['/opt/cni/bin', '/usr/lib/cni']);
    expect(env).toEqual({
      CNI_COMMAND: 'DEL',
      CNI_CONTAINERID: SANDBOX,
      CNI_NETNS: '',
      CNI_ARGS: 'IgnoreUnknown=1',
      CNI_IFNAME: 'eth0',
      CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
    });
  });
});

describe('names', () => {
  it.each([
    [SANDBOX, true],
    ['k8s-pod-network', true],
    ['net_1.v2', true],
    ['', false],
    ['-x', false],
    ['a/b', false],
    ['../x', false],
  ])('%j valid: %s', (name, valid) => {
    expect(isValidCniName(name)).toBe(valid);
  });
});

describe('capability args', () => {
  it('always has portMappings (hostPort 0 dropped, protocol lower case)', () => {
    const caps = podCapabilityArgs(
      [
        { hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' },
        { hostPort: 0, containerPort: 81, protocol: 'tcp', hostIP: '' },
        { hostPort: 5353, containerPort: 53, protocol: 'UDP' as 'udp', hostIP: '127.0.0.1' },
      ],
      undefined,
      '',
    );
    expect(caps).toEqual({
      portMappings: [
        { hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' },
        { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '127.0.0.1' },
      ],
    });
    expect(podCapabilityArgs([], undefined, '')).toEqual({ portMappings: [] });
  });

  it('adds dns without empty lists, and ipRanges from the pod CIDRs', () => {
    expect(podCapabilityArgs([], { servers: ['10.96.0.10'], searches: [], options: ['ndots:5'] }, '10.244.1.0/24,fd00:1::/64')).toEqual({
      portMappings: [],
      dns: { servers: ['10.96.0.10'], options: ['ndots:5'] },
      ipRanges: [[{ subnet: '10.244.1.0/24' }], [{ subnet: 'fd00:1::/64' }]],
    });
    expect(podCapabilityArgs([], { servers: [], searches: [], options: [] }, '')).toEqual({ portMappings: [] });
  });

  it('adds bandwidth only when the pod asks for a limit, and only for plugins that declare it', () => {
    const bandwidth = { ingressRate: 1_000_000, ingressBurst: 2_147_483_647 };
    const caps = podCapabilityArgs([], undefined, '', bandwidth);
    expect(caps).toEqual({ portMappings: [], bandwidth });
    expect(podCapabilityArgs([], undefined, '', undefined)).not.toHaveProperty('bandwidth');
    expect(pluginRuntimeConfig({ type: 'bandwidth', capabilities: { bandwidth: true } }, caps)).toEqual({ bandwidth });
    expect(pluginRuntimeConfig({ type: 'bandwidth', capabilities: { bandwidth: false } }, caps)).toBeUndefined();
    expect(pluginRuntimeConfig({ type: 'portmap', capabilities: { portMappings: true } }, caps)).toEqual({ portMappings: [] });
  });
});

describe('per-plugin config', () => {
  const list: CniNetworkList = {
    name: 'podnet',
    cniVersion: '1.0.0',
    plugins: [
      { type: 'bridge', bridge: 'cni0', ipam: { type: 'host-local', subnet: '10.88.0.0/16' } },
      { type: 'portmap', capabilities: { portMappings: true, bandwidth: false } },
      { type: 'tuning', capabilities: { dns: true }, runtimeConfig: { static: 1 } },
      { type: 'ptp', mtu: 1400 },
    ],
  };
  const caps = { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' }], bandwidth: { ingressRate: 1 } };
  const prev = { cniVersion: '1.0.0', ips: [{ address: '10.88.0.5/16' }] };

  it('sets name and cniVersion, no prevResult on the first ADD, no runtimeConfig without declared capabilities', () => {
    expect(buildPluginConfig({ list, plugin: list.plugins[0]!, capabilityArgs: caps, mtu: 0 })).toEqual({
      type: 'bridge',
      bridge: 'cni0',
      ipam: { type: 'host-local', subnet: '10.88.0.0/16' },
      name: 'podnet',
      cniVersion: '1.0.0',
    });
  });

  it('overrides a name/cniVersion the plugin entry carries itself', () => {
    const conf = buildPluginConfig({ list, plugin: { type: 'bridge', name: 'other', cniVersion: '0.3.1' }, capabilityArgs: {}, mtu: 0 });
    expect(conf.name).toBe('podnet');
    expect(conf.cniVersion).toBe('1.0.0');
  });

  it('passes only declared and enabled capabilities, with the previous result', () => {
    expect(buildPluginConfig({ list, plugin: list.plugins[1]!, prevResult: prev, capabilityArgs: caps, mtu: 0 })).toEqual({
      type: 'portmap',
      capabilities: { portMappings: true, bandwidth: false },
      name: 'podnet',
      cniVersion: '1.0.0',
      prevResult: prev,
      runtimeConfig: { portMappings: caps.portMappings },
    });
  });

  it('keeps a static runtimeConfig when no capability applies, as libcni does', () => {
    const conf = buildPluginConfig({ list, plugin: list.plugins[2]!, capabilityArgs: caps, mtu: 0 });
    expect(conf.runtimeConfig).toEqual({ static: 1 });
    const withDns = buildPluginConfig({ list, plugin: list.plugins[2]!, capabilityArgs: { dns: { servers: ['1.1.1.1'] } }, mtu: 0 });
    expect(withDns.runtimeConfig).toEqual({ dns: { servers: ['1.1.1.1'] } });
  });

  it('injects mtu only into link-creating plugins that have none', () => {
    expect(buildPluginConfig({ list, plugin: list.plugins[0]!, capabilityArgs: {}, mtu: 1450 }).mtu).toBe(1450);
    expect(buildPluginConfig({ list, plugin: list.plugins[0]!, capabilityArgs: {}, mtu: 0 }).mtu).toBeUndefined();
    expect(buildPluginConfig({ list, plugin: list.plugins[1]!, capabilityArgs: {}, mtu: 1450 }).mtu).toBeUndefined();
    expect(buildPluginConfig({ list, plugin: list.plugins[3]!, capabilityArgs: {}, mtu: 1450 }).mtu).toBe(1400);
  });

  it('does not touch the plugin entry it was given', () => {
    const plugin = { type: 'portmap', capabilities: { portMappings: true } };
    buildPluginConfig({ list, plugin, prevResult: prev, capabilityArgs: caps, mtu: 1500 });
    expect(plugin).toEqual({ type: 'portmap', capabilities: { portMappings: true } });
  });

  it('runtimeConfig is undefined when nothing matches', () => {
    expect(pluginRuntimeConfig({ type: 'x', capabilities: { portMappings: true } }, {})).toBeUndefined();
    expect(pluginRuntimeConfig({ type: 'x', capabilities: 'yes' }, caps)).toBeUndefined();
  });
});

describe('versions', () => {
  it('compares numerically', () => {
    expect(compareVersions('0.10.0', '0.4.0')).toBe(1);
    expect(compareVersions('0.4', '0.4.0')).toBe(0);
    expect(compareVersions('0.3.1', '0.4.0')).toBe(-1);
  });

  it('gives DEL a prevResult from 0.4.0 on', () => {
    expect(delTakesPrevResult('0.3.1')).toBe(false);
    expect(delTakesPrevResult('0.4.0')).toBe(true);
    expect(delTakesPrevResult('1.0.0')).toBe(true);
    expect(delTakesPrevResult(LOOPBACK_NETWORK.cniVersion)).toBe(false);
  });
});

describe('results', () => {
  // the bridge plugin's 1.0.0 result: host bridge, host veth, pod eth0
  const v100 = {
    cniVersion: '1.0.0',
    interfaces: [
      { name: 'cni0', mac: '6e:1b:00:00:00:01' },
      { name: 'veth1234', mac: '6e:1b:00:00:00:02' },
      { name: 'eth0', mac: '6e:1b:00:00:00:03', sandbox: '/proc/42/ns/net' },
    ],
    ips: [
      { address: 'fd00:88::5/64', gateway: 'fd00:88::1', interface: 2 },
      { address: '10.88.0.5/16', gateway: '10.88.0.1', interface: 2 },
      { address: '10.88.0.1/16', interface: 0 },
    ],
    routes: [{ dst: '0.0.0.0/0' }],
    dns: {},
  };

  it('1.0.0/0.4.0: the sandbox interface addresses, IPv4 first, no prefix', () => {
    expect(podIps(v100, 'eth0')).toEqual(['10.88.0.5', 'fd00:88::5']);
  });

  it('0.3.1 with "version" keys reads the same', () => {
    const v031 = { ...v100, cniVersion: '0.3.1', ips: [{ version: '4', address: '10.1.2.3/24', interface: 2 }] };
    expect(podIps(v031, 'eth0')).toEqual(['10.1.2.3']);
  });

  it('takes addresses with no interface index when nothing says sandbox', () => {
    expect(podIps({ cniVersion: '0.4.0', ips: [{ address: '10.0.0.9/8' }, { address: '10.0.0.9/8' }] }, 'eth0')).toEqual(['10.0.0.9']);
  });

  it('prefers the named interface among sandbox interfaces, then any sandbox interface', () => {
    const two = {
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'net1', sandbox: '/ns' },
        { name: 'eth0', sandbox: '/ns' },
      ],
      ips: [
        { address: '192.168.0.2/24', interface: 0 },
        { address: '10.0.0.2/24', interface: 1 },
      ],
    };
    expect(podIps(two, 'eth0')).toEqual(['10.0.0.2']);
    expect(podIps(two, 'eth9')).toEqual(['192.168.0.2', '10.0.0.2']);
  });

  it('0.1.0/0.2.0: ip4 and ip6', () => {
    const v020 = { cniVersion: '0.2.0', ip4: { ip: '10.22.0.4/16', gateway: '10.22.0.1', routes: [] }, ip6: { ip: 'fd00::4/64' }, dns: {} };
    expect(podIps(v020, 'eth0')).toEqual(['10.22.0.4', 'fd00::4']);
    expect(podIps({ cniVersion: '0.2.0', ip6: { ip: 'fd00::4/64' } }, 'eth0')).toEqual(['fd00::4']);
  });

  it('nothing usable gives no IP', () => {
    expect(podIps({ cniVersion: '0.2.0', dns: {} }, 'eth0')).toEqual([]);
    expect(podIps({ cniVersion: '1.0.0', ips: [{ address: 'not-an-ip/24' }] }, 'eth0')).toEqual([]);
  });

  it('parses stdout, filling in a missing cniVersion from the config (libcni fixupResultVersion)', () => {
    expect(parseResult('{"cniVersion":"0.4.0","ips":[]}', '1.0.0')).toEqual({ cniVersion: '0.4.0', ips: [] });
    expect(parseResult('{"ips":[]}\n', '1.0.0')).toEqual({ cniVersion: '1.0.0', ips: [] });
    expect(parseResult('null', '0.3.1')).toEqual({ cniVersion: '0.3.1' });
    expect(parseResult('garbage', '1.0.0')).toMatch(/not JSON: "garbage"/);
    expect(parseResult('[1]', '1.0.0')).toBe('its output is not a JSON object');
  });
});

describe('plugin failures', () => {
  it('reads the spec error JSON: code, msg, details', () => {
    const out = JSON.stringify({ cniVersion: '1.0.0', code: 7, msg: 'Invalid Configuration', details: 'Network 192.168.0.0/31 too small' });
    expect(parsePluginFailure(out, 'ignored', 'exit status 1')).toEqual({ code: 7, message: 'Invalid Configuration: Network 192.168.0.0/31 too small' });
    expect(parsePluginFailure('{"code":11,"msg":"busy"}', '', 'exit status 1')).toEqual({ code: 11, message: 'busy' });
  });

  it('falls back to raw stdout, then stderr, then the exit status', () => {
    expect(parsePluginFailure('panic: boom', '', 'exit status 2')).toEqual({ message: 'exit status 2: panic: boom' });
    expect(parsePluginFailure('', 'no such device\n', 'exit status 1')).toEqual({ message: 'exit status 1: no such device' });
    expect(parsePluginFailure('', '', 'killed by SIGSEGV')).toEqual({ message: 'killed by SIGSEGV, no output' });
    expect(parsePluginFailure('{"code":3}', '', 'exit status 1')).toEqual({ code: 3, message: 'exit status 1, no message' });
  });
});
