// The CRI log file on disk: where kubelet wants it, how kubelet rotates it, and where a follower
// that starts again (dockercri restarted, Docker's stream broken) takes up Docker's log.
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BackwardLines, ResumeScan, type ResumePoint } from './cri-format.js';
import { isErrno } from '../util/errno.js';

const FILE_MODE = 0o640;
const DIRECTORY_MODE = 0o755;
const READ_CHUNK = 64 * 1024;
/** Past this much scanned the file is no CRI log written by a follower (kubelet rotates at 10 MiB by default). */
const MAX_SCAN_BYTES = 64 * 1024 * 1024;
/** kubelet's name for a rotated log: <log>.<YYYYMMDD-hhmmss>, gzipped (".gz") once it is not the newest. */
const ROTATED_SUFFIX = /^\.\d{8}-\d{6}$/;

/**
 * Opens the log for appending (and reading back its end), creating it and its directory when missing. Never through a
 * symlink: cri-dockerd's log path is a link to Docker's own JSON log, which must not be written to.
 */
export async function openForAppend(logPath: string, makeDirectory = true): Promise<FileHandle> {
  if (makeDirectory) await mkdir(dirname(logPath), { recursive: true, mode: DIRECTORY_MODE });
  return open(logPath, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, FILE_MODE);
}

/** Removes cri-dockerd's symlink from the log path, so the CRI file takes its place; true when there was one. */
export async function removeSymlink(logPath: string): Promise<boolean> {
  try {
    if (!(await lstat(logPath)).isSymbolicLink()) return false;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
  await unlink(logPath);
  return true;
}

/** kubelet's rotated files of `logPath` still in plain text, newest first (kubelet gzips all but the newest). */
async function rotatedFiles(logPath: string): Promise<string[]> {
  const base = basename(logPath);
  let names: string[];
  try {
    names = await readdir(dirname(logPath));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
  // the timestamp sorts as text
  const rotated = names.filter((n) => n.startsWith(base) && ROTATED_SUFFIX.test(n.slice(base.length))).sort().reverse();
  return rotated.map((n) => join(dirname(logPath), n));
}

export interface ResumeState {
  /** undefined when nothing was written yet: copy Docker's log from its start. */
  point: ResumePoint | undefined;
  /** Bytes of a line cut short at the end of the current file, which were cut off. */
  tornBytes: number;
}

/**
 * Reads what was written, newest first (the current file, then kubelet's rotated ones while the
 * scan must reach further back), and finds where to resume. A line cut short at the end of the
 * current file is truncated away, as it will be written again whole.
 */
export async function findResumePoint(logPath: string): Promise<ResumeState> {
  const scan = new ResumeScan();
  let budget = MAX_SCAN_BYTES;
  const current = await scanBackward(logPath, scan, budget, true);
  budget -= current.scanned;
  if (!current.done) {
    for (const rotated of await rotatedFiles(logPath)) {
      if (budget <= 0) break;
      const r = await scanBackward(rotated, scan, budget, false);
      budget -= r.scanned;
      if (r.done) break;
    }
  }
  return { point: scan.result(), tornBytes: current.tornBytes };
}

async function scanBackward(path: string, scan: ResumeScan, budget: number, current: boolean): Promise<{ done: boolean; scanned: number; tornBytes: number }> {
  let file: FileHandle;
  try {
    file = await open(path, (current ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NOFOLLOW);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { done: false, scanned: 0, tornBytes: 0 };
    throw err;
  }
  try {
    const size = (await file.stat()).size;
    const lines = new BackwardLines();
    let position = size;
    let tornBytes: number | undefined;
    const cutTorn = async (): Promise<number> => {
      if (!current || lines.tornBytes === 0) return 0;
      await file.truncate(size - lines.tornBytes);
      return lines.tornBytes;
    };
    while (position > 0 && size - position < budget) {
      const length = Math.min(READ_CHUNK, position);
      position -= length;
      const chunk = Buffer.allocUnsafe(length);
      await readFully(file, chunk, position);
      const found = lines.push(chunk);
      if (tornBytes === undefined && lines.tornKnown) tornBytes = await cutTorn();
      for (const line of found) if (!scan.add(line)) return { done: true, scanned: size - position, tornBytes: tornBytes ?? 0 };
    }
    // out of budget: what was scanned is taken as all there is
    if (position > 0) return { done: true, scanned: size - position, tornBytes: tornBytes ?? 0 };
    // a file without any newline is one torn line
    tornBytes ??= await cutTorn();
    const first = lines.end();
    const done = first !== undefined && !scan.add(first);
    return { done, scanned: size, tornBytes };
  } finally {
    await file.close();
  }
}

async function readFully(file: FileHandle, into: Buffer, position: number): Promise<void> {
  let filled = 0;
  while (filled < into.length) {
    const { bytesRead } = await file.read(into, filled, into.length - filled, position + filled);
    if (bytesRead === 0) throw new Error(`the file shrank while it was read`);
    filled += bytesRead;
  }
}

/** Appends all of `bytes` (a write may take less than all); `progress` hears how much is written so far. */
export async function appendFully(file: FileHandle, bytes: Buffer, progress?: (written: number) => void): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await file.write(bytes, written, bytes.length - written);
    written += bytesWritten;
    progress?.(written);
  }
}
