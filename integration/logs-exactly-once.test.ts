// Container logs through the real dockercri process: every line a container writes is in its CRI
// log exactly once and in order, in the CRI format, through Docker's json-file rotations and
// kubelet-style rotations (rename + ReopenContainerLog) and kill -9 of dockercri while Docker
// rotates; output lost while dockercri was down (Docker rotated past it) is said in one notice
// line, never a silent gap.
import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateEngine } from './engine.js';
import { BUSYBOX, startDockercri, testEnv, uniq, type Dockercri } from './harness.js';
import { NS, runPodWithContainer, sh } from './pods.js';

const run = uniq('logs-once');
const SMALL = ['--docker-log-max-size=256k', '--docker-log-max-file=3'];
let root: string;
const started: Dockercri[] = [];
// an engine of its own: another dockercri on a shared engine would take over the copy of a
// container whose dockercri was killed (one dockercri per engine, as on a node)
let engine: PrivateEngine;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'dockercri-logs-once-'));
  engine = await PrivateEngine.create();
  await engine.loadImages(BUSYBOX, testEnv().pauseImage);
});

afterAll(async () => {
  for (const cri of started) await cri.stop('SIGKILL').catch(() => undefined);
  await engine?.cleanup();
  await rm(root, { recursive: true, force: true });
});

/**
 * dockercri on the test's engine, whose log positions survive its restarts: one root directory for
 * all, as on a node (a fresh root would copy every earlier test's container log again).
 */
async function dockercri(args: string[] = []): Promise<Dockercri> {
  const cri = await startDockercri({ args: [`--docker-endpoint=${engine.endpoint}`, `--cri-dockerd-root-directory=${join(root, 'cri-root')}`, ...args] });
  started.push(cri);
  return cri;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** awk writing `count` numbered lines of 100 bytes from `from` on; `pauseEvery` lines it sleeps 20 ms. */
function writer(count: number, opts: { from?: number; pauseEvery?: number; stderrOdd?: boolean } = {}): string {
  const pause = opts.pauseEvery ? `if (i % ${opts.pauseEvery} == ${opts.pauseEvery - 1}) { fflush(); system("sleep 0.02") }` : '';
  const out = opts.stderrOdd ? 'if (i % 2) printf "%09d %s\\n", i, p > "/dev/stderr"; else printf "%09d %s\\n", i, p' : 'printf "%09d %s\\n", i, p';
  return `awk 'BEGIN { p = sprintf("%89s", ""); gsub(/ /, "x", p); for (i = ${opts.from ?? 0}; i < ${(opts.from ?? 0) + count}; i++) { ${out}; ${pause} } }'`;
}

const CRI_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) ([PF]) (.*)$/;
const NOTICE = / stderr F dockercri: .* (was lost|may have been lost): Docker rotated its log past it/;

interface Parsed {
  /** Sequence numbers per stream, in file order. */
  seqs: Record<string, number[]>;
  /** All sequence numbers in file order. */
  all: number[];
  notices: number;
}

/** Parses CRI log files (oldest first), checking every line's format and every line's text. */
async function parse(files: string[]): Promise<Parsed> {
  const result: Parsed = { seqs: { stdout: [], stderr: [] }, all: [], notices: 0 };
  const partial: Record<string, string> = { stdout: '', stderr: '' };
  for (const file of files) {
    const text = await readFile(file, 'latin1');
    expect(text === '' || text.endsWith('\n'), `${file} ends in a newline`).toBe(true);
    for (const line of text.split('\n').slice(0, -1)) {
      if (NOTICE.test(line)) {
        result.notices++;
        continue;
      }
      const m = CRI_LINE.exec(line);
      if (!m) throw new Error(`not a CRI line in ${file}: ${JSON.stringify(line.slice(0, 120))}`);
      const [, stream, tag, content] = m as unknown as [string, string, string, string];
      partial[stream] += content;
      if (tag === 'P') continue;
      const whole = partial[stream]!;
      partial[stream] = '';
      if (!/^\d{9} x{89}$/.test(whole)) throw new Error(`a line not as written: ${JSON.stringify(whole.slice(0, 120))}`);
      const seq = Number(whole.slice(0, 9));
      result.seqs[stream]!.push(seq);
      result.all.push(seq);
    }
  }
  return result;
}

