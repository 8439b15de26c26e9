// Container and pod sandbox stats through the real dockercri process, read from cgroup files:
// CPU of a busy loop, memory of a filled /dev/shm, the writable layer after a write, the pod's
// network after an HTTP fetch, NOT_FOUND and every filter. Every object carries this file's run label.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../src/errors.js';
import type { runtime } from '../src/gen/api.js';
import { BUSYBOX, grpcError, startDockercri, uniq, type Dockercri } from './harness.js';
import { NS, TEST_LABEL, eventually, httpGetEventually, podConfig, removeRunContainers } from './pods.js';

const run = uniq('stats');
const MiB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const num = (v: { value?: unknown } | null | undefined): number => Number(String(v?.value ?? 0));

let cri: Dockercri;
let tmp: string;
const pods: string[] = [];

interface Pod {
  sandboxId: string;
  config: Record<string, unknown>;
}

async function runPod(labels: Record<string, string> = {}): Promise<Pod> {
  const base = podConfig({ run, labels, pid: NS.CONTAINER, network: NS.POD });
  const meta = base.metadata as { name: string; namespace: string; uid: string };
  const config = { ...base, logDirectory: join(tmp, `${meta.namespace}_${meta.name}_${meta.uid}`) };
  const sandboxId = (await cri.runtime.RunPodSandbox({ config })).podSandboxId ?? '';
  pods.push(sandboxId);
  return { sandboxId, config };
}

async function runContainer(pod: Pod, script: string, labels: Record<string, string> = {}): Promise<string> {
  const name = uniq('c');
  const config = {
    metadata: { name, attempt: 0 },
    image: { image: BUSYBOX },
    command: ['sh', '-c', script],
    labels: { [TEST_LABEL]: run, ...labels },
    logPath: `${name}.log`,
    linux: { securityContext: { namespaceOptions: { network: NS.POD, ipc: NS.POD, pid: NS.CONTAINER } } },
  };
  const containerId = (await cri.runtime.CreateContainer({ podSandboxId: pod.sandboxId, config, sandboxConfig: pod.config })).containerId ?? '';
  await cri.runtime.StartContainer({ containerId });
  return containerId;
}

const stats = async (containerId: string): Promise<runtime.v1.IContainerStats> => (await cri.runtime.ContainerStats({ containerId })).stats ?? {};

let pod: Pod;
let other: Pod;
let busy: string;
let shm: string;
let idle: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'dcri-stats-'));
  cri = await startDockercri();
  pod = await runPod({ tier: 'stats-a' });
  other = await runPod({ tier: 'stats-b' });
  busy = await runContainer(pod, 'while :; do :; done', { role: 'busy' });
  shm = await runContainer(pod, `dd if=/dev/zero of=/dev/shm/fill bs=1M count=48 && exec sleep 100000`, { role: 'shm' });
  idle = await runContainer(other, 'mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www', { role: 'web' });
});

afterAll(async () => {
  for (const sandboxId of pods) {
    await cri.runtime.StopPodSandbox({ podSandboxId: sandboxId }).catch(() => undefined);
    await cri.runtime.RemovePodSandbox({ podSandboxId: sandboxId }).catch(() => undefined);
  }
  await cri?.stop();
  await removeRunContainers(run);
});

