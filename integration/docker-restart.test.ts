// dockercri against a private Docker Engine that the test stops and starts underneath it: the
// shared engine on /var/run/docker.sock is never touched.
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../src/errors.js';
import { PrivateEngine, processState } from './engine.js';
import { grpcError, startDockercri, type Dockercri } from './harness.js';

/** How long dockercri may take to notice that the engine is back. */
const RECOVERY_MS = 30_000;
/** Status must answer promptly while Docker is down (kubelet polls it every few seconds). */
const STATUS_DEADLINE_MS = 5_000;

type Condition = { type?: string | null; status?: boolean | null; reason?: string | null; message?: string | null };

async function runtimeReady(cri: Dockercri): Promise<Condition | undefined> {
  const s = await cri.runtime.Status({}, { deadlineMs: STATUS_DEADLINE_MS });
  return (s.status?.conditions ?? []).find((c) => c.type === 'RuntimeReady');
}

/** Asserts what dockercri says while its engine cannot be reached. */
async function expectDockerDown(cri: Dockercri): Promise<void> {
  // within the deadline, or the call fails DEADLINE_EXCEEDED
  const cond = await runtimeReady(cri);
  expect(cond?.status ?? false).toBe(false);
  expect(cond?.reason).toBe('DockerDaemonNotReady');
  expect(cond?.message ?? '').not.toBe('');
  expect(cond?.message).toMatch(/Docker Engine is unreachable/);

  const version = await grpcError(cri.runtime.Version({}, { deadlineMs: STATUS_DEADLINE_MS }));
  expect(version.code).toBe(Code.UNAVAILABLE);
  expect(version.details).toMatch(/Docker Engine is unreachable/);

  const images = await grpcError(cri.images.ListImages({}, { deadlineMs: STATUS_DEADLINE_MS }));
  expect(images.code).toBe(Code.UNAVAILABLE);
  expect(images.details).toMatch(/Docker Engine is unreachable/);
}

/** Polls Status until RuntimeReady is true again; then the rpcs that failed must work. */
async function expectRecovery(cri: Dockercri, engineVersion: string): Promise<void> {
  const deadline = Date.now() + RECOVERY_MS;
  let last: Condition | undefined;
  for (;;) {
    last = await runtimeReady(cri);
    if (last?.status === true || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  expect(last?.status, `RuntimeReady still false after ${RECOVERY_MS} ms: ${last?.reason} ${last?.message}`).toBe(true);
  expect(last?.reason ?? '').toBe('');
  expect((await cri.runtime.Version({})).runtimeVersion).toBe(engineVersion);
  expect(Array.isArray((await cri.images.ListImages({})).images ?? [])).toBe(true);
  // the container index follows the engine again too (it waits a few seconds for its resync)
  expect(Array.isArray((await cri.runtime.ListPodSandbox({})).items ?? [])).toBe(true);
}

describe('Docker stopped and restarted underneath', () => {
  const engines: PrivateEngine[] = [];
  const cris: Dockercri[] = [];
  let engineVersion = '';

  beforeAll(async () => {
    const probe = await PrivateEngine.create();
    engines.push(probe);
    engineVersion = (await probe.docker('version', '--format', '{{.Server.Version}}')).trim();
  });

  afterAll(async () => {
    const failures: unknown[] = [];
    for (const cri of cris) await cri.stop().catch((err) => failures.push(err));
    for (const engine of engines) await engine.cleanup().catch((err) => failures.push(err));
    if (failures.length > 0) throw failures[0];
  });

  it('Status flips to RuntimeReady=false with a reason, rpcs give UNAVAILABLE, then recovers by itself', async () => {
    const engine = engines[0]!;
    const cri = await startDockercri({ args: [`--docker-endpoint=${engine.endpoint}`] });
    cris.push(cri);
    const pid = cri.proc.pid;

    expect((await runtimeReady(cri))?.status).toBe(true);
    expect((await cri.runtime.Version({})).runtimeVersion).toBe(engineVersion);

    await engine.stop();
    expect(engine.running).toBe(false);
    await expectDockerDown(cri);
    // still down on a second look: nothing is cached as ready
    await expectDockerDown(cri);

    await engine.start();
    await expectRecovery(cri, engineVersion);

    // the same process recovered: it was neither restarted nor did it exit
    expect(cri.proc.pid).toBe(pid);
    expect(cri.proc.exitCode).toBeNull();
  });

  it('after a crash of the engine (its socket file left behind) it recovers the same way', async () => {
    const engine = engines[0]!;
    const cri = cris[0]!;
    await engine.stop({ signal: 'SIGKILL' });
    await expectDockerDown(cri);
    await engine.start();
    await expectRecovery(cri, engineVersion);
    expect(cri.proc.exitCode).toBeNull();
  });

  it('a frozen engine (SIGSTOP) turns RuntimeReady false within seconds, and true again once it thaws', async () => {
    const engine = engines[0]!;
    const cri = cris[0]!;
    const pid = engine.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      // every thread of dockerd has stopped (one in a system call stops when it returns)
      const frozen = (): boolean => readdirSync(`/proc/${pid}/task`).every((t) => processState(pid, Number(t)) === 'T');
      for (let i = 0; i < 100 && !frozen(); i++) await new Promise((r) => setTimeout(r, 20));
      expect(frozen(), 'dockerd stopped').toBe(true);
      // the client waits longer than dockercri's own wait for Docker: the answer must come from it
      const s = await cri.runtime.Status({}, { deadlineMs: 20_000 });
      const cond = (s.status?.conditions ?? []).find((c) => c.type === 'RuntimeReady');
      expect(cond?.status ?? false, `RuntimeReady while dockerd is stopped; dockercri's last lines:\n${cri.log().slice(-3000)}`).toBe(false);
      expect(cond?.reason).toBe('DockerDaemonNotReady');
      expect(cond?.message).toMatch(/did not answer within/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await expectRecovery(cri, engineVersion);
  });

  it('starts serving while its Docker endpoint does not exist, and recovers when the engine appears', async () => {
    const engine = await PrivateEngine.create({ start: false });
    engines.push(engine);
    const cri = await startDockercri({ args: [`--docker-endpoint=${engine.endpoint}`] });
    cris.push(cri);
    expect(cri.log()).toContain('Docker Engine does not answer yet');

    await expectDockerDown(cri);

    await engine.start();
    await expectRecovery(cri, engineVersion);
    expect(cri.proc.exitCode).toBeNull();
  });
});
