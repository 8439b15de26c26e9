// How long after a container exits its CONTAINER_STOPPED_EVENT reaches a GetContainerEvents client,
// against Docker's own `die` event reaching a client of Docker's event stream in the same run.
// Containers exit by themselves, one at a time, so each delay is measured without a queue.
import Docker from 'dockerode';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { startDockercri, subscribeEvents } from '../integration/harness.js';
import { percentile } from './stats.js';

const IMAGE = 'dockercri-test/busybox:latest';
const STOPPED = 2;
const WAIT_MS = 30_000;

/** Wall-clock time in ms with sub-millisecond precision, comparable with Docker's timestamps. */
const nowMs = (): number => performance.timeOrigin + performance.now();

/** Docker's RFC 3339 timestamp with nanoseconds → ms since the epoch, keeping the fraction. */
function dockerTimeMs(ts: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) throw new Error(`unreadable Docker timestamp ${ts}`);
  return Date.parse(`${m[1]}${m[3]}`) + Number(`0.${m[2] ?? '0'}`) * 1000;
}

/** Resolves with the arrival time of `id` in `arrivals` once it is there. */
async function arrival(arrivals: Map<string, number>, id: string, what: string): Promise<number> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const at = arrivals.get(id);
    if (at !== undefined) return at;
    if (Date.now() > deadline) throw new Error(`no ${what} for container ${id} within ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const f = (n: number): string => n.toFixed(1);

export async function eventDelay(n: number): Promise<string> {
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  const cri = await startDockercri({ args: ['--log-level=warn'] });
  const tag = `bench-events-${process.pid}`;
  const logDirectory = mkdtempSync(join(tmpdir(), 'dockercri-bench-logs-'));
  const criArrivals = new Map<string, number>();
  const dieArrivals = new Map<string, number>();

  const sub = subscribeEvents(cri.socket);
  sub.onEvent = (e) => {
    if (e.containerEventType === STOPPED && e.containerId) criArrivals.set(e.containerId, nowMs());
  };
  const raw = (await docker.getEvents({ filters: { type: ['container'], event: ['die'], label: [`bench=${tag}`] } })) as unknown as Readable;
  let pending = '';
  raw.setEncoding('utf8').on('data', (chunk: string) => {
    const at = nowMs();
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line !== '') dieArrivals.set((JSON.parse(line) as { id: string }).id, at);
    }
  });

  const dockerDelay: number[] = [];
  const criDelay: number[] = [];
  const added: number[] = [];
  const sandboxConfig = { metadata: { name: `${tag}-pod`, namespace: 'bench', uid: `${tag}-uid`, attempt: 0 }, logDirectory, labels: { bench: tag }, linux: {} };
  const { podSandboxId } = await cri.runtime.RunPodSandbox({ config: sandboxConfig });
  try {
    for (let i = 0; i < n + 2; i++) {
      const keep = i >= 2;
      const config = { metadata: { name: `c${i}`, attempt: 0 }, image: { image: IMAGE }, command: ['sleep', '0.2'], logPath: `c${i}/0.log`, labels: { bench: tag } };
      const { containerId } = await cri.runtime.CreateContainer({ podSandboxId: podSandboxId as string, config, sandboxConfig });
      const id = containerId as string;
      await cri.runtime.StartContainer({ containerId: id });
      const [criAt, dieAt] = await Promise.all([arrival(criArrivals, id, 'CONTAINER_STOPPED_EVENT'), arrival(dieArrivals, id, 'Docker die event')]);
      const exitedAt = dockerTimeMs((await docker.getContainer(id).inspect()).State.FinishedAt);
      await cri.runtime.RemoveContainer({ containerId: id });
      if (!keep) continue;
      dockerDelay.push(dieAt - exitedAt);
      criDelay.push(criAt - exitedAt);
      added.push(criAt - dieAt);
    }
  } finally {
    sub.close();
    raw.destroy();
    await cri.runtime.StopPodSandbox({ podSandboxId }).catch(() => undefined);
    await cri.runtime.RemovePodSandbox({ podSandboxId }).catch(() => undefined);
    await cri.stop();
    rmSync(logDirectory, { recursive: true, force: true });
  }
  const line = (what: string, s: number[]): string => `| ${what} | ${f(percentile(s, 50))} | ${f(percentile(s, 95))} | ${f(Math.max(...s))} |`;
  return [
    `### Container exit to event delivery, ${n} containers exiting one at a time (from Docker's State.FinishedAt)`,
    '',
    '| delivery | p50 ms | p95 ms | max ms |',
    '| --- | ---: | ---: | ---: |',
    line("Docker's `die` event at a Docker events client", dockerDelay),
    line('CONTAINER_STOPPED_EVENT at a GetContainerEvents client', criDelay),
    line('added by dockercri (CRI event arrival − `die` arrival)', added),
    '',
  ].join('\n');
}
