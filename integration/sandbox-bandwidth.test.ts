// Pod bandwidth annotations through Debian's real `bandwidth` CNI plugin, chained after bridge,
// host-local and portmap on a network of the test's own: the ingress limit is a tbf qdisc on the
// pod's host-side veth, the egress limit a tbf on an ifb device the plugin creates and redirects
// the veth's ingress to. Both must go with the pod; a bad annotation must leave nothing behind.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheResults, freeSubnet, linkExists } from './cni-net.js';
import { grpcError, startDockercri, uniq, type Dockercri } from './harness.js';
import { READY, checkpointIds, containersWith, inspect, podConfig, removeRunContainers, sh } from './pods.js';

const PLUGINS = '/usr/lib/cni';
const tag = randomBytes(3).toString('hex');
const netName = `dcri-bw-${tag}`;
const bridge = `dcbw${tag}`;
const store = join('/var/lib/cni/networks', netName);
const runId = uniq('bw');
const INGRESS = 'kubernetes.io/ingress-bandwidth';
const EGRESS = 'kubernetes.io/egress-bandwidth';

let dir: string;
let cacheDir: string;
let cri: Dockercri;

/** A /24 in 10.100-199.x that no route or address on this host touches yet. */

/** The ifb device the plugin names after the network and the container: "bwp" and a sha512 prefix. */
const ifbName = (sandboxId: string): string => `bwp${createHash('sha512').update(netName + sandboxId).digest('hex')}`.slice(0, 15);

/** The host end of the pod's veth, found from the peer index of eth0 inside the pod. */
async function hostVeth(sandboxId: string): Promise<{ name: string; index: number }> {
  const pid = (await inspect(sandboxId)).State.Pid;
  const inside = await sh('nsenter', '-t', String(pid), '-n', 'ip', '-o', 'link', 'show', 'dev', 'eth0');
  const peer = /eth0@if(\d+):/.exec(inside);
  expect(peer, inside).not.toBeNull();
  const index = Number(peer![1]);
  const line = (await sh('ip', '-o', 'link', 'show')).split('\n').find((l) => l.startsWith(`${index}: `));
  expect(line, `no host link with index ${index}`).toBeDefined();
  return { name: /^\d+: ([^@:]+)/.exec(line!)![1] as string, index };
}

const qdiscs = (dev: string): Promise<string> => sh('tc', 'qdisc', 'show', 'dev', dev);
const linkIndexExists = async (index: number): Promise<boolean> => (await sh('ip', '-o', 'link', 'show')).split('\n').some((l) => l.startsWith(`${index}: `));

/** IP files in host-local's store that name this sandbox. */
async function storedIps(sandboxId: string): Promise<string[]> {
  const names = await readdir(store).catch(() => [] as string[]);
  const ips: string[] = [];
  for (const name of names.filter((n) => isIP(n) !== 0)) {
    if ((await readFile(join(store, name), 'utf8').catch(() => '')).includes(sandboxId)) ips.push(name);
  }
  return ips;
}

const allStoredIps = async (): Promise<string[]> => (await readdir(store).catch(() => [] as string[])).filter((n) => isIP(n) !== 0);

async function runPod(annotations: Record<string, string>): Promise<string> {
  const sandboxId = (await cri.runtime.RunPodSandbox({ config: podConfig({ run: runId, annotations }) })).podSandboxId ?? '';
  expect((await cri.runtime.PodSandboxStatus({ podSandboxId: sandboxId })).status?.state).toBe(READY);
  return sandboxId;
}

async function removePod(sandboxId: string): Promise<void> {
  await cri.runtime.StopPodSandbox({ podSandboxId: sandboxId });
  await cri.runtime.RemovePodSandbox({ podSandboxId: sandboxId });
}

