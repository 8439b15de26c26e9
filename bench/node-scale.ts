// A node as kubelet keeps it: N pods of one running container each. Resident memory 3 s and 20 s
// after start and at N pods, the stats rpcs at N against Docker's one-shot stats of the same
// containers, the CPU of dockercri and dockerd under kubelet-like polling, and resident memory
// across pod create/delete cycles.
import Docker from 'dockerode';
import { startDockercri } from '../integration/harness.js';
import { mapLimit } from '../src/util/pool.js';
import { figureGoal } from './goals.js';
import { BenchPods } from './pods.js';
import { kubeletLikePolling, type PollingResult } from './polling.js';
import { rssMiB } from './proc.js';
import { percentile, timed } from './stats.js';

export interface NodeScaleOptions {
  sizes: readonly number[];
  pollSeconds: number;
  statsRounds: number;
  /** Rounds of Docker's one-shot stats (about a second per 16 containers each). */
  rawStatsRounds: number;
  cycles: number;
}

/** kubelet-like polling at 30 pods cost cri-dockerd v0.3.20 this much CPU (runtime + dockerd) on this machine (issue #14). */
const CRI_DOCKERD_POLLING_CPU_AT_30 = 1.41;

/** When memory is first read, and when a fresh process counts as idle. */
const START_MS = 3000;
const IDLE_AFTER_MS = 20_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const f1 = (n: number): string => (Number.isNaN(n) ? '-' : n.toFixed(1));

interface SizeResult {
  pods: number;
  podStats: number[];
  containerStats: number[];
  rawStats: number[];
  polling: PollingResult;
  rss: number;
}

export async function nodeAtScale(opts: NodeScaleOptions): Promise<string> {
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  const cri = await startDockercri({ args: ['--log-level=warn'] });
  const pid = cri.proc.pid as number;
  const pods = new BenchPods(cri, `bench-node-${process.pid}`);
  const results: SizeResult[] = [];
  const cycleRss: number[] = [];
  let rssStart = 0;
  let rssIdle = 0;
  try {
    await sleep(START_MS);
    rssStart = rssMiB(pid);
    // idle: after V8's memory reducer has run its full collections (about 8 s after start-up)
    await sleep(IDLE_AFTER_MS - START_MS);
    rssIdle = rssMiB(pid);
    for (const size of opts.sizes) {
      await pods.growTo(size);
      await sleep(3000);
      const podStats: number[] = [];
      const containerStats: number[] = [];
      for (let r = 0; r < opts.statsRounds + 2; r++) {
        const keep = r >= 2;
        // unfiltered, as kubelet asks: everything the node runs
        const p = await timed(keep ? podStats : [], () => cri.runtime.ListPodSandboxStats({}));
        const c = await timed(keep ? containerStats : [], () => cri.runtime.ListContainerStats({}));
        if ((p.stats ?? []).length < size || (c.stats ?? []).length < size) throw new Error(`stats of ${(p.stats ?? []).length} pods and ${(c.stats ?? []).length} containers at ${size} pods`);
      }
      const rawStats: number[] = [];
      const ids = pods.pods.map((p) => p.containerId);
      for (let r = 0; r < opts.rawStatsRounds; r++) {
        await timed(rawStats, () => mapLimit(ids, 16, (id) => docker.getContainer(id).stats({ stream: false, 'one-shot': true } as { stream: false })));
      }
      const polling = await kubeletLikePolling(cri, pid, opts.pollSeconds);
      results.push({ pods: size, podStats, containerStats, rawStats, polling, rss: rssMiB(pid) });
    }
    cycleRss.push(rssMiB(pid));
    for (let i = 1; i <= opts.cycles; i++) {
      await pods.removeOne(await pods.runOne());
      if (i === Math.ceil(opts.cycles / 2) || i === opts.cycles) cycleRss.push(rssMiB(pid));
    }
  } finally {
    await pods.removeAll();
    await cri.stop();
  }

  figureGoal(`idle RSS, ${IDLE_AFTER_MS / 1000} s after start`, rssIdle, 'MiB', 60, `${f1(rssStart)} MiB ${START_MS / 1000} s after start`);
  for (const r of results) {
    const total = r.polling.runtimeCpu + (r.polling.dockerdCpu ?? NaN);
    const limit = r.pods === 30 && opts.pollSeconds === 60 ? CRI_DOCKERD_POLLING_CPU_AT_30 : undefined;
    figureGoal(`kubelet-like polling ${opts.pollSeconds} s at ${r.pods} pods: dockercri + dockerd CPU`, total, 's', limit, `${r.polling.runtimeCpu.toFixed(2)} + ${(r.polling.dockerdCpu ?? NaN).toFixed(2)} s${limit ? '; cri-dockerd 0.41 + 1.00 s (issue #14, 60 s)' : ''}`, true);
    if (r.pods >= 110) {
      figureGoal(`ListPodSandboxStats at ${r.pods} pods p50`, percentile(r.podStats, 50), 'ms', 100, `Docker one-shot stats ${f1(percentile(r.rawStats, 50))} ms`, true);
      figureGoal(`ListContainerStats at ${r.pods} p50`, percentile(r.containerStats, 50), 'ms', 100, `Docker one-shot stats ${f1(percentile(r.rawStats, 50))} ms`, true);
    }
  }
  if (cycleRss.length === 3) {
    const [start, mid, end] = cycleRss as [number, number, number];
    figureGoal(`RSS growth over the last half of ${opts.cycles} pod create/delete cycles`, end - mid, 'MiB', 2, `${f1(start)} → ${f1(mid)} → ${f1(end)} MiB`);
  }

  const lines = [
    `### A node at ${opts.sizes.join(' and ')} pods (one running container each)`,
    '',
    `dockercri RSS: ${f1(rssStart)} MiB ${START_MS / 1000} s after start, ${f1(rssIdle)} MiB idle (${IDLE_AFTER_MS / 1000} s after start)${results.map((r) => `, ${f1(r.rss)} MiB at ${r.pods} pods`).join('')}.`,
    '',
    `| pods | ListPodSandboxStats p50 / p95 ms | ListContainerStats p50 / p95 ms | Docker one-shot stats of the containers (16 at a time) p50 ms | polling ${opts.pollSeconds} s: dockercri CPU s | dockerd CPU s | rpcs |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.pods} | ${f1(percentile(r.podStats, 50))} / ${f1(percentile(r.podStats, 95))} | ${f1(percentile(r.containerStats, 50))} / ${f1(percentile(r.containerStats, 95))} | ${f1(percentile(r.rawStats, 50))} | ${r.polling.runtimeCpu.toFixed(2)} | ${(r.polling.dockerdCpu ?? NaN).toFixed(2)} | ${r.polling.calls} |`,
    ),
    '',
    'Polling: ListPodSandbox and ListContainers every second, Status every 5 s, ListPodSandboxStats, ListContainerStats and ImageFsInfo every 10 s; CPU is user + system time from /proc over the window (dockerd serves everyone on this engine).',
    '',
  ];
  if (cycleRss.length === 3) lines.push(`RSS across ${opts.cycles} pod create/delete cycles (beside the ${opts.sizes.at(-1)} pods): ${cycleRss.map(f1).join(' → ')} MiB.`, '');
  return lines.join('\n');
}
