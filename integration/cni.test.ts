// CniManager with Debian's real CNI plugins (bridge, host-local, portmap, loopback) on network
// namespaces this test creates. No Docker and no traffic: only the state the plugins leave
// (addresses in the netns, host-local's store, iptables nat rules, libcni's cache) is checked.
// Everything is uniquely named, so the file can run next to any other test, and removed at the end.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CriError } from '../src/errors.js';
import { CniManager, type PodNetworkRequest } from '../src/network/cni.js';
import { cacheResults, freeSubnet, removeNatRules } from './cni-net.js';
import { freePort } from './pods.js';

const run = promisify(execFile);
const sh = async (cmd: string, ...args: string[]): Promise<string> => (await run(cmd, args, { maxBuffer: 16 << 20 })).stdout;

const PLUGINS = '/usr/lib/cni';
const STORE_ROOT = '/var/lib/cni/networks';
const log = pino({ level: process.env.DCRI_TEST_LOG ?? 'silent' });

const tag = randomBytes(3).toString('hex');
const netName = `dcri-net-${tag}`;
const bridge = `dcri-br${tag}`;
const store = join(STORE_ROOT, netName);

let root: string;
let confDir: string;
let cacheDir: string;
let prefix: string; // "10.a.b", the test's /24
const namespaces: string[] = [];
const sandboxes = new Map<string, number>(); // sandbox id -> its host port (0: none)

/** A /24 in 10.200-249.x that no route or address on this host touches yet. */

async function newNetns(): Promise<{ name: string; path: string }> {
  const name = `dcri-${tag}-${namespaces.length}`;
  namespaces.push(name);
  await sh('ip', 'netns', 'add', name);
  return { name, path: `/var/run/netns/${name}` };
}

function newSandbox(hostPort = 0): string {
  const id = randomBytes(32).toString('hex');
  sandboxes.set(id, hostPort);
  return id;
}

const manager = (dir = confDir, binDirs = [PLUGINS]): CniManager => new CniManager({ confDir: dir, binDirs, cacheDir, mtu: 0, log });

function request(sandboxId: string, netnsPath: string, hostPort: number): PodNetworkRequest {
  return {
    sandboxId,
    podName: `pod-${sandboxId.slice(0, 6)}`,
    podNamespace: 'cni-test',
    podUid: `uid-${sandboxId.slice(0, 8)}`,
    netnsPath,
    portMappings: hostPort > 0 ? [{ hostPort, containerPort: 80, protocol: 'tcp', hostIP: '' }] : [],
  };
}

function conflist(extra: unknown[] = []): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: netName,
    plugins: [
      { type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: `${prefix}.0/24` }]], routes: [{ dst: '0.0.0.0/0' }] } },
      { type: 'portmap', capabilities: { portMappings: true } },
      ...extra,
    ],
  });
}

/** IP files in host-local's store; with `sandboxId`, only those it holds. */
async function storedIps(sandboxId?: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(store);
  } catch {
    return [];
  }
  const ips: string[] = [];
  for (const name of names.filter((n) => isIP(n) !== 0)) {
    const holder = await readFile(join(store, name), 'utf8').catch(() => '');
    if (sandboxId === undefined || holder.includes(sandboxId)) ips.push(name);
  }
  return ips;
}

const natRules = (): Promise<string> => sh('iptables', '-t', 'nat', '-S');