/** First place where `seqs` is not `from, from+1, …`; undefined when it is exactly that run. */
function firstBreak(seqs: number[], from: number, count: number): string | undefined {
  for (let i = 0; i < seqs.length; i++) if (seqs[i] !== from + i) return `line ${seqs[i]} at position ${i}, after ${seqs[i - 1]}`;
  if (seqs.length !== count) return `${seqs.length} lines instead of ${count}`;
  return undefined;
}

/** The pod goes, as kubelet removes it, so the next test's dockercri has nothing old to copy. */
async function removePod(cri: Dockercri, podSandboxId: string): Promise<void> {
  await cri.runtime.StopPodSandbox({ podSandboxId });
  await cri.runtime.RemovePodSandbox({ podSandboxId });
}

async function exited(cri: Dockercri, containerId: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = (await cri.runtime.ContainerStatus({ containerId })).status;
    if (status?.state === 2) return; // CONTAINER_EXITED
    if (Date.now() > deadline) throw new Error(`container ${containerId} did not exit`);
    await sleep(100);
  }
}

/** kubelet's rotated files of `logFile` (oldest first) and the current one. */
async function rotatedAndCurrent(logFile: string): Promise<string[]> {
  const dir = join(logFile, '..');
  const base = logFile.slice(dir.length + 1);
  const rotated = (await readdir(dir)).filter((n) => n.startsWith(`${base}.`)).sort();
  return [...rotated.map((n) => join(dir, n)), logFile];
}