describe('ContainerStats', () => {
  it('shows a busy loop\'s CPU: a rate that agrees with the counter, far above an idle one', async () => {
    // usage_nano_cores is the rate since the previous sample; on a loaded machine a window may give
    // the loop less than a core, so up to six windows are looked at
    let best = 0;
    for (let window = 0; window < 6 && best <= 0.2e9; window++) {
      const a = await stats(busy);
      await sleep(1500);
      const s = await stats(busy);
      expect(s.attributes?.id).toBe(busy);
      expect(s.attributes?.labels?.role).toBe('busy');
      // the rate agrees with the cumulative counter over the same two samples
      const rate = ((num(s.cpu?.usageCoreNanoSeconds) - num(a.cpu?.usageCoreNanoSeconds)) / (Number(String(s.cpu?.timestamp)) - Number(String(a.cpu?.timestamp)))) * 1e9;
      expect(Math.abs(num(s.cpu?.usageNanoCores) - rate)).toBeLessThan(0.05e9);
      expect(Number(String(s.cpu?.timestamp))).toBeGreaterThan((Date.now() - 60_000) * 1e6);
      best = Math.max(best, num(s.cpu?.usageNanoCores));
    }
    // an idle container shows about 0; the loop gets a good part of a core even on a busy machine
    expect(best).toBeGreaterThan(0.2e9);
  });

  it('counts a filled /dev/shm in the working set', async () => {
    expect(await eventually(async () => num((await stats(shm)).memory?.workingSetBytes) >= 48 * MiB)).toBe(true);
    const m = (await stats(shm)).memory!;
    expect(num(m.usageBytes)).toBeGreaterThanOrEqual(num(m.workingSetBytes));
    expect(num(m.pageFaults)).toBeGreaterThan(0);
    expect(m.availableBytes).toBeFalsy(); // no memory limit
    expect(num((await stats(shm)).swap?.swapUsageBytes)).toBeGreaterThanOrEqual(0);
  });

  it('reports the writable layer of a container from the first call after it starts', async () => {
    const listed = await runContainer(pod, 'sleep 100000');
    const [first] = (await cri.runtime.ListContainerStats({ filter: { id: listed } })).stats ?? [];
    expect(first?.writableLayer?.fsId?.mountpoint).toMatch(/\/diff$/);
    expect(num(first?.writableLayer?.inodesUsed)).toBeGreaterThanOrEqual(1);
    const single = await runContainer(pod, 'sleep 100000');
    const layer = (await stats(single)).writableLayer;
    expect(layer?.fsId?.mountpoint).toMatch(/\/diff$/);
    expect(num(layer?.inodesUsed)).toBeGreaterThanOrEqual(1);
  });

  it('sees the writable layer grow by a 10 MiB write after the background refresh', async () => {
    const c = await runContainer(pod, 'sleep 100000');
    expect((await stats(c)).writableLayer).toBeTruthy();
    const before = num((await stats(c)).writableLayer?.usedBytes);
    const inodesBefore = num((await stats(c)).writableLayer?.inodesUsed);
    const r = await cri.runtime.ExecSync({ containerId: c, cmd: ['dd', 'if=/dev/zero', 'of=/big', 'bs=1M', 'count=10'], timeout: 30 });
    expect(r.exitCode).toBe(0);
    // the layer is walked every 10 s off the request path
    expect(await eventually(async () => num((await stats(c)).writableLayer?.usedBytes) - before >= 9.5 * MiB, 300)).toBe(true);
    const after = (await stats(c)).writableLayer!;
    expect(num(after.usedBytes) - before).toBeLessThan(11 * MiB);
    expect(num(after.inodesUsed)).toBeGreaterThan(inodesBefore);
    expect(after.fsId?.mountpoint).toMatch(/\/diff$/);
  });

  it('answers NOT_FOUND for an unknown container, and for a sandbox ID', async () => {
    expect((await grpcError(cri.runtime.ContainerStats({ containerId: 'f'.repeat(64) }))).code).toBe(Code.NOT_FOUND);
    expect((await grpcError(cri.runtime.ContainerStats({ containerId: pod.sandboxId }))).code).toBe(Code.NOT_FOUND);
    expect((await grpcError(cri.runtime.PodSandboxStats({ podSandboxId: 'f'.repeat(64) }))).code).toBe(Code.NOT_FOUND);
    expect((await grpcError(cri.runtime.ContainerStats({ containerId: '' }))).code).toBe(Code.INVALID_ARGUMENT);
  });
});

describe('ListContainerStats and StreamContainerStats filters', () => {
  const ids = async (filter: Record<string, unknown>): Promise<string[]> =>
    ((await cri.runtime.ListContainerStats({ filter: { ...filter, labelSelector: { [TEST_LABEL]: run, ...((filter.labelSelector as object) ?? {}) } } })).stats ?? []).map((s) => s.attributes?.id ?? '').sort();

  it('filters by ID (full and prefix), sandbox ID, and labels', async () => {
    expect(await ids({ id: busy })).toEqual([busy]);
    expect(await ids({ id: busy.slice(0, 12) })).toEqual([busy]);
    expect(await ids({ podSandboxId: other.sandboxId })).toEqual([idle]);
    expect(await ids({ podSandboxId: other.sandboxId.slice(0, 12) })).toEqual([idle]);
    expect(await ids({ labelSelector: { role: 'shm' } })).toEqual([shm]);
    expect(await ids({ podSandboxId: other.sandboxId, labelSelector: { role: 'shm' } })).toEqual([]);
    expect(await ids({ id: 'f'.repeat(64) })).toEqual([]);
    expect(await ids({})).toEqual(expect.arrayContaining([busy, shm, idle].sort()));
  });

  it('streams the same stats', async () => {
    const batches = (await cri.runtime.StreamContainerStats({ filter: { podSandboxId: pod.sandboxId } })) as runtime.v1.IStreamContainerStatsResponse[];
    const streamed = batches.flatMap((b) => b.containerStats ?? []).map((s) => s.attributes?.id);
    expect(streamed).toEqual(expect.arrayContaining([busy, shm]));
    expect(streamed).not.toContain(idle);
  });
});

