// kubelet's steady-state load on a node with N pods: relist (ListPodSandbox + ListContainers) every
// second, Status every 5 s, the stats rpcs and ImageFsInfo every 10 s. What it costs is the CPU the
// runtime and dockerd spend meanwhile, read from /proc.
import type { Dockercri } from '../integration/harness.js';
import { cpuSeconds, cpuSecondsIfAlive, dockerdPid, rssMiB } from './proc.js';

export interface PollingResult {
  seconds: number;
  runtimeCpu: number;
  dockerdCpu: number | undefined;
  rssMiB: number;
  calls: number;
  failed: number;
}

export interface PollingOptions {
  /** Keeps polling after `seconds` until this says stop. */
  until?: () => boolean;
  /** Failed calls go here and are counted; without it the first failure ends the load. */
  onError?: (rpc: string, err: Error) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs the load against `cri` (serving as process `pid`) for at least `seconds`. */
export async function kubeletLikePolling(cri: Pick<Dockercri, 'runtime' | 'images'>, pid: number, seconds: number, opts: PollingOptions = {}): Promise<PollingResult> {
  const dockerd = dockerdPid();
  /** What kubelet calls, with how many seconds apart. */
  const schedule: Array<[rpc: string, everySeconds: number, p: () => Promise<unknown>]> = [
    ['ListPodSandbox', 1, () => cri.runtime.ListPodSandbox({})],
    ['ListContainers', 1, () => cri.runtime.ListContainers({})],
    ['Status', 5, () => cri.runtime.Status({})],
    ['ListPodSandboxStats', 10, () => cri.runtime.ListPodSandboxStats({})],
    ['ListContainerStats', 10, () => cri.runtime.ListContainerStats({})],
    ['ImageFsInfo', 10, () => cri.images.ImageFsInfo({})],
  ];
  // one round before the clock starts: on a node in its steady state kubelet made its first calls
  // long ago, and what a runtime does once per process or per container (a first walk of image
  // layers, say) is not the steady cost; its failures are the loop's to count
  await Promise.all(schedule.map(([, , p]) => p().catch(() => undefined)));
  const runtime0 = cpuSeconds(pid);
  const dockerd0 = cpuSecondsIfAlive(dockerd);
  const started = Date.now();
  let calls = 0;
  let failed = 0;
  const call = async (rpc: string, p: () => Promise<unknown>): Promise<void> => {
    try {
      await p();
      calls++;
    } catch (err) {
      failed++;
      if (!opts.onError) throw err;
      opts.onError(rpc, err as Error);
    }
  };
  for (let tick = 0; tick < seconds || (opts.until !== undefined && !opts.until()); tick++) {
    await sleep(Math.max(0, started + tick * 1000 - Date.now()));
    await Promise.all(schedule.filter(([, every]) => tick % every === 0).map(([rpc, , p]) => call(rpc, p)));
  }
  await sleep(Math.max(0, started + seconds * 1000 - Date.now()));
  return {
    seconds: (Date.now() - started) / 1000,
    runtimeCpu: cpuSeconds(pid) - runtime0,
    // undefined when the Engine restarted meanwhile
    dockerdCpu: dockerd0 === undefined ? undefined : (cpuSecondsIfAlive(dockerd) ?? NaN) - dockerd0,
    rssMiB: rssMiB(pid),
    calls,
    failed,
  };
}
