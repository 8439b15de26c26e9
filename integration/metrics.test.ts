// The metrics rpcs kubelet serves /metrics/cadvisor from (PodAndContainerStatsFromCRI) through the
// real dockercri process: descriptors, well-formed samples, CPU of a busy loop, memory, the pod's
// network after an HTTP fetch, a stopped pod dropping out, and requests with unknown or bad bytes.
import * as grpc from '@grpc/grpc-js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../src/errors.js';
import type { runtime } from '../src/gen/api.js';
import { BUSYBOX, startDockercri, uniq, type Dockercri } from './harness.js';
import { NS, TEST_LABEL, eventually, httpGetEventually, podConfig, removeRunContainers } from './pods.js';

const run = uniq('metrics');
const MiB = 1024 * 1024;
const num = (m: runtime.v1.IMetric | undefined): number => Number(String(m?.value?.value ?? -1));

let cri: Dockercri;
let tmp: string;
const pods: string[] = [];

interface Pod {
  sandboxId: string;
  config: Record<string, unknown>;
  name: string;
}

async function runPod(): Promise<Pod> {
  const base = podConfig({ run, pid: NS.CONTAINER, network: NS.POD });
  const meta = base.metadata as { name: string; namespace: string; uid: string };
  const config = { ...base, logDirectory: join(tmp, `${meta.namespace}_${meta.name}_${meta.uid}`) };
  const sandboxId = (await cri.runtime.RunPodSandbox({ config })).podSandboxId ?? '';
  pods.push(sandboxId);
  return { sandboxId, config, name: meta.name };
}

async function runContainer(pod: Pod, name: string, script: string): Promise<string> {
  const config = {
    metadata: { name, attempt: 0 },
    image: { image: BUSYBOX },
    command: ['sh', '-c', script],
    labels: { [TEST_LABEL]: run },
    logPath: `${name}.log`,
    linux: { securityContext: { namespaceOptions: { network: NS.POD, ipc: NS.POD, pid: NS.CONTAINER } } },
  };
  const containerId = (await cri.runtime.CreateContainer({ podSandboxId: pod.sandboxId, config, sandboxConfig: pod.config })).containerId ?? '';
  await cri.runtime.StartContainer({ containerId });
  return containerId;
}

const listMetrics = async (): Promise<runtime.v1.IPodSandboxMetrics[]> => (await cri.runtime.ListPodSandboxMetrics({})).podMetrics ?? [];
const podOf = async (sandboxId: string): Promise<runtime.v1.IPodSandboxMetrics | undefined> => (await listMetrics()).find((p) => p.podSandboxId === sandboxId);
const containerOf = async (sandboxId: string, containerId: string): Promise<runtime.v1.IMetric[]> =>
  (await podOf(sandboxId))?.containerMetrics?.find((c) => c.containerId === containerId)?.metrics ?? [];
const pick = (ms: runtime.v1.IMetric[], name: string, last?: string): runtime.v1.IMetric | undefined =>
  ms.find((m) => m.name === name && (last === undefined || m.labelValues?.at(-1) === last));

/** A raw unary call with the request's bytes as given, to see how the server takes what no client library sends. */
function rawCall(method: string, body: Buffer): Promise<{ code: number; details: string }> {
  const client = new grpc.Client(`unix://${cri.socket}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      `/runtime.v1.RuntimeService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      (err) => {
        client.close();
        resolve({ code: err?.code ?? Code.OK, details: err?.details ?? '' });
      },
    );
  });
}

let pod: Pod;
let web: Pod;
let busy: string;
let shm: string;
let httpd: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'dcri-metrics-'));
  cri = await startDockercri();
  pod = await runPod();
  web = await runPod();
  busy = await runContainer(pod, 'busy', 'while :; do :; done');
  shm = await runContainer(pod, 'shm', 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=32 && exec sleep 100000');
  httpd = await runContainer(web, 'web', 'mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www');
});

afterAll(async () => {
  for (const sandboxId of pods) {
    await cri.runtime.StopPodSandbox({ podSandboxId: sandboxId }).catch(() => undefined);
    await cri.runtime.RemovePodSandbox({ podSandboxId: sandboxId }).catch(() => undefined);
  }
  await cri?.stop();
  await removeRunContainers(run);
});

