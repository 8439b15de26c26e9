// Container logs in the CRI format, copied from a real Docker Engine's json-file log. The
// containers are started with the docker CLI, so this tier tests the log copiers alone: the file
// copier (Docker's files on disk) and, where marked, the logs-API copier used for remote Engines.
import { execFile } from 'node:child_process';
import { appendFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerClient } from '../src/docker/client.js';
import { Code } from '../src/errors.js';
import { ContainerLogs } from '../src/logs/container-logs.js';
import { BUSYBOX, uniq } from './harness.js';

const run = promisify(execFile);
const docker = async (...args: string[]): Promise<string> => (await run('docker', args, { maxBuffer: 16 << 20 })).stdout.trim();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const silent = pino({ level: 'silent' });
const client = new DockerClient('unix:///var/run/docker.sock', 30_000, silent);

const runId = uniq('logs');
let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockercri-logs-it-'));
});

afterAll(async () => {
  const ids = (await docker('ps', '-aq', '--filter', `label=io.dockercri.test.logs=${runId}`)).split('\n').filter(Boolean);
  if (ids.length > 0) await docker('rm', '-f', ...ids);
  await rm(dir, { recursive: true, force: true });
});

/** Starts `script` in a busybox container with the json-file driver; resolves to its ID. */
async function start(script: string, opts: { tty?: boolean } = {}): Promise<string> {
  const name = `${runId}-${n++}`;
  const args = ['run', '-d', '--name', name, '--label', `io.dockercri.test.logs=${runId}`, '--network', 'none', '--log-driver', 'json-file'];
  if (opts.tty) args.push('-t');
  return docker(...args, BUSYBOX, 'sh', '-c', script);
}

const logPathFor = (name: string): string => join(dir, `pod-${name}`, 'app', '0.log');

/** Copiers as dockercri makes them: from Docker's files (a local Engine), or through the logs API (`api`). */
const newLogs = (opts: { api?: boolean; docker?: DockerClient } = {}): ContainerLogs =>
  new ContainerLogs(opts.docker ?? client, silent, { positionsDir: join(dir, 'positions'), localEngine: !opts.api });

/** Follows a container as ContainerService does: with Docker's log path and log driver from inspect. */
async function follow(logs: ContainerLogs, dockerId: string, logPath: string, tty = false): Promise<void> {
  const inspect = await client.inspectContainer(dockerId);
  const logConfig = (inspect?.HostConfig as { LogConfig?: { Type?: string } } | undefined)?.LogConfig;
  logs.follow({ dockerId, logPath, tty, dockerLogPath: inspect?.LogPath, logDriver: logConfig?.Type });
}

/** Waits for the container to exit, tells the copiers as Docker's events would, and for them to finish. */
async function finish(logs: ContainerLogs, dockerId: string): Promise<void> {
  await docker('wait', dockerId);
  logs.exited(dockerId);
  await until('the copier to finish', () => logs.followers() === 0);
}

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A line of a CRI log file as kubelet parses it. */
interface Line {
  timestamp: string;
  stream: string;
  tag: string;
  content: string;
}

const CRI_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) (P|F) (.*)$/s;

async function readLines(path: string): Promise<Line[]> {
  const text = await readFile(path, 'latin1');
  if (text === '') return [];
  expect(text.endsWith('\n'), `${path} ends with a newline`).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => {
      const m = CRI_LINE.exec(l);
      expect(m, `a CRI line: ${JSON.stringify(l.slice(0, 80))}`).not.toBeNull();
      return { timestamp: m![1]!, stream: m![2]!, tag: m![3]!, content: m![4]! };
    });
}

/** The output of one stream as the container wrote it: P parts joined, F lines ended with "\n". */
const reassemble = (lines: Line[], stream: string): string =>
  lines
    .filter((l) => l.stream === stream)
    .map((l) => l.content + (l.tag === 'F' ? '\n' : ''))
    .join('');

