// CniManager against recording fake plugins: what each plugin is given (stdin, env), in which
// order, and what is cached. The real plugins are exercised in integration/cni.test.ts.
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Code, CriError } from '../errors.js';
import { CniManager, type PodNetworkRequest } from './cni.js';

const FAKE_PLUGIN = `#!${process.execPath}
const fs = require('fs');
const path = require('path');
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const conf = JSON.parse(input);
  const env = {};
  for (const k of ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH']) env[k] = process.env[k];
  fs.appendFileSync(path.join(__dirname, '..', 'calls.log'), JSON.stringify({ type: path.basename(__filename), dir: path.basename(__dirname), env, conf }) + '\\n');
  const fake = conf.fake || {};
  const finish = () => {
    if (fake.fail === env.CNI_COMMAND) {
      if (fake.stderr) process.stderr.write(fake.stderr);
      if (fake.error) process.stdout.write(JSON.stringify(fake.error));
      process.exit(1);
    }
    if (env.CNI_COMMAND !== 'ADD') process.exit(0);
    const result = conf.prevResult
      ? { ...conf.prevResult, touchedBy: [...(conf.prevResult.touchedBy || []), path.basename(__filename)] }
      : { cniVersion: conf.cniVersion, interfaces: [{ name: 'host0' }, { name: env.CNI_IFNAME, sandbox: env.CNI_NETNS }], ips: fake.ip ? [{ address: fake.ip, interface: 1 }] : [] };
    process.stdout.write(JSON.stringify(result));
  };
  if (fake.sleepMs) setTimeout(finish, fake.sleepMs);
  else finish();
});
`;

interface Call {
  type: string;
  dir: string;
  env: Record<string, string>;
  conf: Record<string, unknown>;
}

const SANDBOX = '0123456789abcdef'.repeat(4);
const log = pino({ level: 'silent' });

let root: string;
let confDir: string;
let binA: string;
let binB: string;
let cacheDir: string;
let netns: string;

async function installFake(dir: string, type: string): Promise<void> {
  await writeFile(join(dir, type), FAKE_PLUGIN);
  await chmod(join(dir, type), 0o755);
}

