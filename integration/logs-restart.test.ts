// A container's CRI log file keeps growing across restarts of the Docker Engine underneath, and of
// dockercri while the engine is down. The engine is a private one with live-restore, so its
// containers keep running while it is down; the log stream dockercri copies from ends with the
// engine and must be taken up again once the engine is back.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateEngine } from './engine.js';
import { BUSYBOX, startDockercri, testEnv, uniq, type Dockercri } from './harness.js';
import { NS, eventually, runPodWithContainer } from './pods.js';

const run = uniq('logs-restart');
let engine: PrivateEngine;
let cri: Dockercri;

/** The tick numbers in a CRI log file, in file order. */
async function ticks(path: string): Promise<number[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return [...text.matchAll(/ stdout F tick (\d+)$/gm)].map((m) => Number(m[1]));
}

beforeAll(async () => {
  engine = await PrivateEngine.create({ args: ['--live-restore', '--shutdown-timeout=1'] });
  await engine.loadImages(BUSYBOX, testEnv().pauseImage);
  cri = await startDockercri({ args: [`--docker-endpoint=${engine.endpoint}`, `--cri-dockerd-root-directory=${join(engine.dir, 'cri-root')}`] });
});

afterAll(async () => {
  const failures: unknown[] = [];
  await cri?.stop().catch((err) => failures.push(err));
  await engine?.cleanup().catch((err) => failures.push(err));
  if (failures.length > 0) throw failures[0];
});

describe('container logs across a restart of Docker (live-restore)', () => {
  it('the log file grows again after each comes back, without repeating a line', async () => {
    const { sandboxId: podSandboxId, containerId, logFile } = await runPodWithContainer(cri.runtime, {
      run,
      logRoot: join(engine.dir, 'pods'),
      command: ['sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done'],
      network: NS.NODE,
    });
    expect(await eventually(async () => (await ticks(logFile)).length >= 5)).toBe(true);

    // the engine restarts under a running dockercri
    await engine.stop();
    await engine.start();
    let highest = Math.max(...(await ticks(logFile)));
    expect(await eventually(async () => Math.max(...(await ticks(logFile))) > highest + 20, 300)).toBe(true);

    // dockercri restarts while the engine is down: it finds the container only once the engine is back
    await cri.stop();
    await engine.stop();
    cri = await startDockercri({ args: [`--docker-endpoint=${engine.endpoint}`, `--cri-dockerd-root-directory=${join(engine.dir, 'cri-root')}`] });
    await engine.start();
    highest = Math.max(...(await ticks(logFile)));
    expect(await eventually(async () => Math.max(...(await ticks(logFile))) > highest + 20, 300)).toBe(true);

    const all = await ticks(logFile);
    expect(new Set(all).size).toBe(all.length);
    expect((await cri.runtime.ContainerStatus({ containerId })).status?.state).toBe(1);

    await cri.runtime.StopPodSandbox({ podSandboxId });
    await cri.runtime.RemovePodSandbox({ podSandboxId });
  });
});