async function netnsIpv4(name: string): Promise<string[]> {
  const out = await sh('ip', 'netns', 'exec', name, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0');
  return [...out.matchAll(/inet (\S+)\//g)].map((m) => m[1] as string);
}



/** Removes nat rules and per-container chains left for this test's sandboxes (only after a failure). */

beforeAll(async () => {
  prefix = await freeSubnet(200, 250);
  root = await mkdtemp(join(tmpdir(), 'dcri-cni-integ-'));
  confDir = join(root, 'conf');
  cacheDir = join(root, 'cache');
  await sh('mkdir', '-p', confDir);
  await writeFile(join(confDir, '10-test.conflist'), conflist());
});

afterAll(async () => {
  const cleaner = manager();
  for (const [id, hostPort] of sandboxes) {
    await cleaner.tearDown(id, undefined, { ...request(id, '', hostPort) }).catch(() => undefined);
  }
  await removeNatRules((rule) => [...sandboxes.keys()].some((id) => rule.includes(id))).catch(() => undefined);
  for (const name of namespaces) await run('ip', ['netns', 'del', name]).catch(() => undefined);
  await run('ip', ['link', 'del', bridge]).catch(() => undefined);
  await rm(store, { recursive: true, force: true });
  if (root) await rm(root, { recursive: true, force: true });
});

describe('CniManager with the real plugins', () => {
  it('sets a pod up (IP in the netns, hostport rules, libcni cache) and tears it all down, twice', async () => {
    const ns = await newNetns();
    const hostPort = await freePort();
    const id = newSandbox(hostPort);
    const cni = manager();

    const result = await cni.setUp(request(id, ns.path, hostPort));
    expect(result.interfaceName).toBe('eth0');
    expect(result.ips).toHaveLength(1);
    const ip = result.ips[0] as string;
    expect(ip.startsWith(`${prefix}.`)).toBe(true);
    expect(ip).not.toBe(`${prefix}.1`); // the gateway, on the bridge
    expect(await netnsIpv4(ns.name)).toEqual([ip]);
    expect(await sh('ip', 'netns', 'exec', ns.name, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'lo')).toContain('inet 127.0.0.1/8'); // cni-loopback
    expect(await storedIps(id)).toEqual([ip]);
    const rules = await natRules();
    expect(rules).toContain(`--dport ${hostPort}`);
    expect(rules).toContain(id);
    expect(await cacheResults(cacheDir)).toEqual([`cni-loopback-${id}-eth0`, `${netName}-${id}-eth0`]);
    const cached = JSON.parse(await readFile(join(cacheDir, 'results', `${netName}-${id}-eth0`), 'utf8')) as Record<string, unknown>;
    expect(cached).toMatchObject({ kind: 'cniCacheV1', containerId: id, ifName: 'eth0', networkName: netName, netns: ns.path });
    expect(JSON.parse(Buffer.from(cached.config as string, 'base64').toString())).toMatchObject({ name: netName, plugins: [{ type: 'bridge' }, { type: 'portmap' }] });
    expect(await cni.cachedResult(id)).toEqual(result);

    await cni.tearDown(id, ns.path);
    expect(await storedIps(id)).toEqual([]);
    const after = await natRules();
    expect(after).not.toContain(`--dport ${hostPort}`);
    expect(after).not.toContain(id);
    expect(await cacheResults(cacheDir)).toEqual([]);
    await expect(netnsIpv4(ns.name)).rejects.toThrow(); // eth0 is gone
    expect(await cni.cachedResult(id)).toBeUndefined();

    await expect(cni.tearDown(id, ns.path)).resolves.toBeUndefined();
    await expect(manager().tearDown(id, ns.path)).resolves.toBeUndefined();
  });

  it('tears down from the cache in a new process, after the network config is gone', async () => {
    const ns = await newNetns();
    const hostPort = await freePort();
    const id = newSandbox(hostPort);
    const { ips } = await manager().setUp(request(id, ns.path, hostPort));
    expect(await storedIps(id)).toEqual(ips);

    // a restarted dockercri: new manager, and meanwhile the admin removed the config
    const otherConf = join(root, 'empty-conf');
    await sh('mkdir', '-p', otherConf);
    const restarted = manager(otherConf);
    expect(await restarted.cachedResult(id)).toEqual({ ips, interfaceName: 'eth0' });
    await restarted.tearDown(id, ns.path);
    expect(await storedIps(id)).toEqual([]);
    expect(await natRules()).not.toContain(id);
    expect(await cacheResults(cacheDir)).toEqual([]);
  });

  it('releases the IP and the rules when the netns is already gone', async () => {
    const ns = await newNetns();
    const hostPort = await freePort();
    const id = newSandbox(hostPort);
    await manager().setUp(request(id, ns.path, hostPort));
    await sh('ip', 'netns', 'del', ns.name);
    expect(existsSync(ns.path)).toBe(false);

    await manager().tearDown(id, ns.path);
    expect(await storedIps(id)).toEqual([]);
    expect(await natRules()).not.toContain(id);
    expect(await cacheResults(cacheDir)).toEqual([]);
  });

  it('fails an ADD with a missing plugin by name, leaving no IP, rule or cache', async () => {
    const missing = `dcri-missing-${tag}`;
    const badConf = join(root, 'bad-conf');
    await sh('mkdir', '-p', badConf);
    await writeFile(join(badConf, '10-test.conflist'), conflist([{ type: missing }]));
    const ns = await newNetns();
    const hostPort = await freePort();
    const id = newSandbox(hostPort);

    const err = (await manager(badConf, [join(root, 'no-such-dir'), PLUGINS]).setUp(request(id, ns.path, hostPort)).catch((e: unknown) => e)) as CriError;
    expect(err).toBeInstanceOf(CriError);
    expect(err.message).toContain(`CNI plugin "${missing}" needed for ADD of pod cni-test/pod-${id.slice(0, 6)}`);
    expect(err.message).toContain(`${join(root, 'no-such-dir')}, ${PLUGINS}`);
    expect(await storedIps(id)).toEqual([]);
    expect(await natRules()).not.toContain(id);
    expect(await cacheResults(cacheDir)).toEqual([]);
    await expect(netnsIpv4(ns.name)).rejects.toThrow();
  });

  it('gives 10 concurrent pods distinct IPs, and takes them all back', async () => {
    const cni = manager();
    const pods = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const ns = await newNetns();
        const hostPort = await freePort();
        return { ns, hostPort, id: newSandbox(hostPort) };
      }),
    );
    const results = await Promise.all(pods.map((p) => cni.setUp(request(p.id, p.ns.path, p.hostPort))));
    const ips = results.map((r) => r.ips[0] as string);
    expect(new Set(ips).size).toBe(10);
    for (const [i, p] of pods.entries()) {
      expect(ips[i]?.startsWith(`${prefix}.`)).toBe(true);
      expect(await netnsIpv4(p.ns.name)).toEqual([ips[i]]);
    }
    await Promise.all(pods.map((p) => cni.tearDown(p.id, p.ns.path)));
    expect(await storedIps()).toEqual([]);
    const rules = await natRules();
    for (const p of pods) expect(rules).not.toContain(p.id);
    expect(await cacheResults(cacheDir)).toEqual([]);
  });
});
