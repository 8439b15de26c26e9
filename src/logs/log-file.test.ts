import { lstat, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { timestampNs } from './cri-format.js';
import { appendFully, findResumePoint, openForAppend, removeSymlink } from './log-file.js';

const NS = 1_000_000_000n;
const ts = (second: number): string => `2024-01-02T03:04:${String(second).padStart(2, '0')}.000000000Z`;
const line = (second: number, text: string, tag = 'F'): string => `${ts(second)} stdout ${tag} ${text}\n`;

let dir: string;
let logPath: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockercri-logs-'));
  logPath = join(dir, 'pod', 'app', '0.log');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('openForAppend', () => {
  it('creates the directory and a file of mode 0640, and appends', async () => {
    const file = await openForAppend(logPath);
    await appendFully(file, Buffer.from('one\n'));
    await file.close();
    const again = await openForAppend(logPath);
    await appendFully(again, Buffer.from('two\n'));
    await again.close();
    expect(await readFile(logPath, 'utf8')).toBe('one\ntwo\n');
    expect((await stat(logPath)).mode & 0o777).toBe(0o640 & ~process.umask());
  });

  it('does not write through a symlink', async () => {
    await openForAppend(join(dir, 'pod', 'app', 'other')).then((f) => f.close());
    const target = join(dir, 'docker-json.log');
    await writeFile(target, '{"log":"x"}\n');
    await symlink(target, logPath);
    await expect(openForAppend(logPath)).rejects.toMatchObject({ code: 'ELOOP' });
  });
});

describe('removeSymlink', () => {
  it("removes cri-dockerd's link to Docker's log, not the log", async () => {
    const target = join(dir, 'docker-json.log');
    await writeFile(target, '{"log":"x"}\n');
    await openForAppend(join(dir, 'pod', 'app', 'other')).then((f) => f.close());
    await symlink(target, logPath);
    expect(await removeSymlink(logPath)).toBe(true);
    await expect(lstat(logPath)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(target, 'utf8')).toBe('{"log":"x"}\n');
  });

  it('leaves a regular file and a missing one alone', async () => {
    expect(await removeSymlink(logPath)).toBe(false);
    await openForAppend(logPath).then((f) => f.close());
    expect(await removeSymlink(logPath)).toBe(false);
    expect((await lstat(logPath)).isFile()).toBe(true);
  });
});

describe('findResumePoint', () => {
  const write = async (path: string, text: string): Promise<void> => {
    const f = await openForAppend(path);
    await appendFully(f, Buffer.from(text));
    await f.close();
  };

  it('starts from the beginning without a file', async () => {
    expect(await findResumePoint(logPath)).toEqual({ point: undefined, tornBytes: 0 });
  });

  it('resumes after the lines of the file', async () => {
    await write(logPath, line(1, 'one') + line(9, 'nine') + line(10, 'ten'));
    expect(await findResumePoint(logPath)).toEqual({ point: { sinceNs: timestampNs(ts(10))! - 2n * NS, skipBytes: 'nine\nten\n'.length }, tornBytes: 0 });
  });

  it('cuts off a line torn by a crash in mid-write', async () => {
    await write(logPath, line(1, 'one') + line(2, 'two') + line(3, 'three').slice(0, 25));
    const state = await findResumePoint(logPath);
    expect(state).toEqual({ point: { sinceNs: timestampNs(ts(2))! - 2n * NS, skipBytes: 'one\ntwo\n'.length }, tornBytes: 25 });
    expect(await readFile(logPath, 'utf8')).toBe(line(1, 'one') + line(2, 'two'));
  });

  it('empties a file that holds only a torn line', async () => {
    await write(logPath, line(1, 'one').slice(0, 10));
    expect(await findResumePoint(logPath)).toEqual({ point: undefined, tornBytes: 10 });
    expect(await readFile(logPath, 'utf8')).toBe('');
  });

  it("reads on in kubelet's rotated files, newest first, when the current one does not reach back far enough", async () => {
    await write(`${logPath}.20240102-030300`, line(0, 'older rotation'));
    await write(`${logPath}.20240102-030400`, line(1, 'one') + line(8, 'eight'));
    await write(`${logPath}.20240102-030401`, line(9, 'nine'));
    await write(`${logPath}.20240102-030402.gz`, 'compressed');
    await write(logPath, line(10, 'ten'));
    expect((await findResumePoint(logPath)).point).toEqual({ sinceNs: timestampNs(ts(10))! - 2n * NS, skipBytes: 'eight\nnine\nten\n'.length });
  });

  it('resumes from the rotated file alone right after a rotation', async () => {
    await write(`${logPath}.20240102-030400`, line(1, 'one') + line(2, 'two'));
    await write(logPath, '');
    expect((await findResumePoint(logPath)).point).toEqual({ sinceNs: timestampNs(ts(2))! - 2n * NS, skipBytes: 'one\ntwo\n'.length });
  });

  it('does not read the rotated file when the current one reaches back far enough', async () => {
    await write(`${logPath}.20240102-030400`, line(5, 'not read'));
    await write(logPath, line(1, 'one') + line(9, 'nine'));
    expect((await findResumePoint(logPath)).point).toEqual({ sinceNs: timestampNs(ts(9))! - 2n * NS, skipBytes: 'nine\n'.length });
  });

  it('reads a file longer than one read chunk', async () => {
    const many = Array.from({ length: 5000 }, (_, i) => line(1, `line ${i} ${'p'.repeat(30)}`)).join('');
    await write(logPath, many + line(2, 'last', 'P'));
    const { point } = await findResumePoint(logPath);
    expect(point).toEqual({ sinceNs: timestampNs(ts(2))! - 2n * NS, skipBytes: Buffer.byteLength(many) - 5000 * (ts(1).length + 10) + 4 });
  });
});