describe('ListMetricDescriptors', () => {
  it('describes the cAdvisor series with their label keys', async () => {
    const descriptors = (await cri.runtime.ListMetricDescriptors({})).descriptors ?? [];
    const byName = new Map(descriptors.map((d) => [d.name, d.labelKeys ?? []]));
    expect(byName.size).toBe(descriptors.length);
    const base = ['container', 'id', 'image', 'name', 'namespace', 'pod'];
    for (const name of ['container_cpu_usage_seconds_total', 'container_memory_working_set_bytes', 'container_memory_usage_bytes', 'container_spec_memory_limit_bytes', 'container_processes', 'container_last_seen', 'container_fs_usage_bytes']) {
      expect(byName.get(name)?.slice(0, base.length), name).toEqual(base);
    }
    expect(byName.get('container_network_receive_bytes_total')).toEqual([...base, 'interface']);
    expect(byName.get('container_network_transmit_bytes_total')).toEqual([...base, 'interface']);
  });
});

describe('ListPodSandboxMetrics', () => {
  it('has the writable layer of a container that just started in the first answer', async () => {
    const fresh = await runPod();
    const containerId = await runContainer(fresh, 'fresh', 'exec sleep 100000');
    const fs = pick(await containerOf(fresh.sandboxId, containerId), 'container_fs_usage_bytes');
    expect(fs?.labelValues?.at(-1)).toMatch(/\/diff$/);
    expect(num(fs)).toBeGreaterThanOrEqual(0);
  });

  it('answers only with samples kubelet can turn into Prometheus series', async () => {
    const descriptors = new Map(((await cri.runtime.ListMetricDescriptors({})).descriptors ?? []).map((d) => [d.name, d.labelKeys?.length ?? 0]));
    const all = await listMetrics();
    const ours = all.filter((p) => p.podSandboxId === pod.sandboxId || p.podSandboxId === web.sandboxId);
    expect(ours).toHaveLength(2);
    const samples = all.flatMap((p) => [...(p.metrics ?? []), ...(p.containerMetrics ?? []).flatMap((c) => c.metrics ?? [])]);
    expect(samples.length).toBeGreaterThan(0);
    for (const m of samples) {
      expect(descriptors.has(m.name ?? ''), `descriptor of ${m.name}`).toBe(true);
      expect(m.labelValues?.length, `label values of ${m.name}`).toBe(descriptors.get(m.name ?? ''));
    }
    const keys = samples.map((m) => `${m.name}|${(m.labelValues ?? []).join('|')}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('labels container series with pod, namespace, container, ID and image, and pod series with the pod', async () => {
    const p = await podOf(pod.sandboxId);
    expect((p?.containerMetrics ?? []).map((c) => c.containerId).sort()).toEqual([busy, shm].sort());
    const cpu = pick(await containerOf(pod.sandboxId, busy), 'container_cpu_usage_seconds_total');
    const [container, id, image, name, namespace, podName] = cpu?.labelValues ?? [];
    expect({ container, id, image, namespace, pod: podName }).toEqual({ container: 'busy', id: busy, image: BUSYBOX, namespace: 'dcri-test', pod: pod.name });
    expect(name).toMatch(/^k8s_busy_/);
    const podCpu = pick(p?.metrics ?? [], 'container_cpu_usage_seconds_total');
    expect(podCpu?.labelValues).toEqual(['', pod.sandboxId, '', '', 'dcri-test', pod.name]);
    expect(Number(String(cpu?.timestamp))).toBeGreaterThan((Date.now() - 60_000) * 1e6);
  });

  it('shows the busy container\'s CPU seconds rising between two calls', async () => {
    const first = num(pick(await containerOf(pod.sandboxId, busy), 'container_cpu_usage_seconds_total'));
    expect(first).toBeGreaterThanOrEqual(0);
    // whole seconds on the wire: wait until at least one more CPU second was spent
    expect(await eventually(async () => num(pick(await containerOf(pod.sandboxId, busy), 'container_cpu_usage_seconds_total')) > first, 150)).toBe(true);
    expect(num(pick((await podOf(pod.sandboxId))?.metrics ?? [], 'container_cpu_usage_seconds_total'))).toBeGreaterThanOrEqual(first);
  });

  it('reports memory: the working set counts a filled /dev/shm', async () => {
    expect(await eventually(async () => num(pick(await containerOf(pod.sandboxId, shm), 'container_memory_working_set_bytes')) >= 32 * MiB)).toBe(true);
    const ms = await containerOf(pod.sandboxId, shm);
    expect(num(pick(ms, 'container_memory_usage_bytes'))).toBeGreaterThanOrEqual(num(pick(ms, 'container_memory_working_set_bytes')));
    expect(num(pick(await containerOf(pod.sandboxId, busy), 'container_memory_working_set_bytes'))).toBeGreaterThan(0);
    expect(num(pick(ms, 'container_processes'))).toBeGreaterThanOrEqual(1);
    expect(num(pick((await podOf(pod.sandboxId))?.metrics ?? [], 'container_memory_working_set_bytes'))).toBeGreaterThanOrEqual(32 * MiB);
  });

  it('shows the pod\'s received bytes on eth0 rising after an HTTP fetch into the pod', async () => {
    const ip = (await cri.runtime.PodSandboxStatus({ podSandboxId: web.sandboxId })).status?.network?.ip ?? '';
    expect(ip).not.toBe('');
    const counters = async (): Promise<{ rx: number; tx: number; lo: boolean }> => {
      const ms = (await podOf(web.sandboxId))?.metrics ?? [];
      return {
        rx: num(pick(ms, 'container_network_receive_bytes_total', 'eth0')),
        tx: num(pick(ms, 'container_network_transmit_bytes_total', 'eth0')),
        lo: ms.some((m) => m.labelValues?.at(-1) === 'lo'),
      };
    };
    const before = await counters();
    expect(before.rx).toBeGreaterThanOrEqual(0);
    expect(before.lo).toBe(false);
    expect(await httpGetEventually(ip, 80)).toBe('hello\n');
    const after = await counters();
    expect(after.rx).toBeGreaterThan(before.rx);
    expect(after.tx).toBeGreaterThan(before.tx);
    // network series are the pod's, not the container's
    expect((await containerOf(web.sandboxId, httpd)).some((m) => m.name?.startsWith('container_network_'))).toBe(false);
  });

  it('streams the same pods in batches', async () => {
    const batches = (await cri.runtime.StreamPodSandboxMetrics({})) as runtime.v1.IStreamPodSandboxMetricsResponse[];
    const ids = batches.flatMap((b) => b.podSandboxMetrics ?? []).map((p) => p.podSandboxId);
    expect(ids).toEqual(expect.arrayContaining([pod.sandboxId, web.sandboxId]));
    for (const b of batches) expect(b.podSandboxMetrics?.length).toBeGreaterThan(0);
  });

  it('drops a stopped container, then a stopped and a removed pod', async () => {
    const gone = await runContainer(web, 'brief', 'exec sleep 100000');
    expect(await eventually(async () => (await containerOf(web.sandboxId, gone)).length > 0)).toBe(true);
    await cri.runtime.StopContainer({ containerId: gone, timeout: 0 });
    expect(await eventually(async () => (await containerOf(web.sandboxId, gone)).length === 0)).toBe(true);

    const short = await runPod();
    await runContainer(short, 'idle', 'exec sleep 100000');
    expect(await eventually(async () => (await podOf(short.sandboxId)) !== undefined)).toBe(true);
    await cri.runtime.StopPodSandbox({ podSandboxId: short.sandboxId });
    expect(await eventually(async () => (await podOf(short.sandboxId)) === undefined)).toBe(true);
    await cri.runtime.RemovePodSandbox({ podSandboxId: short.sandboxId });
    expect(await podOf(short.sandboxId)).toBeUndefined();
    const streamed = (await cri.runtime.StreamPodSandboxMetrics({})) as runtime.v1.IStreamPodSandboxMetricsResponse[];
    expect(streamed.flatMap((b) => b.podSandboxMetrics ?? []).map((p) => p.podSandboxId)).not.toContain(short.sandboxId);
  });
});

describe('requests', () => {
  it('ignores fields it does not know (a filter from a newer kubelet) and empty bodies', async () => {
    // field 1, length-delimited "abc": nothing these requests define
    const unknownField = Buffer.from([0x0a, 0x03, 0x61, 0x62, 0x63]);
    for (const method of ['ListMetricDescriptors', 'ListPodSandboxMetrics']) {
      expect((await rawCall(method, unknownField)).code, method).toBe(Code.OK);
      expect((await rawCall(method, Buffer.alloc(0))).code, method).toBe(Code.OK);
    }
  });

  it('answers INVALID_ARGUMENT to bytes that are not protobuf, and keeps serving', async () => {
    const junk = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    const res = await rawCall('ListPodSandboxMetrics', junk);
    expect(res.code).toBe(Code.INVALID_ARGUMENT);
    expect(res.details).toMatch(/ListPodSandboxMetrics/);
    expect((await cri.runtime.ListMetricDescriptors({})).descriptors?.length).toBeGreaterThan(0);
  });
});
