// How kubelet reaches dockercri: the socket it binds, the one systemd hands it, and the
// :authority older gRPC clients send.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepts, BUSYBOX, connectCri, MAIN, startDockercri, uniq, type Dockercri } from './harness.js';
import { READY, podConfig, removeRunContainers } from './pods.js';

describe('a client that sends the socket path as :authority (grpc-go before 1.56: kubelet and crictl 1.26)', () => {
  let cri: Dockercri;
  beforeAll(async () => {
    cri = await startDockercri();
  });
  afterAll(async () => {
    await cri.stop();
  });

  it('gets answers to unary and streaming rpcs, many on one connection', async () => {
    const old = connectCri(cri.socket, { 'grpc.default_authority': cri.socket });
    try {
      expect((await old.runtime.Version({})).runtimeName).toBe('docker');
      for (let i = 0; i < 5; i++) expect(await old.runtime.ListPodSandbox({})).toBeDefined();
      expect(Array.isArray(await old.runtime.StreamContainers({}))).toBe(true);
      expect((await old.images.ImageStatus({ image: { image: BUSYBOX } })).image?.id).toMatch(/^sha256:/);
    } finally {
      old.close();
    }
    expect(cri.log()).toContain('its header blocks are rewritten');
  });
});

/** Waits until `path` accepts a connection. */
async function socketAccepts(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await accepts(path)) return;
    if (Date.now() > deadline) throw new Error(`${path} does not accept connections`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('socket activation: --container-runtime-endpoint fd:// under systemd-socket-activate', () => {
  const run = uniq('sockact');
  let dir: string;
  let socket: string;
  let proc: ReturnType<typeof spawn>;
  let stderr = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dcri-sockact-'));
    socket = join(dir, 'cri-dockerd.sock');
    // systemd-socket-activate binds the socket, then execs dockercri with LISTEN_FDS=1 and fd 3,
    // as systemd does for a .socket unit
    proc = spawn(
      'systemd-socket-activate',
      ['--listen', socket, '--fdname=cri', process.execPath, MAIN, '--container-runtime-endpoint', 'fd://', `--cri-dockerd-root-directory=${join(dir, 'root')}`, '--network-plugin=', '--log-level=debug'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await socketAccepts(socket, 15_000);
  });

  afterAll(async () => {
    await removeRunContainers(run);
    if (proc.exitCode === null) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the CRI on the socket it was handed, a pod included', async () => {
    const cri = connectCri(socket);
    try {
      expect((await cri.runtime.Version({})).runtimeName).toBe('docker');
      const config = podConfig({ run });
      const { podSandboxId } = await cri.runtime.RunPodSandbox({ config });
      const { containerId } = await cri.runtime.CreateContainer({
        podSandboxId,
        config: { metadata: { name: 'app' }, image: { image: BUSYBOX }, command: ['sleep', '3600'], labels: { 'io.dockercri.test.run': run } },
        sandboxConfig: config,
      });
      await cri.runtime.StartContainer({ containerId });
      expect((await cri.runtime.PodSandboxStatus({ podSandboxId })).status?.state).toBe(READY);
      expect((await cri.runtime.ListContainers({ filter: { podSandboxId } })).containers?.map((c) => c.id)).toEqual([containerId]);
      await cri.runtime.StopPodSandbox({ podSandboxId });
      await cri.runtime.RemovePodSandbox({ podSandboxId });
      expect((await cri.runtime.ListPodSandbox({ filter: { id: podSandboxId } })).items ?? []).toEqual([]);
    } finally {
      cri.close();
    }
    expect(stderr).toContain('"activation":"systemd"');
    expect(stderr).toContain('"socket":"cri"');
  });

  it('leaves the socket, which systemd owns, in place when it stops', async () => {
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(socket) && statSync(socket).isSocket()).toBe(true);
  });
});

describe('fd:// without a socket from systemd', () => {
  it('exits 1 with the reason instead of serving', async () => {
    const proc = spawn(process.execPath, [MAIN, '--container-runtime-endpoint=fd://', '--network-plugin='], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LISTEN_FDS: undefined, LISTEN_PID: undefined } });
    let stderr = '';
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr).toContain('systemd passed no socket');
  });
});