describe('PodSandboxStats', () => {
  it('sums the pod\'s containers and reads its network', async () => {
    const s = (await cri.runtime.PodSandboxStats({ podSandboxId: pod.sandboxId })).stats!;
    expect(s.attributes?.id).toBe(pod.sandboxId);
    expect(s.attributes?.labels?.tier).toBe('stats-a');
    expect((s.linux?.containers ?? []).map((c) => c.attributes?.id)).toEqual(expect.arrayContaining([busy, shm]));
    expect(num(s.linux?.memory?.workingSetBytes)).toBeGreaterThanOrEqual(48 * MiB);
    expect(num(s.linux?.cpu?.usageCoreNanoSeconds)).toBeGreaterThan(0);
    expect(num(s.linux?.process?.processCount)).toBeGreaterThanOrEqual(3);
    expect(s.linux?.network?.defaultInterface?.name).toBe('eth0');
  });

  it('shows the pod\'s network bytes rise after an HTTP fetch', async () => {
    const ip = (await cri.runtime.PodSandboxStatus({ podSandboxId: other.sandboxId })).status?.network?.ip ?? '';
    expect(ip).not.toBe('');
    const net = async (): Promise<runtime.v1.INetworkInterfaceUsage> => (await cri.runtime.PodSandboxStats({ podSandboxId: other.sandboxId })).stats!.linux!.network!.defaultInterface!;
    const before = await net();
    expect(await httpGetEventually(ip, 80)).toBe('hello\n');
    const after = await net();
    expect(num(after.rxBytes)).toBeGreaterThan(num(before.rxBytes));
    expect(num(after.txBytes)).toBeGreaterThan(num(before.txBytes));
  });

  it('lists and streams with filters', async () => {
    const list = async (filter: Record<string, unknown>): Promise<string[]> => ((await cri.runtime.ListPodSandboxStats({ filter })).stats ?? []).map((s) => s.attributes?.id ?? '').sort();
    expect(await list({ labelSelector: { [TEST_LABEL]: run } })).toEqual([pod.sandboxId, other.sandboxId].sort());
    expect(await list({ id: other.sandboxId.slice(0, 12) })).toEqual([other.sandboxId]);
    expect(await list({ labelSelector: { tier: 'stats-a', [TEST_LABEL]: run } })).toEqual([pod.sandboxId]);
    expect(await list({ id: 'f'.repeat(64) })).toEqual([]);
    const streamed = ((await cri.runtime.StreamPodSandboxStats({ filter: { labelSelector: { [TEST_LABEL]: run } } })) as runtime.v1.IStreamPodSandboxStatsResponse[]).flatMap((b) => b.podSandboxStats ?? []);
    expect(streamed.map((s) => s.attributes?.id).sort()).toEqual([pod.sandboxId, other.sandboxId].sort());
  });
});

describe('UpdatePodSandboxResources and CheckpointContainer', () => {
  it('accepts new pod resources for a known sandbox only', async () => {
    const resources = { cpuShares: 512, memoryLimitInBytes: 256 * MiB };
    await expect(cri.runtime.UpdatePodSandboxResources({ podSandboxId: pod.sandboxId, resources, overhead: {} })).resolves.toBeTruthy();
    // PodSandboxStatus reports what was recorded, in its verbose info
    const info = JSON.parse((await cri.runtime.PodSandboxStatus({ podSandboxId: pod.sandboxId, verbose: true })).info?.info ?? '{}');
    expect(info.resources?.resources).toMatchObject({ cpuShares: 512, memoryLimitInBytes: 256 * MiB });
    expect((await grpcError(cri.runtime.UpdatePodSandboxResources({ podSandboxId: 'f'.repeat(64), resources }))).code).toBe(Code.NOT_FOUND);
  });

  it('answers CheckpointContainer UNIMPLEMENTED with the reason (this Engine is not experimental)', async () => {
    const err = await grpcError(cri.runtime.CheckpointContainer({ containerId: busy, location: join(tmp, 'cp.tar') }));
    expect(err.code).toBe(Code.UNIMPLEMENTED);
    expect(err.details).toMatch(/experimental|checkpoint archive/);
    expect((await grpcError(cri.runtime.CheckpointContainer({ containerId: 'f'.repeat(64) }))).code).toBe(Code.NOT_FOUND);
  });
});