describe('pod bandwidth annotations through the CNI bandwidth plugin', () => {
  beforeAll(async () => {
    const prefix = await freeSubnet();
    dir = await mkdtemp(join(tmpdir(), 'dcri-bw-'));
    const confDir = join(dir, 'conf');
    cacheDir = join(dir, 'cache');
    await mkdir(confDir);
    await writeFile(
      join(confDir, '10-dcri.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: netName,
        plugins: [
          { type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: `${prefix}.0/24` }]], routes: [{ dst: '0.0.0.0/0' }] } },
          { type: 'portmap', capabilities: { portMappings: true } },
          { type: 'bandwidth', capabilities: { bandwidth: true } },
        ],
      }),
    );
    cri = await startDockercri({ args: ['--network-plugin=cni', `--cni-bin-dir=${PLUGINS}`, `--cni-conf-dir=${confDir}`, `--cni-cache-dir=${cacheDir}`] });
  });

  afterAll(async () => {
    if (cri) {
      const left = (await cri.runtime.ListPodSandbox({ filter: { labelSelector: { 'io.dockercri.test.run': runId } } }).catch(() => ({ items: [] }))).items ?? [];
      for (const s of left) await removePod(s.id ?? '').catch(() => undefined);
      await cri.stop();
    }
    await removeRunContainers(runId);
    await sh('ip', 'link', 'del', bridge).catch(() => undefined);
    await rm(store, { recursive: true, force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('limits ingress with a tbf on the host veth and egress through an ifb device, and removes both with the pod', async () => {
    const sandboxId = await runPod({ [INGRESS]: '1M', [EGRESS]: '2M' });
    try {
      const veth = await hostVeth(sandboxId);
      const ifb = ifbName(sandboxId);

      // ingress into the pod is what leaves the host veth: shaped at its root
      const onVeth = await qdiscs(veth.name);
      expect(onVeth).toMatch(/qdisc tbf \S+ root .*rate 1Mbit/);
      // egress from the pod arrives on the host veth: its ingress is redirected to the ifb
      expect(onVeth).toMatch(/qdisc ingress ffff:/);
      expect(await sh('tc', 'filter', 'show', 'dev', veth.name, 'parent', 'ffff:')).toContain(`Egress Redirect to device ${ifb}`);
      expect(await sh('ip', '-d', 'link', 'show', 'dev', ifb)).toMatch(/\n\s+ifb /);
      expect(await qdiscs(ifb)).toMatch(/qdisc tbf \S+ root .*rate 2Mbit/);

      await cri.runtime.StopPodSandbox({ podSandboxId: sandboxId });
      expect(await linkExists(ifb)).toBe(false);
      expect(await linkIndexExists(veth.index)).toBe(false);
      expect(await storedIps(sandboxId)).toEqual([]);
      expect(await cacheResults(cacheDir, sandboxId)).toEqual([]);
    } finally {
      await removePod(sandboxId);
    }
  });

  it('gives one direction only when only one annotation is set', async () => {
    const sandboxId = await runPod({ [EGRESS]: '1500k' });
    try {
      const veth = await hostVeth(sandboxId);
      const ifb = ifbName(sandboxId);
      const onVeth = await qdiscs(veth.name);
      expect(onVeth).not.toMatch(/qdisc tbf/);
      expect(onVeth).toMatch(/qdisc ingress ffff:/);
      expect(await qdiscs(ifb)).toMatch(/qdisc tbf \S+ root .*rate 1500Kbit/);
    } finally {
      await removePod(sandboxId);
    }
    expect(await linkExists(ifbName(sandboxId))).toBe(false);
  });

  it('runs a pod without the annotations on the same network unshaped', async () => {
    const sandboxId = await runPod({});
    try {
      const veth = await hostVeth(sandboxId);
      const onVeth = await qdiscs(veth.name);
      expect(onVeth).not.toMatch(/qdisc (tbf|ingress)/);
      expect(await linkExists(ifbName(sandboxId))).toBe(false);
      expect(await storedIps(sandboxId)).toHaveLength(1);
      const cached = JSON.parse(await readFile(join(cacheDir, 'results', `${netName}-${sandboxId}-eth0`), 'utf8')) as { capabilityArgs?: Record<string, unknown> };
      expect(cached.capabilityArgs ?? {}).not.toHaveProperty('bandwidth');
    } finally {
      await removePod(sandboxId);
    }
    expect(await storedIps(sandboxId)).toEqual([]);
  });

  it.each([
    [INGRESS, 'lots', /"lots" is not a Kubernetes quantity/],
    [EGRESS, '10', /"10" is below the smallest rate, 1k/],
    [INGRESS, '2P', /"2P" is above the largest rate, 1P/],
  ])('refuses %s=%s with INVALID_ARGUMENT and leaves nothing behind', async (key, value, message) => {
    const ipsBefore = await allStoredIps();
    const cacheBefore = await cacheResults(cacheDir);
    const checkpointsBefore = await checkpointIds(join(cri.dir, 'root'));
    const config = podConfig({ run: runId, annotations: { [key]: value } });
    const name = (config.metadata as { name: string }).name;
    const err = await grpcError(cri.runtime.RunPodSandbox({ config }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toContain(key);
    expect(err.details).toContain(name);
    expect(err.details).toMatch(message);
    expect(await containersWith({ name })).toEqual([]);
    expect(await allStoredIps()).toEqual(ipsBefore);
    expect(await cacheResults(cacheDir)).toEqual(cacheBefore);
    expect(await checkpointIds(join(cri.dir, 'root'))).toEqual(checkpointsBefore);
  });
});
