// --metrics-bind-addr through the real dockercri process: /metrics after real rpcs (one failing
// NOT_FOUND), Docker calls, pods on CNI (host-local alone, its IPs kept in this test's temp dir),
// an exec session and an event subscription; /healthz while Docker answers and while it cannot; a bad address.
import * as grpc from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Code } from '../src/errors.js';
import { runtimeServiceDefinition } from '../src/server/server.js';
import { BUSYBOX, MAIN, grpcError, startDockercri, uniq, type Dockercri } from './harness.js';
import { TEST_LABEL, eventually, freePort, podConfig, removeRunContainers } from './pods.js';

const run = uniq('metrics');
let cri: Dockercri;
let tmp: string;
let base: string;

/** Resolves once the process logged that its metrics server listens. */
async function metricsListening(d: Dockercri): Promise<void> {
  if (!(await eventually(async () => d.log().includes('"msg":"metrics server listening"')))) throw new Error(`no metrics server:\n${d.log()}`);
}

async function scrape(url = base): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of one series in a scrape; undefined when the series is absent. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'dcri-metrics-'));
  const confDir = join(tmp, 'net.d');
  await mkdir(confDir);
  // host-local as the network's only plugin: it hands out an IP and touches no host interface
  const subnet = `10.${randomInt(200, 250)}.${randomInt(0, 256)}.0/24`;
  const ipam = { type: 'host-local', ranges: [[{ subnet }]], dataDir: join(tmp, 'ipam') };
  await writeFile(join(confDir, '10-metrics.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: `dcri-metrics-${process.pid}`, plugins: [{ type: 'host-local', ipam }] }));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  cri = await startDockercri({
    args: [`--metrics-bind-addr=127.0.0.1:${port}`, '--network-plugin=cni', '--cni-bin-dir=/usr/lib/cni', `--cni-conf-dir=${confDir}`, `--cni-cache-dir=${join(tmp, 'cni-cache')}`],
  });
  await metricsListening(cri);
});

afterAll(async () => {
  await cri?.stop();
  await removeRunContainers(run);
  await rm(tmp, { recursive: true, force: true });
});

