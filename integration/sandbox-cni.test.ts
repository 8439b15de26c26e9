// Pod sandboxes with --network-plugin=cni and Debian's real plugins: a test conflist (bridge on a
// bridge of its own, host-local in a /24 nothing on this host uses, portmap for host ports). The
// shared cases are in sandbox-suite.ts; the network's readiness is checked here.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheResults, freeSubnet, removeNatRules } from './cni-net.js';
import { grpcError, startDockercri, uniq } from './harness.js';
import { NS, READY, checkpointIds, containersWith, inspect, podConfig, removeRunContainers, sh } from './pods.js';
import { hostPortRules, sandboxSuite } from './sandbox-suite.js';

const PLUGINS = '/usr/lib/cni';
const tag = randomBytes(3).toString('hex');
const netName = `dcri-sb-${tag}`;
const bridge = `dcsb${tag}`;
const store = join('/var/lib/cni/networks', netName);
const runId = uniq('sbc');

let dir: string;
let confDir: string;
let cacheDir: string;
let prefix: string; // "10.a.b" of the test's /24

/** A /24 in 10.100-199.x that no route or address on this host touches yet. */

const conflist = (): string =>
  JSON.stringify({
    cniVersion: '1.0.0',
    name: netName,
    plugins: [
      { type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: `${prefix}.0/24` }]], routes: [{ dst: '0.0.0.0/0' }] } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  });

const cniArgs = (conf = confDir): string[] => ['--network-plugin=cni', `--cni-bin-dir=${PLUGINS}`, `--cni-conf-dir=${conf}`, `--cni-cache-dir=${cacheDir}`];

/** IP files in host-local's store of the test network that name this sandbox. */
async function storedIps(sandboxId: string): Promise<string[]> {
  const names = await readdir(store).catch(() => [] as string[]);
  const ips: string[] = [];
  for (const name of names.filter((n) => isIP(n) !== 0)) {
    if ((await readFile(join(store, name), 'utf8').catch(() => '')).includes(sandboxId)) ips.push(name);
  }
  return ips;
}



/** Removes portmap's nat rules and chains of the test network (left only when a test failed). */

describe('pod sandboxes on CNI networking (bridge, host-local, portmap)', () => {
  beforeAll(async () => {
    prefix = await freeSubnet();
    dir = await mkdtemp(join(tmpdir(), 'dcri-sbcni-'));
    confDir = join(dir, 'conf');
    cacheDir = join(dir, 'cache');
    await mkdir(confDir);
    await writeFile(join(confDir, '10-dcri.conflist'), conflist());
  });

  // registered before the suite, so it runs after the suite's own cleanup
  afterAll(async () => {
    await removeRunContainers(runId);
    await removeNatRules((rule) => rule.includes(netName)).catch(() => undefined);
    await sh('ip', 'link', 'del', bridge).catch(() => undefined);
    await rm(store, { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  sandboxSuite({
    name: 'cni',
    runId,
    args: () => cniArgs(),
    async expectedIp(sandboxId) {
      const pid = (await inspect(sandboxId)).State.Pid;
      const out = await sh('nsenter', '-t', String(pid), '-n', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0');
      const ips = [...out.matchAll(/inet (\S+)\//g)].map((m) => m[1] as string);
      expect(ips).toHaveLength(1);
      expect(ips[0]!.startsWith(`${prefix}.`)).toBe(true);
      expect(await storedIps(sandboxId)).toEqual(ips);
      expect(await cacheResults(cacheDir, sandboxId)).toEqual([`cni-loopback-${sandboxId}-eth0`, `${netName}-${sandboxId}-eth0`]);
      return ips[0]!;
    },
    async assertNetworkReleased({ sandboxId, ip, hostPorts }) {
      expect(await storedIps(sandboxId)).toEqual([]);
      expect(await readdir(store).catch(() => [] as string[])).not.toContain(ip);
      for (const port of hostPorts) expect(await hostPortRules(port)).toEqual([]);
      expect((await sh('iptables-save', '-t', 'nat')).split('\n').filter((l) => l.includes(sandboxId))).toEqual([]);
      expect(await cacheResults(cacheDir, sandboxId)).toEqual([]);
    },
    async assertNoPodNetwork(sandboxId) {
      expect(await storedIps(sandboxId)).toEqual([]);
      expect(await cacheResults(cacheDir, sandboxId)).toEqual([]);
    },
  });

  describe('without a network config', () => {
    it('reports NetworkReady=false, refuses pod-network sandboxes cleanly and still runs host-network ones', async () => {
      const emptyConf = await mkdtemp(join(tmpdir(), 'dcri-sbcni-empty-'));
      const root = await mkdtemp(join(tmpdir(), 'dcri-sbcni-root-'));
      const cri = await startDockercri({ args: [...cniArgs(emptyConf), `--cri-dockerd-root-directory=${root}`] });
      try {
        const conditions = (await cri.runtime.Status({})).status?.conditions ?? [];
        const net = conditions.find((c) => c.type === 'NetworkReady');
        expect(net?.status ?? false).toBe(false);
        expect(net?.reason).toBeTruthy();
        expect(net?.message).toMatch(/network plugin is not ready/);

        const config = podConfig({ run: runId });
        const name = (config.metadata as { name: string }).name;
        const err = await grpcError(cri.runtime.RunPodSandbox({ config }));
        expect(err.details).toMatch(/network plugin is not ready/);
        expect(err.details).toContain(name);
        expect(await containersWith({ name })).toEqual([]);
        expect(await checkpointIds(root)).toEqual([]);
        expect((await cri.runtime.ListPodSandbox({ filter: { labelSelector: { 'io.dockercri.test.run': runId } } })).items ?? []).toEqual([]);

        const host = podConfig({ run: runId, network: NS.NODE });
        const sandboxId = (await cri.runtime.RunPodSandbox({ config: host })).podSandboxId ?? '';
        expect((await cri.runtime.PodSandboxStatus({ podSandboxId: sandboxId })).status?.state).toBe(READY);
        await cri.runtime.StopPodSandbox({ podSandboxId: sandboxId });
        await cri.runtime.RemovePodSandbox({ podSandboxId: sandboxId });
        expect(await checkpointIds(root)).toEqual([]);
      } finally {
        await cri.stop();
        await rm(emptyConf, { recursive: true, force: true });
        await rm(root, { recursive: true, force: true });
      }
    });
  });
});