const lineCount = async (path: string): Promise<number> => (await readFile(path, 'latin1').catch(() => '')).split('\n').length - 1;

const counters = (lines: Line[]): number[] => reassemble(lines, 'stdout').split('\n').filter(Boolean).map(Number);

/** awk printing a line of `count` 8-byte numbered fields, so any reordering or loss shows. */
const longLine = (count: number): string => `awk 'BEGIN{for(i=0;i<${count};i++) printf "%07d,", i; print ""}'`;
const longText = (count: number): string => Array.from({ length: count }, (_, i) => `${String(i).padStart(7, '0')},`).join('');

function expectMonotonic(lines: Line[]): void {
  for (const stream of ['stdout', 'stderr']) {
    const ts = lines.filter((l) => l.stream === stream).map((l) => l.timestamp);
    expect(ts, `${stream} timestamps never go back`).toEqual([...ts].sort());
  }
}

describe('ContainerLogs', () => {
  it('writes stdout and stderr as CRI lines: long lines split into P parts and an F, output cut off at exit as P', async () => {
    const logs = newLogs();
    const dockerId = await start(`echo out1; echo err1 >&2; ${longLine(5120)}; echo out2; echo; printf 'tail-out'; printf 'tail-err' >&2`);
    const logPath = logPathFor('basic');
    await follow(logs, dockerId, logPath);
    await follow(logs, dockerId, logPath);
    expect(logs.followers()).toBe(1);
    await finish(logs, dockerId);

    const lines = await readLines(logPath);
    expect(reassemble(lines, 'stdout')).toBe(`out1\n${longText(5120)}\nout2\n\ntail-out`);
    expect(reassemble(lines, 'stderr')).toBe('err1\ntail-err');
    expect(lines.filter((l) => l.stream === 'stdout').map((l) => [l.tag, l.content.length])).toEqual([
      ['F', 4],
      ['P', 16384],
      ['P', 16384],
      ['F', 8192],
      ['F', 4],
      ['F', 0],
      ['P', 8],
    ]);
    expect(lines.filter((l) => l.stream === 'stderr').map((l) => l.tag)).toEqual(['F', 'P']);
    // Docker gives the parts of a split line the first part's time
    expect(new Set(lines.filter((l) => l.stream === 'stdout').slice(1, 4).map((l) => l.timestamp)).size).toBe(1);
    expectMonotonic(lines);
    expect((await stat(logPath)).mode & 0o777).toBe(0o640 & ~process.umask());
  });

  it('copies a TTY container, whose raw stream is all stdout, without the carriage returns of the terminal', async () => {
    const logs = newLogs();
    const dockerId = await start(`echo one; echo two >&2; ${longLine(5120)}; printf 'tail'`, { tty: true });
    const logPath = logPathFor('tty');
    await follow(logs, dockerId, logPath, true);
    await finish(logs, dockerId);

    const lines = await readLines(logPath);
    expect(lines.every((l) => l.stream === 'stdout')).toBe(true);
    expect(reassemble(lines, 'stdout')).toBe(`one\ntwo\n${longText(5120)}\ntail`);
    expect(lines.map((l) => [l.tag, l.content.length])).toEqual([
      ['F', 3],
      ['F', 3],
      ['P', 16384],
      ['P', 16384],
      ['F', 8192],
      ['P', 4],
    ]);
    expectMonotonic(lines);
  });

  it('reopens the file after kubelet renamed it: old and new files hold every line once', async () => {
    const logs = newLogs();
    const dockerId = await start('i=0; while [ $i -lt 200 ]; do echo $i; i=$((i+1)); sleep 0.01; done');
    const logPath = logPathFor('reopen');
    await follow(logs, dockerId, logPath);
    const rotated: string[] = [];
    const sizes: number[] = [];
    for (const k of [0, 1, 2]) {
      await until('20 lines in the current file', async () => (await lineCount(logPath)) >= 20);
      const name = `${logPath}.20240102-03040${k}`;
      await rename(logPath, name);
      await logs.reopen(dockerId);
      rotated.push(name);
      // the old file is closed: nothing is written to it after the reopen
      sizes.push((await stat(name)).size);
      await stat(logPath);
    }
    await finish(logs, dockerId);

    const files = [...rotated, logPath];
    const perFile = await Promise.all(files.map(readLines));
    expect(await Promise.all(rotated.map(async (f) => (await stat(f)).size))).toEqual(sizes);
    expect(perFile.every((lines) => lines.length > 0)).toBe(true);
    expect(perFile.flatMap(counters)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('resumes after a restart of dockercri mid-stream, neither losing nor doubling a line', async () => {
    const dockerId = await start('i=0; while [ $i -lt 250 ]; do echo $i; echo e$i >&2; i=$((i+1)); sleep 0.01; done');
    const logPath = logPathFor('restart');
    for (let round = 0; round < 3; round++) {
      const logs = newLogs();
      await follow(logs, dockerId, logPath);
      await until('more lines', async () => (await readFile(logPath, 'utf8').catch(() => '')).split('\n').length > (round + 1) * 60);
      await logs.stopAll();
      expect(logs.followers()).toBe(0);
      if (round === 1) {
        // a crash in mid-write leaves a torn line at the end
        const last = (await readFile(logPath, 'utf8')).split('\n').at(-2)!;
        await appendFile(logPath, last.slice(0, 40));
      }
      // the container goes on writing while no follower runs
      await sleep(150);
    }
    const logs = newLogs();
    await follow(logs, dockerId, logPath);
    await finish(logs, dockerId);

    const lines = await readLines(logPath);
    expect(counters(lines)).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(reassemble(lines, 'stderr')).toBe(Array.from({ length: 250 }, (_, i) => `e${i}\n`).join(''));
  });

  it('logs-API copier: reconnects when the connection to Docker breaks while the container runs, neither losing nor doubling a line', async () => {
    let connections = 0;
    // the real Engine, with each log connection cut after a while as a restart of Docker would
    class BreakingClient extends DockerClient {
      override async followLogs(dockerId: string, opts: { sinceSec?: string; follow: boolean }): Promise<Readable> {
        const stream = await super.followLogs(dockerId, opts);
        connections++;
        setTimeout(() => stream.destroy(new Error('connection reset by the test')), 300);
        return stream;
      }
    }
    const logs = newLogs({ api: true, docker: new BreakingClient('unix:///var/run/docker.sock', 30_000, silent) });
    const dockerId = await start('i=0; while [ $i -lt 200 ]; do echo $i; echo e$i >&2; i=$((i+1)); sleep 0.01; done');
    const logPath = logPathFor('reconnect');
    await follow(logs, dockerId, logPath);
    await finish(logs, dockerId);
    expect(connections).toBeGreaterThan(3);
    const lines = await readLines(logPath);
    expect(counters(lines)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(reassemble(lines, 'stderr')).toBe(Array.from({ length: 200 }, (_, i) => `e${i}\n`).join(''));
  });

  describe('logs-API copier: resuming from any line of a finished log', () => {
    let dockerId: string;
    let full: string;

    beforeAll(async () => {
      const logs = newLogs();
      dockerId = await start(`echo a; echo b >&2; ${longLine(5120)}; echo c >&2; ${longLine(2100)} >&2; echo d; printf 'end'`);
      const logPath = logPathFor('full');
      await follow(logs, dockerId, logPath);
      await finish(logs, dockerId);
      full = await readFile(logPath, 'latin1');
    });

    const cuts = (): number[] => [0, ...[...full.matchAll(/\n/g)].map((m) => m.index + 1)];

    it('in the current file', async () => {
      for (const cut of cuts()) {
        const logPath = logPathFor(`cut-${cut}`);
        await mkdir(join(logPath, '..'), { recursive: true });
        await writeFile(logPath, full.slice(0, cut), 'latin1');
        const logs = newLogs({ api: true });
        await follow(logs, dockerId, logPath);
        await finish(logs, dockerId);
        expect(await readFile(logPath, 'latin1'), `resumed after ${cut} bytes`).toBe(full);
      }
    });

    it('right after kubelet rotated the file, from the rotated file', async () => {
      for (const cut of cuts()) {
        const logPath = logPathFor(`rotated-${cut}`);
        await mkdir(join(logPath, '..'), { recursive: true });
        const rotatedAt = full.lastIndexOf('\n', Math.floor(cut / 2) - 1) + 1;
        await writeFile(`${logPath}.20240102-030405`, full.slice(0, rotatedAt), 'latin1');
        await writeFile(logPath, full.slice(rotatedAt, cut), 'latin1');
        const logs = newLogs({ api: true });
        await follow(logs, dockerId, logPath);
        await finish(logs, dockerId);
        const both = (await readFile(`${logPath}.20240102-030405`, 'latin1')) + (await readFile(logPath, 'latin1'));
        expect(both, `rotated after ${rotatedAt} bytes, resumed after ${cut}`).toBe(full);
      }
    });
  });

  it("replaces cri-dockerd's symlink to Docker's JSON log with a CRI file, leaving Docker's log alone", async () => {
    const dockerId = await start('echo hello');
    const jsonLog = await docker('inspect', '--format', '{{.LogPath}}', dockerId);
    const logPath = logPathFor('symlink');
    await mkdir(join(logPath, '..'), { recursive: true });
    const decoy = join(dir, 'decoy.json');
    await writeFile(decoy, '{"log":"hello\\n","stream":"stdout","time":"2024-01-02T03:04:05Z"}\n');
    await symlink(decoy, logPath);
    const logs = newLogs();
    await follow(logs, dockerId, logPath);
    await finish(logs, dockerId);
    expect((await lstat(logPath)).isFile()).toBe(true);
    expect(reassemble(await readLines(logPath), 'stdout')).toBe('hello\n');
    expect(await readFile(decoy, 'utf8')).toBe('{"log":"hello\\n","stream":"stdout","time":"2024-01-02T03:04:05Z"}\n');
    expect(jsonLog).toMatch(/-json\.log$/);
  });

  it('stops a follower of a running container and leaves whole lines', async () => {
    const dockerId = await start('while true; do echo tick; sleep 0.01; done');
    const logPath = logPathFor('stop');
    const logs = newLogs();
    await follow(logs, dockerId, logPath);
    await until('some lines', async () => (await readFile(logPath, 'utf8').catch(() => '')).length > 200);
    await logs.stop(dockerId);
    expect(logs.followers()).toBe(0);
    const size = (await stat(logPath)).size;
    await sleep(200);
    expect((await stat(logPath)).size).toBe(size);
    expect((await readLines(logPath)).every((l) => l.content === 'tick' && l.tag === 'F')).toBe(true);
  });

  it('answers ReopenContainerLog for unknown containers with NOT_FOUND, and for containers not followed with success', async () => {
    const logs = newLogs();
    await expect(logs.reopen('0'.repeat(64))).rejects.toMatchObject({ code: Code.NOT_FOUND });
    const dockerId = await start('true');
    await expect(logs.reopen(dockerId)).resolves.toBeUndefined();
  });

  it('leaves no file descriptor open on the rotated file after a reopen', async () => {
    const dockerId = await start('i=0; while [ $i -lt 100 ]; do echo $i; i=$((i+1)); sleep 0.01; done');
    const logPath = logPathFor('fds');
    const logs = newLogs();
    await follow(logs, dockerId, logPath);
    await until('some lines', async () => (await readFile(logPath, 'utf8').catch(() => '')).length > 20);
    await rename(logPath, `${logPath}.20240102-030405`);
    await logs.reopen(dockerId);
    const open = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
    expect(open.filter((target) => target.startsWith(`${logPath}.`))).toEqual([]);
    expect(open.filter((target) => target === logPath)).toHaveLength(1);
    await logs.stopAll();
  });
});