describe('container logs exactly once, through dockercri', () => {
  it('a flat-out writer of 40 MB (4x Docker max-size 10m): every line once, in order, and the last one there once the exit is seen', async () => {
    const cri = await dockercri();
    const count = 400_000;
    const pod = await runPodWithContainer(cri.runtime, { run, logRoot: join(root, 'flat-pods'), command: ['sh', '-c', writer(count)], network: NS.NODE });
    await exited(cri, pod.containerId);
    const parsed = await parse([pod.logFile]);
    expect(firstBreak(parsed.all, 0, count)).toBeUndefined();
    expect(parsed.notices).toBe(0);
    await removePod(cri, pod.sandboxId);
    await cri.stop();
  });

  it('a steady writer across many rotations, stdout and stderr interleaved', async () => {
    const cri = await dockercri(SMALL);
    const count = 30_000;
    const pod = await runPodWithContainer(cri.runtime, { run, logRoot: join(root, 'steady-pods'), command: ['sh', '-c', writer(count, { pauseEvery: 300, stderrOdd: true })], network: NS.NODE });
    await exited(cri, pod.containerId);
    const parsed = await parse([pod.logFile]);
    expect(parsed.seqs.stdout).toEqual(Array.from({ length: count / 2 }, (_, i) => 2 * i));
    expect(parsed.seqs.stderr).toEqual(Array.from({ length: count / 2 }, (_, i) => 2 * i + 1));
    await removePod(cri, pod.sandboxId);
    await cri.stop();
  });

  it('kill -9 of dockercri again and again while Docker rotates under a flat-out writer', async () => {
    // Docker keeps more than the writer writes, so every line is still there whenever dockercri comes back
    const args = ['--docker-log-max-size=512k', '--docker-log-max-file=25'];
    let cri = await dockercri(args);
    const count = 100_000;
    const pod = await runPodWithContainer(cri.runtime, { run, logRoot: join(root, 'kill-pods'), command: ['sh', '-c', `sleep 1; ${writer(count, { pauseEvery: 200 })}`], network: NS.NODE });
    for (let k = 0; k < 8; k++) {
      await sleep(150 + Math.floor(Math.random() * 400));
      await cri.stop('SIGKILL');
      cri = await dockercri(args);
    }
    await exited(cri, pod.containerId);
    const parsed = await parse([pod.logFile]);
    expect(parsed.notices).toBe(0);
    expect(firstBreak(parsed.all, 0, count)).toBeUndefined();
    await removePod(cri, pod.sandboxId);
    await cri.stop();
  });

  it('kubelet-style rotation (rename, ReopenContainerLog) during a flat-out writer', async () => {
    // Docker keeps about 9 MB of the 15 MB written, rotating 14 times: more than the copy falls
    // behind on a loaded machine (4.5 MB was not, once, in a full run: a notice that lines may
    // have been lost, though none were); Docker's rotation past the copy is tested below
    const cri = await dockercri(['--docker-log-max-size=1m', '--docker-log-max-file=10']);
    const count = 150_000;
    const pod = await runPodWithContainer(cri.runtime, { run, logRoot: join(root, 'reopen-pods'), command: ['sh', '-c', `sleep 1; ${writer(count, { pauseEvery: 5000 })}`], network: NS.NODE });
    let rotations = 0;
    for (;;) {
      const status = (await cri.runtime.ContainerStatus({ containerId: pod.containerId })).status;
      if (status?.state === 2) break;
      await sleep(100);
      const rotated = `${pod.logFile}.20260101-${String(rotations).padStart(6, '0')}`;
      await rename(pod.logFile, rotated);
      try {
        await cri.runtime.ReopenContainerLog({ containerId: pod.containerId });
      } catch {
        // the container exited between the status and the reopen: as kubelet does, the file goes back
        await rename(rotated, pod.logFile);
        break;
      }
      rotations++;
    }
    await exited(cri, pod.containerId);
    expect(rotations).toBeGreaterThan(3);
    const parsed = await parse(await rotatedAndCurrent(pod.logFile));
    expect(firstBreak(parsed.all, 0, count)).toBeUndefined();
    expect(parsed.notices).toBe(0);
    await removePod(cri, pod.sandboxId);
    await cri.stop();
  });

  it('down while Docker rotates past its position: one notice line, then the rest in order, nothing twice', async () => {
    const args = ['--docker-log-max-size=64k', '--docker-log-max-file=2'];
    let cri = await dockercri(args);
    // the first and the last lines fit in one of Docker's files: only dockercri's absence loses output
    const script = `${writer(200)}; sleep 4; ${writer(10_000, { from: 200 })}; sleep 4; ${writer(200, { from: 10_200 })}`;
    const pod = await runPodWithContainer(cri.runtime, { run, logRoot: join(root, 'lost-pods'), command: ['sh', '-c', script], network: NS.NODE });
    const copied = async (): Promise<number> => (await parse([pod.logFile]).catch(() => ({ all: [] as number[] }))).all.length;
    for (let i = 0; i < 100 && (await copied()) < 200; i++) await sleep(50);
    expect(await copied(), 'the first 200 lines copied before the kill').toBe(200);
    await cri.stop('SIGKILL');
    // Docker goes on writing, and rotating, while dockercri is away
    const dockerLog = JSON.parse(await sh('docker', '-H', engine.endpoint, 'inspect', '--format', '{{json .LogPath}}', pod.containerId)) as string;
    let rotatedPast = false;
    for (let i = 0; i < 200 && !rotatedPast; i++) {
      rotatedPast = (await readFile(dockerLog, 'utf8').catch(() => '')).includes('"000010199 ');
      if (!rotatedPast) await sleep(50);
    }
    expect(rotatedPast, "Docker's log holds line 10199 before dockercri comes back").toBe(true);
    cri = await dockercri(args);
    await exited(cri, pod.containerId);
    const parsed = await parse([pod.logFile]);
    expect(parsed.notices).toBe(1);
    const seqs = parsed.all;
    expect(seqs.slice(0, 200)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const resumedAt = seqs[200]!;
    expect(resumedAt).toBeGreaterThan(200);
    expect(firstBreak(seqs.slice(200), resumedAt, 10_400 - resumedAt)).toBeUndefined();
    // the notice stands where the gap is
    const text = await readFile(pod.logFile, 'utf8');
    expect(text.indexOf('dockercri:')).toBeGreaterThan(text.indexOf('000000199 '));
    expect(text.indexOf('dockercri:')).toBeLessThan(text.indexOf(`${String(resumedAt).padStart(9, '0')} `));
    expect(cri.log()).toContain('container output lost');
    await removePod(cri, pod.sandboxId);
    await cri.stop();
  });

  it('a full disk under the CRI log: the rpcs go on, ContainerStatus says why, and the copy catches up once there is room', async () => {
    const cri = await dockercri();
    const logRoot = join(root, 'full-disk');
    await mkdir(logRoot, { recursive: true });
    await sh('mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', logRoot);
    try {
      const count = 40_000;
      const pod = await runPodWithContainer(cri.runtime, { run, logRoot, command: ['sh', '-c', `${writer(count, { pauseEvery: 1000 })}; sleep 3`], network: NS.NODE });
      let failing: { state?: string; error?: string } | undefined;
      for (let i = 0; i < 200 && failing?.state !== 'failing'; i++) {
        const info = JSON.parse((await cri.runtime.ContainerStatus({ containerId: pod.containerId, verbose: true })).info?.info ?? '{}') as { logCopy?: { state?: string; error?: string } };
        failing = info.logCopy;
        await sleep(50);
      }
      expect(failing?.state).toBe('failing');
      expect(failing?.error).toMatch(/ENOSPC/);
      expect((await cri.runtime.Version({})).runtimeName).toBe('docker');
      expect(cri.log()).toContain('copying the container log failed; retrying');
      await sh('mount', '-o', 'remount,size=64m', logRoot);
      await exited(cri, pod.containerId);
      const parsed = await parse([pod.logFile]);
      expect(firstBreak(parsed.all, 0, count)).toBeUndefined();
      expect(cri.log()).toContain('copying the container log works again');
      await removePod(cri, pod.sandboxId);
    } finally {
      await sh('umount', '-l', logRoot).catch(() => undefined);
    }
    await cri.stop();
  });

  it("a CRI log file deleted under a running container: a new one at the same path, from the next line on; Docker's log file deleted: the copy goes on", async () => {
    const cri = await dockercri();
    const count = 30_000;
    // pauses every 100 lines keep the writer going for seconds after the deletion, also on a busy node
    const pod = await runPodWithContainer(cri.runtime, { run, logRoot: join(root, 'deleted-pods'), command: ['sh', '-c', `sleep 1; ${writer(count, { pauseEvery: 100 })}`], network: NS.NODE });
    const dockerLog = JSON.parse(await sh('docker', '-H', engine.endpoint, 'inspect', '--format', '{{json .LogPath}}', pod.containerId)) as string;
    for (let i = 0; i < 200 && (await parse([pod.logFile])).all.length < 2000; i++) await sleep(20);
    await rm(pod.logFile);
    // Docker goes on writing to its open file; dockercri holds it open too
    await rm(dockerLog);
    await exited(cri, pod.containerId);
    const seqs = (await parse([pod.logFile])).all;
    expect(seqs.length).toBeGreaterThan(0);
    expect(firstBreak(seqs, seqs[0]!, count - seqs[0]!)).toBeUndefined();
    expect(cri.log()).toContain('the CRI log file was deleted; writing a new one at the same path');
    await removePod(cri, pod.sandboxId);
    await cri.stop();
  });

  it('a container that exits a moment after its last line has it in the log once ContainerStatus says exited', async () => {
    const cri = await dockercri();
    const pod = await runPodWithContainer(cri.runtime, { run, logRoot: join(root, 'quick-pods'), command: ['sh', '-c', 'echo first; echo the-last-line'], network: NS.NODE });
    await exited(cri, pod.containerId);
    expect(await readFile(pod.logFile, 'utf8')).toMatch(/ stdout F first\n.* stdout F the-last-line\n$/);
    await removePod(cri, pod.sandboxId);
    await cri.stop();
  });
});
