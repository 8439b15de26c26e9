// What cri-dockerd added after v0.3.7, seen through the real dockercri on this Engine: RuntimeClass
// handlers mapped to Docker runtimes, the handler features Status reports, and the clear refusals
// of recursive read-only mounts and CDI devices where the Engine cannot give them. Pods and
// containers are named uniquely and carry this file's run label; afterAll removes what is left.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../src/errors.js';
import { BUSYBOX, grpcError, startDockercri, uniq, type Dockercri } from './harness.js';
import { NS, TEST_LABEL, containersWith, docker, podConfig, removeRunContainers } from './pods.js';

const run = uniq('parity');
const info = JSON.parse(execFileSync('docker', ['info', '--format', '{{json .}}'], { encoding: 'utf8' })) as { Runtimes: Record<string, unknown>; DefaultRuntime: string };
const apiVersion = execFileSync('docker', ['version', '--format', '{{.Server.APIVersion}}'], { encoding: 'utf8' }).trim();
const engineHasRuntimeFeatures = Number(apiVersion.split('.')[1]) >= 44;
/** A Docker runtime other than the default one, if the shared Engine declares any (20.10 declares io.containerd.runc.v2). */
const otherRuntime = Object.keys(info.Runtimes).sort().find((r) => r !== info.DefaultRuntime);

let cri: Dockercri;
let root: string;
let logs: string;

async function runPod(runtimeHandler = ''): Promise<{ sandboxId: string; config: Record<string, unknown> }> {
  const config = { ...podConfig({ run, pid: NS.CONTAINER }), logDirectory: join(logs, uniq('pod')) };
  const sandboxId = (await cri.runtime.RunPodSandbox({ config, runtimeHandler })).podSandboxId ?? '';
  expect(sandboxId).toMatch(/^[0-9a-f]{64}$/);
  return { sandboxId, config };
}

async function removePod(sandboxId: string): Promise<void> {
  await cri.runtime.StopPodSandbox({ podSandboxId: sandboxId });
  await cri.runtime.RemovePodSandbox({ podSandboxId: sandboxId });
}

const containerConfig = (name: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({
  metadata: { name, attempt: 0 },
  image: { image: BUSYBOX },
  command: ['sleep', '100000'],
  labels: { [TEST_LABEL]: run },
  logPath: `${name}/0.log`,
  linux: { securityContext: { namespaceOptions: { network: NS.POD, ipc: NS.POD, pid: NS.CONTAINER } } },
  ...over,
});

const runtimeOf = async (dockerId: string): Promise<string> => (await docker('inspect', '--format', '{{.HostConfig.Runtime}}', dockerId)).trim();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dockercri-parity-root-'));
  logs = await mkdtemp(join(tmpdir(), 'dockercri-parity-logs-'));
  cri = await startDockercri({ args: [`--cri-dockerd-root-directory=${root}`] });
});

afterAll(async () => {
  await cri?.stop();
  await removeRunContainers(run);
  await rm(root, { recursive: true, force: true });
  await rm(logs, { recursive: true, force: true });
});

describe('Status runtime handlers', () => {
  it('lists the default handler and every Docker runtime, without user namespaces', async () => {
    const handlers = (await cri.runtime.Status({})).runtimeHandlers ?? [];
    expect(handlers.map((h) => h.name ?? '')).toEqual(['', ...Object.keys(info.Runtimes).sort()]);
    for (const h of handlers) expect(h.features?.userNamespaces ?? false).toBe(false);
  });

  it.skipIf(engineHasRuntimeFeatures)('offers no recursive read-only mounts on an Engine older than API 1.44', async () => {
    const handlers = (await cri.runtime.Status({})).runtimeHandlers ?? [];
    for (const h of handlers) expect(h.features?.recursiveReadOnlyMounts ?? false, h.name ?? '').toBe(false);
  });
});

