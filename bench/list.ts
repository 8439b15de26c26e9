// ListPodSandbox and ListContainers at N pods (one container each) against Docker's own list of
// the same objects, plus dockercri's resident memory 1 s after start and with the pods.
import Docker from 'dockerode';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDockercri } from '../integration/harness.js';
import { mapLimit } from '../src/util/pool.js';
import { row, table, timed, type Row } from './stats.js';

const IMAGE = 'dockercri-test/busybox:latest';
const rssMiB = (pid: number): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

export async function listAtScale(pods: number, samples: number): Promise<string> {
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  const cri = await startDockercri({ args: ['--log-level=warn'] });
  const tag = `benchlist-${process.pid}`;
  const logDirectory = mkdtempSync(join(tmpdir(), 'dockercri-bench-logs-'));
  const sandboxIds: string[] = [];
  let rssStart = 0;
  let rssLoaded = 0;
  try {
    await new Promise((r) => setTimeout(r, 1000));
    rssStart = rssMiB(cri.proc.pid as number);
    await mapLimit(Array.from({ length: pods }, (_, i) => i), 4, async (i) => {
      const sandboxConfig = { metadata: { name: `${tag}-${i}`, namespace: 'bench', uid: `${tag}-uid-${i}`, attempt: 0 }, logDirectory, labels: { bench: tag }, linux: {} };
      const { podSandboxId } = await cri.runtime.RunPodSandbox({ config: sandboxConfig });
      sandboxIds.push(podSandboxId as string);
      const { containerId } = await cri.runtime.CreateContainer({ podSandboxId: podSandboxId as string, sandboxConfig, config: { metadata: { name: 'c' }, image: { image: IMAGE }, command: ['sleep', '3600'], logPath: `c${i}.log`, labels: { bench: tag } } });
      await cri.runtime.StartContainer({ containerId: containerId as string });
    });
    const shimPods: number[] = [];
    const shimContainers: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < samples + 3; i++) {
      const keep = i >= 3;
      await timed(keep ? shimPods : [], () => cri.runtime.ListPodSandbox({}));
      await timed(keep ? shimContainers : [], () => cri.runtime.ListContainers({}));
      await timed(keep ? raw : [], () => docker.listContainers({ all: true, filters: { label: [`bench=${tag}`] } }));
    }
    rssLoaded = rssMiB(cri.proc.pid as number);
    const rows: Row[] = [row(`ListPodSandbox (${pods} pods) vs docker list`, shimPods, raw), row(`ListContainers (${pods} containers) vs docker list`, shimContainers, raw)];
    return `${table(`List rpcs at ${pods} pods`, rows)}\ndockercri RSS: ${rssStart.toFixed(1)} MiB 1 s after start, ${rssLoaded.toFixed(1)} MiB with ${pods} pods and ${pods} containers\n`;
  } finally {
    await mapLimit(sandboxIds, 4, (podSandboxId) => cri.runtime.RemovePodSandbox({ podSandboxId }).catch(() => undefined));
    await cri.stop();
    rmSync(logDirectory, { recursive: true, force: true });
  }
}