async function calls(): Promise<Call[]> {
  try {
    return (await readFile(join(root, 'calls.log'), 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Call);
  } catch {
    return [];
  }
}

const summary = (list: Call[]): string[] => list.map((c) => `${c.env.CNI_COMMAND} ${c.type}`);

async function writeConf(plugins: unknown[], cniVersion = '1.0.0', name = 'podnet'): Promise<void> {
  await writeFile(join(confDir, '10-podnet.conflist'), JSON.stringify({ cniVersion, name, plugins }));
}

const manager = (over: Partial<ConstructorParameters<typeof CniManager>[0]> = {}): CniManager =>
  new CniManager({ confDir, binDirs: [binA, binB], cacheDir, mtu: 0, log, ...over });

const request = (over: Partial<PodNetworkRequest> = {}): PodNetworkRequest => ({
  sandboxId: SANDBOX,
  podName: 'web-0',
  podNamespace: 'shop',
  podUid: 'uid-1',
  netnsPath: netns,
  portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' }],
  ...over,
});

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'dcri-cni-unit-'));
  confDir = join(root, 'conf');
  binA = join(root, 'binA');
  binB = join(root, 'binB');
  cacheDir = join(root, 'cache');
  netns = join(root, 'netns');
  await Promise.all([mkdir(confDir), mkdir(binA), mkdir(binB)]);
  await writeFile(netns, '');
  for (const type of ['loopback', 'main', 'portmap']) await installFake(binB, type);
  await writeConf([{ type: 'main', fake: { ip: '10.88.0.5/16' } }, { type: 'portmap', capabilities: { portMappings: true } }]);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('setUp', () => {
  it('ADDs cni-loopback, then the chain in order, passing prevResult and declared capabilities', async () => {
    const result = await manager().setUp(request());
    expect(result).toEqual({ ips: ['10.88.0.5'], interfaceName: 'eth0' });
    const made = await calls();
    expect(summary(made)).toEqual(['ADD loopback', 'ADD main', 'ADD portmap']);
    const [lo, main, portmap] = made as [Call, Call, Call];
    expect(lo.conf).toEqual({ type: 'loopback', name: 'cni-loopback', cniVersion: '0.2.0' });
    for (const c of made) {
      expect(c.env).toEqual({
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: SANDBOX,
        CNI_NETNS: netns,
        CNI_IFNAME: 'eth0',
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=${SANDBOX};K8S_POD_UID=uid-1`,
        CNI_PATH: `${binA}:${binB}`,
      });
    }
    expect(main.conf).toEqual({ type: 'main', fake: { ip: '10.88.0.5/16' }, name: 'podnet', cniVersion: '1.0.0' });
    expect(portmap.conf.prevResult).toMatchObject({ cniVersion: '1.0.0', ips: [{ address: '10.88.0.5/16', interface: 1 }] });
    expect(portmap.conf.runtimeConfig).toEqual({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' }] });
  });

  it('caches both attachments in libcni format', async () => {
    await manager().setUp(request());
    expect((await readdir(join(cacheDir, 'results'))).sort()).toEqual([`cni-loopback-${SANDBOX}-eth0`, `podnet-${SANDBOX}-eth0`]);
    const cached = JSON.parse(await readFile(join(cacheDir, 'results', `podnet-${SANDBOX}-eth0`), 'utf8')) as Record<string, unknown>;
    expect(cached).toMatchObject({
      kind: 'cniCacheV1',
      containerId: SANDBOX,
      ifName: 'eth0',
      networkName: 'podnet',
      netns,
      cniArgs: [
        ['IgnoreUnknown', '1'],
        ['K8S_POD_NAMESPACE', 'shop'],
        ['K8S_POD_NAME', 'web-0'],
        ['K8S_POD_INFRA_CONTAINER_ID', SANDBOX],
        ['K8S_POD_UID', 'uid-1'],
      ],
      capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' }] },
      result: { cniVersion: '1.0.0', touchedBy: ['portmap'] },
    });
    expect(JSON.parse(Buffer.from(cached.config as string, 'base64').toString())).toMatchObject({ name: 'podnet', plugins: [{ type: 'main' }, { type: 'portmap' }] });
  });

  it('uses the first bin dir that has the plugin', async () => {
    await installFake(binA, 'main');
    await manager().setUp(request());
    expect((await calls()).map((c) => `${c.type}@${c.dir}`)).toEqual(['loopback@binB', 'main@binA', 'portmap@binB']);
  });

  it('injects --network-plugin-mtu into a bridge plugin only', async () => {
    await installFake(binB, 'bridge');
    await writeConf([{ type: 'bridge', fake: { ip: '10.88.0.5/16' } }, { type: 'portmap', capabilities: { portMappings: true } }]);
    await manager({ mtu: 1410 }).setUp(request());
    const made = await calls();
    expect(made[1]?.conf.mtu).toBe(1410);
    expect(made[2]?.conf.mtu).toBeUndefined();
  });

  it('a plugin error names plugin and pod, and what was added is deleted again', async () => {
    await writeConf([
      { type: 'main', fake: { ip: '10.88.0.5/16' } },
      { type: 'portmap', capabilities: { portMappings: true }, fake: { fail: 'ADD', error: { cniVersion: '1.0.0', code: 7, msg: 'Invalid Configuration', details: 'bad port' } } },
    ]);
    const err = (await manager().setUp(request()).catch((e: unknown) => e)) as CriError;
    expect(err).toBeInstanceOf(CriError);
    expect(err.code).toBe(Code.INTERNAL);
    expect(err.message).toBe(`network "podnet": CNI plugin "portmap" failed on ADD of pod shop/web-0 (sandbox 0123456789ab): Invalid Configuration: bad port (CNI error code 7)`);
    const made = await calls();
    expect(summary(made)).toEqual(['ADD loopback', 'ADD main', 'ADD portmap', 'DEL portmap', 'DEL main', 'DEL loopback']);
    // the failed plugin's DEL gets the last good result (spec 0.4.0+)
    expect(made[3]?.conf.prevResult).toMatchObject({ ips: [{ address: '10.88.0.5/16' }] });
    expect(made[5]?.conf.prevResult).toBeUndefined();
    expect(await readdir(join(cacheDir, 'results')).catch(() => [])).toEqual([]);
  });

  it('a missing plugin is named with the dirs searched; earlier plugins are deleted', async () => {
    await writeConf([{ type: 'main', fake: { ip: '10.88.0.5/16' } }, { type: 'nosuch' }]);
    const err = (await manager().setUp(request()).catch((e: unknown) => e)) as CriError;
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(err.message).toBe(`network "podnet": CNI plugin "nosuch" needed for ADD of pod shop/web-0 (sandbox 0123456789ab) is in none of ${binA}, ${binB}`);
    expect(summary(await calls())).toEqual(['ADD loopback', 'ADD main', 'DEL main', 'DEL loopback']);
  });

  it('kills a plugin that does not answer in time', async () => {
    await writeConf([{ type: 'main', fake: { ip: '10.88.0.5/16', sleepMs: 5000 } }]);
    const started = Date.now();
    const err = (await manager({ pluginTimeoutMs: 300 }).setUp(request()).catch((e: unknown) => e)) as CriError;
    expect(err.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(err.message).toMatch(/CNI plugin "main" failed on ADD of pod shop\/web-0 .*no answer within 0.3 s, killed/);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('stderr stands in for a plugin that writes no error JSON', async () => {
    await writeConf([{ type: 'main', fake: { fail: 'ADD', stderr: 'failed to open netns' } }]);
    await expect(manager().setUp(request())).rejects.toThrow(/CNI plugin "main" failed on ADD of pod shop\/web-0 \(sandbox 0123456789ab\): exit status 1: failed to open netns$/);
  });

  it('no network config is UNAVAILABLE and runs nothing', async () => {
    await rm(join(confDir, '10-podnet.conflist'));
    const err = (await manager().setUp(request()).catch((e: unknown) => e)) as CriError;
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(err.message).toMatch(/^set up network of pod shop\/web-0 \(sandbox 0123456789ab\): network plugin is not ready: cni config uninitialized/);
    expect(await calls()).toEqual([]);
  });

  it('a plugin declaring ipRanges needs a pod CIDR, and gets it', async () => {
    await writeConf([{ type: 'main', capabilities: { ipRanges: true }, fake: { ip: '10.244.1.2/24' } }]);
    await expect(manager().setUp(request())).rejects.toThrow(/needs ipRanges but no pod CIDR is set/);
    await manager({ podCidr: () => '10.244.1.0/24' }).setUp(request());
    expect((await calls())[1]?.conf.runtimeConfig).toEqual({ ipRanges: [[{ subnet: '10.244.1.0/24' }]] });
  });

  it('rejects bad ids and CNI_ARGS-breaking names before running anything', async () => {
    await expect(manager().setUp(request({ sandboxId: '../x' }))).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(manager().setUp(request({ podName: 'a;b' }))).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    await expect(manager().setUp(request({ netnsPath: '' }))).rejects.toMatchObject({ code: Code.INVALID_ARGUMENT });
    expect(await calls()).toEqual([]);
  });
});

describe('tearDown', () => {
  it('DELs in reverse with the cached result and args, loopback last, and drops the cache', async () => {
    await manager().setUp(request());
    await rm(join(root, 'calls.log'));
    await manager().tearDown(SANDBOX, netns);
    const made = await calls();
    expect(summary(made)).toEqual(['DEL portmap', 'DEL main', 'DEL loopback']);
    const [portmap, main, lo] = made as [Call, Call, Call];
    expect(portmap.conf.prevResult).toMatchObject({ touchedBy: ['portmap'] });
    expect(main.conf.prevResult).toMatchObject({ touchedBy: ['portmap'] });
    expect(lo.conf.prevResult).toBeUndefined();
    expect(portmap.conf.runtimeConfig).toEqual({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' }] });
    expect(portmap.env.CNI_NETNS).toBe(netns);
    expect(portmap.env.CNI_ARGS).toContain('K8S_POD_NAME=web-0');
    expect(await readdir(join(cacheDir, 'results'))).toEqual([]);
  });

  it('gives the bandwidth capability to the plugin declaring it, on ADD and, from the cache, on DEL', async () => {
    await installFake(binB, 'bandwidth');
    await writeConf([{ type: 'main', fake: { ip: '10.88.0.5/16' } }, { type: 'portmap', capabilities: { portMappings: true } }, { type: 'bandwidth', capabilities: { bandwidth: true } }]);
    const bandwidth = { ingressRate: 1_000_000, ingressBurst: 2_147_483_647, egressRate: 2_000_000, egressBurst: 2_147_483_647 };
    await manager().setUp(request({ bandwidth }));
    const added = await calls();
    expect(summary(added)).toEqual(['ADD loopback', 'ADD main', 'ADD portmap', 'ADD bandwidth']);
    expect(added[3]?.conf.runtimeConfig).toEqual({ bandwidth });
    expect(added[2]?.conf.runtimeConfig).not.toHaveProperty('bandwidth');
    expect(added[1]?.conf).not.toHaveProperty('runtimeConfig');
    await rm(join(root, 'calls.log'));
    // a new process, as after a restart: only the cache knows the pod's limits
    await manager().tearDown(SANDBOX, netns);
    const deleted = await calls();
    expect(summary(deleted)).toEqual(['DEL bandwidth', 'DEL portmap', 'DEL main', 'DEL loopback']);
    expect(deleted[0]?.conf.runtimeConfig).toEqual({ bandwidth });
  });

  it('gives no bandwidth capability to a pod without limits', async () => {
    await installFake(binB, 'bandwidth');
    await writeConf([{ type: 'main', fake: { ip: '10.88.0.5/16' } }, { type: 'bandwidth', capabilities: { bandwidth: true } }]);
    await manager().setUp(request());
    const added = await calls();
    expect(summary(added)).toEqual(['ADD loopback', 'ADD main', 'ADD bandwidth']);
    expect(added[2]?.conf).not.toHaveProperty('runtimeConfig');
  });

  it('uses the cached config after the config changed, and an empty CNI_NETNS when the netns is gone', async () => {
    await manager().setUp(request());
    await writeConf([{ type: 'other' }], '1.0.0', 'othernet');
    await rm(join(root, 'calls.log'));
    await manager().tearDown(SANDBOX, join(root, 'gone'));
    const made = await calls();
    expect(summary(made)).toEqual(['DEL portmap', 'DEL main', 'DEL loopback']);
    expect(made.every((c) => c.env.CNI_NETNS === '')).toBe(true);
    expect(made[0]?.conf.name).toBe('podnet');
  });

  it('is a no-op the second time in one process, and harmless after a restart', async () => {
    const cni = manager();
    await cni.setUp(request());
    await cni.tearDown(SANDBOX);
    await rm(join(root, 'calls.log'));
    await cni.tearDown(SANDBOX);
    expect(await calls()).toEqual([]);
    // a new process has no memory: with no cache it DELs the current network, which plugins accept
    await manager().tearDown(SANDBOX, undefined, { podName: 'web-0', podNamespace: 'shop', podUid: 'uid-1', portMappings: [] });
    const made = await calls();
    expect(summary(made)).toEqual(['DEL portmap', 'DEL main']);
    expect(made[0]?.conf.prevResult).toBeUndefined();
    expect(made[0]?.conf.runtimeConfig).toEqual({ portMappings: [] });
    expect(made[0]?.env.CNI_ARGS).toContain('K8S_POD_NAME=web-0');
  });

  it('with no cache and no config there is nothing to do', async () => {
    await rm(join(confDir, '10-podnet.conflist'));
    await expect(manager().tearDown(SANDBOX)).resolves.toBeUndefined();
    expect(await calls()).toEqual([]);
  });

  it('a failing DEL keeps the cache for the retry; a failing loopback DEL does not block', async () => {
    await manager().setUp(request());
    await writeFile(join(binB, 'portmap'), '#!/bin/sh\necho \'{"code":11,"msg":"iptables locked"}\'\nexit 1\n');
    const err = (await manager().tearDown(SANDBOX).catch((e: unknown) => e)) as CriError;
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(err.message).toBe('network "podnet": CNI plugin "portmap" failed on DEL of pod shop/web-0 (sandbox 0123456789ab): iptables locked (CNI error code 11)');
    expect((await readdir(join(cacheDir, 'results'))).sort()).toEqual([`cni-loopback-${SANDBOX}-eth0`, `podnet-${SANDBOX}-eth0`]);
    await installFake(binB, 'portmap');
    await rm(join(binB, 'loopback'));
    await manager().tearDown(SANDBOX);
    expect(await readdir(join(cacheDir, 'results'))).toEqual([]);
  });
});

describe('cachedResult', () => {
  it('answers from memory, from the cache after a restart, and not after teardown', async () => {
    const cni = manager();
    await cni.setUp(request());
    expect(await cni.cachedResult(SANDBOX)).toEqual({ ips: ['10.88.0.5'], interfaceName: 'eth0' });
    expect(await manager().cachedResult(SANDBOX)).toEqual({ ips: ['10.88.0.5'], interfaceName: 'eth0' });
    await cni.tearDown(SANDBOX);
    expect(await cni.cachedResult(SANDBOX)).toBeUndefined();
    expect(await manager().cachedResult('f'.repeat(64))).toBeUndefined();
  });
});

describe('per-sandbox order', () => {
  it('never runs ADD and DEL of one sandbox at once', async () => {
    await writeConf([{ type: 'main', fake: { ip: '10.88.0.5/16', sleepMs: 200 } }, { type: 'portmap', capabilities: { portMappings: true } }]);
    const cni = manager();
    await Promise.all([cni.setUp(request()), cni.tearDown(SANDBOX)]);
    expect(summary(await calls())).toEqual(['ADD loopback', 'ADD main', 'ADD portmap', 'DEL portmap', 'DEL main', 'DEL loopback']);
  });
});