describe('RuntimeClass handlers', () => {
  it.skipIf(otherRuntime === undefined)('runs the sandbox and its containers on the Docker runtime the handler names', async () => {
    const handler = otherRuntime as string;
    const pod = await runPod(handler);
    try {
      expect(await runtimeOf(pod.sandboxId)).toBe(handler);
      expect((await cri.runtime.PodSandboxStatus({ podSandboxId: pod.sandboxId })).status?.runtimeHandler).toBe(handler);
      const { containerId } = await cri.runtime.CreateContainer({ podSandboxId: pod.sandboxId, config: containerConfig(uniq('c')), sandboxConfig: pod.config });
      expect(await runtimeOf(containerId ?? '')).toBe(handler);
      await cri.runtime.StartContainer({ containerId });
      expect((await cri.runtime.ContainerStatus({ containerId })).status?.state).toBe(1);
      await cri.runtime.StopContainer({ containerId, timeout: 0 });
    } finally {
      await removePod(pod.sandboxId);
    }
  });

  it('takes "docker" (dockershim\'s handler name) and the default runtime\'s name as the default handler', async () => {
    for (const handler of ['docker', info.DefaultRuntime]) {
      const pod = await runPod(handler);
      try {
        expect(await runtimeOf(pod.sandboxId)).toBe(info.DefaultRuntime);
        expect((await cri.runtime.PodSandboxStatus({ podSandboxId: pod.sandboxId })).status?.runtimeHandler ?? '').toBe('');
      } finally {
        await removePod(pod.sandboxId);
      }
    }
  });

  it('refuses a handler no Docker runtime answers to, creating nothing', async () => {
    const config = podConfig({ run });
    const err = await grpcError(cri.runtime.RunPodSandbox({ config, runtimeHandler: 'no-such-runtime' }));
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.details).toMatch(/runtime handler "no-such-runtime"/);
    expect(await containersWith({ name: (config.metadata as { name: string }).name })).toEqual([]);
  });
});

describe.skipIf(engineHasRuntimeFeatures)('features this Engine lacks are refused before anything is created', () => {
  it('a recursive read-only mount: FAILED_PRECONDITION naming the Engine API it needs', async () => {
    const pod = await runPod();
    try {
      const name = uniq('rro');
      const mounts = [{ containerPath: '/data', hostPath: logs, readonly: true, recursiveReadOnly: true }];
      const err = await grpcError(cri.runtime.CreateContainer({ podSandboxId: pod.sandboxId, config: containerConfig(name, { mounts }), sandboxConfig: pod.config }));
      expect(err.code).toBe(Code.FAILED_PRECONDITION);
      expect(err.details).toMatch(/mount at \/data: recursive read-only mounts are unsupported here \(RROUnsupported\): .*API 1\.44/);
      expect(await containersWith({ name })).toEqual([]);
      // the same mount without rro is fine
      const plain = [{ containerPath: '/data', hostPath: logs, readonly: true }];
      const { containerId } = await cri.runtime.CreateContainer({ podSandboxId: pod.sandboxId, config: containerConfig(name, { mounts: plain }), sandboxConfig: pod.config });
      expect(containerId).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await removePod(pod.sandboxId);
    }
  });

  it('a CDI device: FAILED_PRECONDITION saying the Engine needs CDI', async () => {
    const pod = await runPod();
    try {
      const name = uniq('cdi');
      const err = await grpcError(cri.runtime.CreateContainer({ podSandboxId: pod.sandboxId, config: containerConfig(name, { CDIDevices: [{ name: 'vendor.example/gpu=0' }] }), sandboxConfig: pod.config }));
      expect(err.code).toBe(Code.FAILED_PRECONDITION);
      expect(err.details).toMatch(/CDI devices \(vendor\.example\/gpu=0\) need a Docker Engine with CDI enabled/);
      expect(await containersWith({ name })).toEqual([]);
    } finally {
      await removePod(pod.sandboxId);
    }
  });
});
