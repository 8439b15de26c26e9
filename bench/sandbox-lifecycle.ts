// Sandbox lifecycle through dockercri against the same work done with dockerode directly:
// create+start the pause container (RunPodSandbox), inspect (PodSandboxStatus), stop, remove.
import Docker from 'dockerode';
import { startDockercri } from '../integration/harness.js';
import { ratioGoal } from './goals.js';
import { row, table, timed, type Row } from './stats.js';
import { connectWire, WIRE_CLIENT } from './wire-client.js';

const PAUSE = 'registry.k8s.io/pause:3.10';

export async function sandboxLifecycle(n: number): Promise<string> {
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  const cri = await startDockercri({ args: ['--log-level=warn'] });
  const wire = connectWire(cri.socket);
  const tag = `bench-${process.pid}`;
  const fresh = (): Record<'run' | 'status' | 'statusWire' | 'stop' | 'remove', number[]> => ({ run: [], status: [], statusWire: [], stop: [], remove: [] });
  const shim = fresh();
  const raw = fresh();
  try {
    for (let i = 0; i < n + 2; i++) {
      // interleave the two, so drift of the machine affects both alike; the first two are warm-up
      const keep = i >= 2;
      const s = keep ? shim : fresh();
      const r = keep ? raw : fresh();
      const config = { metadata: { name: `${tag}-${i}`, namespace: 'bench', uid: `${tag}-uid-${i}`, attempt: 0 }, labels: { bench: tag }, linux: {} };
      const { podSandboxId } = await timed(s.run, () => cri.runtime.RunPodSandbox({ config }));
      await timed(s.status, () => cri.runtime.PodSandboxStatus({ podSandboxId }));
      await timed(s.statusWire, () => wire.runtime.PodSandboxStatus({ podSandboxId }));
      await timed(s.stop, () => cri.runtime.StopPodSandbox({ podSandboxId }));
      await timed(s.remove, () => cri.runtime.RemovePodSandbox({ podSandboxId }));

      const container = await timed(r.run, async () => {
        const c = await docker.createContainer({
          name: `k8s_POD_${tag}-raw-${i}_bench_${tag}-raw-uid-${i}_0`,
          Image: PAUSE,
          Labels: { bench: tag, 'io.kubernetes.docker.type': 'podsandbox' },
          HostConfig: { IpcMode: 'shareable', NetworkMode: 'default', CpuShares: 2, SecurityOpt: ['no-new-privileges'] },
        });
        await c.start();
        return c;
      });
      await timed(r.status, () => container.inspect());
      await timed(r.statusWire, () => container.inspect());
      await timed(r.stop, () => container.stop({ t: 10 }));
      await timed(r.remove, () => container.remove({ force: true, v: true }));
    }
  } finally {
    wire.close();
    await cri.stop();
  }
  const rows: Row[] = [row('run (RunPodSandbox / create+start)', shim.run, raw.run), row('status (PodSandboxStatus / inspect)', shim.status, raw.status), row('stop', shim.stop, raw.stop), row('remove', shim.remove, raw.remove)];
  const total = (o: ReturnType<typeof fresh>): number[] => o.run.map((_, i) => (o.run[i] ?? 0) + (o.status[i] ?? 0) + (o.stop[i] ?? 0) + (o.remove[i] ?? 0));
  rows.push(row('whole lifecycle', total(shim), total(raw)));
  const [, status, , remove, whole] = rows as [Row, Row, Row, Row, Row];
  rows.push(row(`status again, ${WIRE_CLIENT} (raw: a second inspect; not in the whole lifecycle)`, shim.statusWire, raw.statusWire));
  ratioGoal('PodSandboxStatus (raw: inspect)', status.shimP50, status.rawP50, 1.3);
  ratioGoal('RemovePodSandbox', remove.shimP50, remove.rawP50, 1.2);
  ratioGoal('pod whole cycle', whole.shimP50, whole.rawP50, 1.03);
  return table(`Pod sandbox lifecycle, ${n} pods, Docker bridge networking`, rows);
}
