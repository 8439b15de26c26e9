// Container lifecycle through dockercri against the same work done with dockerode directly:
// create, start, status (inspect), stop, remove, inside one running pod sandbox; and an ExecSync
// of `true` in the running container, as an exec probe makes (not part of the whole cycle).
import Docker from 'dockerode';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDockercri } from '../integration/harness.js';
import { ratioGoal } from './goals.js';
import { row, table, timed, type Row } from './stats.js';
import { connectWire, WIRE_CLIENT } from './wire-client.js';

const IMAGE = 'dockercri-test/busybox:latest';
/** runtime.v1.NamespaceMode.CONTAINER */
const CONTAINER_PID = 1;

export async function containerLifecycle(n: number): Promise<string> {
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  const cri = await startDockercri({ args: ['--log-level=warn'] });
  const wire = connectWire(cri.socket);
  const tag = `bench-${process.pid}`;
  const logDirectory = mkdtempSync(join(tmpdir(), 'dockercri-bench-logs-'));
  const ops = ['create', 'start', 'status', 'statusWire', 'exec', 'stop', 'remove'] as const;
  const cycleOps = ops.filter((op) => op !== 'exec' && op !== 'statusWire');
  const fresh = (): Record<(typeof ops)[number], number[]> => ({ create: [], start: [], status: [], statusWire: [], exec: [], stop: [], remove: [] });
  const shim = fresh();
  const raw = fresh();
  const sandboxConfig = { metadata: { name: `${tag}-pod`, namespace: 'bench', uid: `${tag}-uid`, attempt: 0 }, logDirectory, labels: { bench: tag }, linux: {} };
  const { podSandboxId } = await cri.runtime.RunPodSandbox({ config: sandboxConfig });
  try {
    for (let i = 0; i < n + 2; i++) {
      const keep = i >= 2;
      const s = keep ? shim : fresh();
      const r = keep ? raw : fresh();
      // a process namespace of its own, as kubelet asks unless the pod shares one; the raw container has one too
      const config = { metadata: { name: `c${i}`, attempt: 0 }, image: { image: IMAGE }, command: ['sleep', '3600'], logPath: `c${i}/0.log`, labels: { bench: tag }, linux: { securityContext: { namespaceOptions: { pid: CONTAINER_PID } } } };
      const { containerId } = await timed(s.create, () => cri.runtime.CreateContainer({ podSandboxId: podSandboxId as string, config, sandboxConfig }));
      await timed(s.start, () => cri.runtime.StartContainer({ containerId }));
      await timed(s.status, () => cri.runtime.ContainerStatus({ containerId }));
      await timed(s.statusWire, () => wire.runtime.ContainerStatus({ containerId }));
      await timed(s.exec, () => cri.runtime.ExecSync({ containerId, cmd: ['true'], timeout: 10 }));
      await timed(s.stop, () => cri.runtime.StopContainer({ containerId, timeout: 0 }));
      await timed(s.remove, () => cri.runtime.RemoveContainer({ containerId }));

      const c = await timed(r.create, () =>
        docker.createContainer({
          name: `k8s_raw${i}_${tag}-pod_bench_${tag}-uid_0`,
          Image: IMAGE,
          Entrypoint: ['sleep'],
          Cmd: ['3600'],
          Labels: { bench: tag, 'io.kubernetes.docker.type': 'container', 'io.kubernetes.sandbox.id': podSandboxId as string },
          HostConfig: { NetworkMode: `container:${podSandboxId}`, IpcMode: `container:${podSandboxId}`, PidMode: '', SecurityOpt: ['seccomp=unconfined'], LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } } },
        }),
      );
      await timed(r.start, () => c.start());
      await timed(r.status, () => c.inspect());
      await timed(r.statusWire, () => c.inspect());
      await timed(r.exec, () => rawExec(c, ['true']));
      await timed(r.stop, () => c.stop({ t: 0 }));
      await timed(r.remove, () => c.remove({ force: true, v: true }));
    }
  } finally {
    await cri.runtime.RemovePodSandbox({ podSandboxId }).catch(() => undefined);
    wire.close();
    await cri.stop();
    rmSync(logDirectory, { recursive: true, force: true });
  }
  const label: Partial<Record<(typeof ops)[number], string>> = {
    statusWire: `status again, ${WIRE_CLIENT} (raw: a second inspect; not in the whole lifecycle)`,
    exec: 'exec (ExecSync `true`; raw: exec create, start, read to the end, inspect)',
  };
  const rows: Row[] = ops.map((op) => row(label[op] ?? op, shim[op], raw[op]));
  const total = (o: ReturnType<typeof fresh>): number[] => o.create.map((_, i) => cycleOps.reduce((sum, op) => sum + (o[op][i] ?? 0), 0));
  rows.push(row('whole lifecycle', total(shim), total(raw)));
  const byOp = (op: string): Row => rows.find((r) => r.op === op) as Row;
  ratioGoal('ContainerStatus (raw: inspect)', byOp('status').shimP50, byOp('status').rawP50, 1.3);
  ratioGoal('CreateContainer', byOp('create').shimP50, byOp('create').rawP50, 1.2);
  ratioGoal('RemoveContainer', byOp('remove').shimP50, byOp('remove').rawP50, 1.2);
  ratioGoal('container whole cycle', byOp('whole lifecycle').shimP50, byOp('whole lifecycle').rawP50, 1.03);
  return table(`Container lifecycle, ${n} containers in one pod`, rows);
}

/** What ExecSync does, with dockerode: create the exec, start it attached, read its output to the end, read its exit code. */
async function rawExec(c: Docker.Container, cmd: string[]): Promise<number | null> {
  const exec = await c.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
    stream.resume();
  });
  return (await exec.inspect()).ExitCode;
}
