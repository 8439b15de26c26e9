// ListContainerStats and ListPodSandboxStats through dockercri (cgroup files) against Docker's own
// one-shot stats of the same running containers, in the same run, at growing container counts.
import Docker from 'dockerode';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDockercri } from '../integration/harness.js';
import { mapLimit } from '../src/util/pool.js';
import { row, table, timed, type Row } from './stats.js';

const IMAGE = 'dockercri-test/busybox:latest';
const ROUNDS = 20;

export async function containerStats(sizes: readonly number[] = [10, 30, 100]): Promise<string> {
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  const cri = await startDockercri({ args: ['--log-level=warn'] });
  const tag = `bench-stats-${process.pid}`;
  const logDirectory = mkdtempSync(join(tmpdir(), 'dockercri-bench-logs-'));
  const sandboxConfig = { metadata: { name: `${tag}-pod`, namespace: 'bench', uid: `${tag}-uid`, attempt: 0 }, logDirectory, labels: { bench: tag }, linux: {} };
  const { podSandboxId } = await cri.runtime.RunPodSandbox({ config: sandboxConfig });
  const ids: string[] = [];
  const rows: Row[] = [];
  try {
    for (const size of sizes) {
      while (ids.length < size) {
        const i = ids.length;
        const config = { metadata: { name: `c${i}`, attempt: 0 }, image: { image: IMAGE }, command: ['sleep', '3600'], logPath: `c${i}/0.log`, labels: { bench: tag } };
        const { containerId } = await cri.runtime.CreateContainer({ podSandboxId: podSandboxId as string, config, sandboxConfig });
        await cri.runtime.StartContainer({ containerId });
        ids.push(containerId as string);
      }
      const filter = { labelSelector: { bench: tag } };
      const shimList: number[] = [];
      const shimPod: number[] = [];
      const raw: number[] = [];
      for (let r = 0; r < ROUNDS + 2; r++) {
        const keep = r >= 2;
        const s1: number[] = keep ? shimList : [];
        const s2: number[] = keep ? shimPod : [];
        const s3: number[] = keep ? raw : [];
        const list = await timed(s1, () => cri.runtime.ListContainerStats({ filter }));
        if ((list.stats ?? []).length !== size) throw new Error(`ListContainerStats gave ${(list.stats ?? []).length} of ${size}`);
        await timed(s2, () => cri.runtime.ListPodSandboxStats({ filter: { id: podSandboxId } }));
        await timed(s3, () => mapLimit(ids, 16, (id) => docker.getContainer(id).stats({ stream: false, 'one-shot': true } as { stream: false })));
      }
      rows.push(row(`ListContainerStats, ${size} containers`, shimList, raw));
      rows.push(row(`ListPodSandboxStats, 1 pod of ${size}`, shimPod, raw));
    }
  } finally {
    for (const containerId of ids) await cri.runtime.StopContainer({ containerId, timeout: 0 }).catch(() => undefined);
    await cri.runtime.StopPodSandbox({ podSandboxId }).catch(() => undefined);
    await cri.runtime.RemovePodSandbox({ podSandboxId }).catch(() => undefined);
    await cri.stop();
    rmSync(logDirectory, { recursive: true, force: true });
  }
  return table("Stats from cgroup files, against Docker's one-shot stats endpoint for the same containers (16 at a time)", rows);
}