describe('GET /metrics', () => {
  it('counts rpcs by method and code, and times them by method', async () => {
    await cri.runtime.Version({});
    await cri.runtime.Version({});
    await cri.runtime.ListPodSandbox({});
    const err = await grpcError(cri.runtime.ContainerStatus({ containerId: `absent-${run}` }));
    expect(err.code).toBe(Code.NOT_FOUND);

    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    expect(value(text, 'dockercri_grpc_requests_total{method="Version",code="OK"}')).toBe(2);
    expect(value(text, 'dockercri_grpc_requests_total{method="ListPodSandbox",code="OK"}')).toBe(1);
    expect(value(text, 'dockercri_grpc_requests_total{method="ContainerStatus",code="NOT_FOUND"}')).toBe(1);
    expect(value(text, 'dockercri_grpc_requests_total{method="ContainerStatus",code="OK"}')).toBeUndefined();
    expect(value(text, 'dockercri_grpc_request_duration_seconds_count{method="Version"}')).toBe(2);
    expect(value(text, 'dockercri_grpc_request_duration_seconds_bucket{le="+Inf",method="ContainerStatus"}')).toBe(1);
    expect(text).toContain('# TYPE dockercri_grpc_request_duration_seconds histogram');
    expect(value(text, 'dockercri_grpc_requests_in_flight')).toBe(0);
  });

  it('times Docker calls by operation, from the first one at start', async () => {
    const text = await scrape();
    expect(text).toContain('# TYPE dockercri_docker_request_duration_seconds histogram');
    expect(value(text, 'dockercri_docker_request_duration_seconds_count{operation="info"}')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'dockercri_docker_request_duration_seconds_count{operation="list_container_ids"}')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'dockercri_docker_request_duration_seconds_count{operation="subscribe_events"}')).toBeGreaterThanOrEqual(1);
  });

  it('times the CNI plugins of a pod by plugin and command', async () => {
    const runs = (text: string, plugin: string, command: string): number => value(text, `dockercri_cni_plugin_duration_seconds_count{plugin="${plugin}",command="${command}"}`) ?? 0;
    const before = await scrape();
    const podSandboxId = (await cri.runtime.RunPodSandbox({ config: podConfig({ run }) })).podSandboxId ?? '';
    try {
      const text = await scrape();
      expect(runs(text, 'host-local', 'ADD')).toBe(runs(before, 'host-local', 'ADD') + 1);
      expect(runs(text, 'loopback', 'ADD')).toBe(runs(before, 'loopback', 'ADD') + 1);
      expect(value(text, 'dockercri_cni_plugin_errors_total{plugin="host-local",command="ADD"}')).toBeUndefined();
    } finally {
      await cri.runtime.StopPodSandbox({ podSandboxId });
      await cri.runtime.RemovePodSandbox({ podSandboxId });
    }
    expect(runs(await scrape(), 'host-local', 'DEL')).toBeGreaterThan(runs(before, 'host-local', 'DEL'));
  });

  it('counts an exec session while it is open', async () => {
    const sandboxConfig = { ...podConfig({ run }), logDirectory: join(tmp, uniq('logs')) };
    const podSandboxId = (await cri.runtime.RunPodSandbox({ config: sandboxConfig })).podSandboxId ?? '';
    try {
      const name = uniq('c');
      const config = { metadata: { name, attempt: 0 }, image: { image: BUSYBOX }, command: ['sleep', '3600'], labels: { [TEST_LABEL]: run }, logPath: `${name}.log` };
      const containerId = (await cri.runtime.CreateContainer({ podSandboxId, config, sandboxConfig })).containerId ?? '';
      await cri.runtime.StartContainer({ containerId });
      const { url } = await cri.runtime.Exec({ containerId, cmd: ['sleep', '60'], stdout: true });
      const ws = new WebSocket((url ?? '').replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
      const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()));
      ws.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      });
      expect(value(await scrape(), 'dockercri_streaming_sessions{kind="exec"}')).toBe(1);
      const dockerCalls = (text: string, operation: string): number => value(text, `dockercri_docker_request_duration_seconds_count{operation="${operation}"}`) ?? 0;
      // the session starts the exec in Docker once the client's streams are there
      expect(await eventually(async () => dockerCalls(await scrape(), 'exec') >= 1)).toBe(true);
      const text = await scrape();
      expect(dockerCalls(text, 'create_container')).toBeGreaterThanOrEqual(1);
      expect(dockerCalls(text, 'start_container')).toBeGreaterThanOrEqual(1);
      ws.close();
      await closed;
      expect(await eventually(async () => value(await scrape(), 'dockercri_streaming_sessions{kind="exec"}') === 0)).toBe(true);
    } finally {
      await cri.runtime.StopPodSandbox({ podSandboxId });
      await cri.runtime.RemovePodSandbox({ podSandboxId });
    }
  });

  it('shows open GetContainerEvents streams', async () => {
    const Ctor = grpc.makeGenericClientConstructor(runtimeServiceDefinition, 'svc');
    const client = new Ctor(`unix://${cri.socket}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, (req: unknown) => grpc.ClientReadableStream<unknown>>;
    const call = client.GetContainerEvents!({});
    call.on('error', () => undefined);
    try {
      expect(await eventually(async () => value(await scrape(), 'dockercri_event_subscribers') === 1)).toBe(true);
      expect(value(await scrape(), 'dockercri_grpc_requests_in_flight')).toBe(1);
    } finally {
      call.cancel();
      client.close();
    }
    expect(await eventually(async () => value(await scrape(), 'dockercri_event_subscribers') === 0)).toBe(true);
  });

  it('starts every streaming kind at zero and carries the process metrics', async () => {
    const text = await scrape();
    for (const kind of ['exec', 'attach', 'portforward']) expect(value(text, `dockercri_streaming_sessions{kind="${kind}"}`)).toBe(0);
    expect(value(text, 'process_start_time_seconds')).toBeGreaterThan(0);
    expect(value(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });
});

describe('GET /healthz', () => {
  it('answers 200 ok while the CRI socket serves and Docker answers', async () => {
    const res = await fetch(`${base}/healthz`);
    expect([res.status, await res.text()]).toEqual([200, 'ok\n']);
  });

  it('answers 503 with the reason when Docker cannot be reached', async () => {
    const port = await freePort();
    const down = await startDockercri({ args: [`--metrics-bind-addr=127.0.0.1:${port}`, `--docker-endpoint=unix://${join(tmp, 'no-docker.sock')}`] });
    try {
      await metricsListening(down);
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      const body = await res.text();
      expect(res.status).toBe(503);
      expect(body).toMatch(/^docker: .*ENOENT.*no-docker\.sock.*\n$/);
      expect(body.trim().split('\n')).toHaveLength(1);
    } finally {
      await down.stop();
    }
  });

  it('refuses other paths and methods', async () => {
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`, { method: 'POST' })).status).toBe(405);
  });
});

describe('--metrics-bind-addr', () => {
  it.each(['127.0.0.1', 'localhost:9324', '127.0.0.1:0'])('exits 2 on %s', async (addr) => {
    const proc = spawn(process.execPath, [MAIN, `--metrics-bind-addr=${addr}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain(`invalid value "${addr}" for --metrics-bind-addr: must be IP:PORT`);
  });
});
