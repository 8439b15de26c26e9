import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CopyBuffers, FileCopier } from './file-copier.js';
import { PositionStore } from './position.js';
import { tryLockLogFile } from './writer-lock.js';

describe('copy buffers', () => {
  it('are made when first needed, at most count of them, and a waiter gets the next one released', async () => {
    const buffers = new CopyBuffers(2, 1024);
    const a = await buffers.acquire();
    const b = await buffers.acquire();
    expect(a.input).not.toBe(b.input);
    expect(a.input.length).toBe(1024);
    expect(a.output.length).toBe(1024 + 64 * 1024);
    let third: { input: Buffer } | undefined;
    const waiting = buffers.acquire().then((got) => (third = got));
    await new Promise((r) => setImmediate(r));
    expect(third).toBeUndefined();
    buffers.release(b);
    await waiting;
    expect(third!.input).toBe(b.input);
    buffers.release(a);
    expect((await buffers.acquire()).input).toBe(a.input);
  });
});

describe('a copier that finds another process writing the CRI log', () => {
  let dir: string;
  let containerDir: string;
  let dockerLogPath: string;
  let criPath: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcri-copier-'));
    // Docker's directory for the container, with its json-file log, and kubelet's CRI path
    containerDir = join(dir, 'containers', 'c1');
    dockerLogPath = join(containerDir, 'c1-json.log');
    criPath = join(dir, 'pods', 'ns_pod_uid', 'app', '0.log');
    await mkdir(containerDir, { recursive: true });
    await writeFile(dockerLogPath, '{"log":"hello\\n","stream":"stdout","time":"2026-12-07T00:00:00.000000000Z"}\n');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const copier = (): FileCopier =>
    new FileCopier({ dockerId: 'c1', criPath, dockerLogPath, tty: false, positions: new PositionStore(join(dir, 'positions')), buffers: new CopyBuffers(), log: pino({ level: 'silent' }) });

  it('takes over once the other lets go, while the container is there', async () => {
    const other = await tryLockLogFile(criPath);
    expect(other).toBeDefined();
    const c = copier();
    other!.close();
    for (let i = 0; i < 100 && !(await readFile(criPath, 'utf8').catch(() => '')).includes('hello'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await readFile(criPath, 'utf8')).toMatch(/^\S+ stdout F hello\n$/);
    c.exited();
    await c.done;
  }, 10_000);

  it('ends without making the file once the other removed the container and let go', async () => {
    const other = await tryLockLogFile(criPath);
    expect(other).toBeDefined();
    const c = copier();
    // the other process removes the container (Docker takes its directory) and the CRI file
    await rm(containerDir, { recursive: true });
    other!.close();
    await c.done;
    expect(existsSync(criPath)).toBe(false);
    expect(c.status().state).toBe('done');
  }, 10_000);
});
