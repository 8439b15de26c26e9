// The CRI log file a copier appends to, and what a copier that starts again finds in it: the lines
// written after the last position record (the write made it, the record did not) are counted, so
// exactly that many lines are skipped when the same entries are converted again.
import { constants } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseCriLine, timestampNs } from './cri-format.js';
import { openForAppend } from './log-file.js';
import type { LogPosition } from './position.js';
import { isErrno } from '../util/errno.js';

const NEWLINE = 0x0a;
const CHUNK = 256 * 1024;
/** A line of a CRI log file is at most 16 KiB of content and a header; a tail scan looks this far. */
const LAST_LINE_SCAN = 64 * 1024;

export interface Resume {
  /** Lines already in the file (or in the one kubelet renamed it to) beyond the recorded size. */
  skipLines: number;
  /** Bytes of a line cut short at the end of the file, removed (it is written again whole). */
  tornBytes: number;
  /** Without a record: copy only entries newer than this (the file was written before records were kept). */
  afterNs?: bigint;
  /** Set when it cannot be told how much was written after the record (the file was renamed and is gone or compressed). */
  unknown?: string;
}

/** Counts "\n" in `fh[from, to)`. */
async function countLines(fh: FileHandle, from: number, to: number): Promise<number> {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, to - from)));
  let n = 0;
  for (let pos = from; pos < to; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, to - pos), pos);
    if (bytesRead === 0) break;
    for (let i = buf.indexOf(NEWLINE, 0); i >= 0 && i < bytesRead; i = buf.indexOf(NEWLINE, i + 1)) n++;
    pos += bytesRead;
  }
  return n;
}

/** The offset just past the last "\n" in `fh[from, size)`, or `from` when there is none. */
async function lastLineEnd(fh: FileHandle, from: number, size: number): Promise<number> {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, size - from)));
  for (let end = size; end > from; ) {
    const start = Math.max(from, end - buf.length);
    const { bytesRead } = await fh.read(buf, 0, end - start, start);
    const nl = buf.subarray(0, bytesRead).lastIndexOf(NEWLINE);
    if (nl >= 0) return start + nl + 1;
    end = start;
  }
  return from;
}

/** Opens the CRI log for appending and works out where a copier with `record` stands in it. */
export async function openTarget(path: string, record: LogPosition | undefined): Promise<{ fh: FileHandle; ino: number; size: number; resume: Resume }> {
  const fh = await openForAppend(path);
  try {
    const st = await fh.stat();
    let size = st.size;
    const resume: Resume = { skipLines: 0, tornBytes: 0 };
    const sameFile = record !== undefined && st.ino === record.target.ino;
    const from = sameFile ? Math.min(record.target.size, size) : Math.max(0, size - LAST_LINE_SCAN);
    const whole = await lastLineEnd(fh, from, size);
    // a line cut short by a crash in mid-write goes (it is written again whole); bytes without any
    // newline in the last LAST_LINE_SCAN of a file not written under a record are no torn line
    if (whole < size && (sameFile || whole > from || from === 0)) {
      await fh.truncate(whole);
      resume.tornBytes = size - whole;
      size = whole;
    }
    if (sameFile) {
      if (size > record.target.size) resume.skipLines = await countLines(fh, record.target.size, size);
    } else if (record) {
      const renamed = await findRenamed(path, record.target.ino);
      if (renamed) {
        const rfh = await open(renamed, constants.O_RDONLY | constants.O_NOFOLLOW);
        try {
          const rsize = (await rfh.stat()).size;
          if (rsize > record.target.size) resume.skipLines = await countLines(rfh, record.target.size, await lastLineEnd(rfh, record.target.size, rsize));
        } finally {
          await rfh.close();
        }
      } else if (size > 0 || record.target.size > 0) {
        resume.unknown = 'the log file written last was renamed and is no longer there in plain text';
      }
    } else if (size > 0) {
      resume.afterNs = await lastTimestamp(fh, size);
    }
    return { fh, ino: st.ino, size, resume };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

/** The newest timestamp of a CRI log written before records were kept (its last whole line). */
async function lastTimestamp(fh: FileHandle, size: number): Promise<bigint | undefined> {
  const from = Math.max(0, size - LAST_LINE_SCAN);
  const buf = Buffer.allocUnsafe(size - from);
  const { bytesRead } = await fh.read(buf, 0, buf.length, from);
  const lines = buf.subarray(0, bytesRead).toString('latin1').split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = parseCriLine(Buffer.from(lines[i]!, 'latin1'));
    const ns = line && timestampNs(line.timestamp);
    if (ns !== undefined) return ns;
  }
  return undefined;
}

/** kubelet's rotated copy of `path` (`<path>.<timestamp>`, not yet compressed) with inode `ino`. */
async function findRenamed(path: string, ino: number): Promise<string | undefined> {
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  for (const name of names) {
    if (!name.startsWith(`${base}.`) || name.endsWith('.gz')) continue;
    const candidate = join(dirname(path), name);
    const st = await stat(candidate).catch(() => undefined);
    if (st?.ino === ino && st.isFile()) return candidate;
  }
  return undefined;
}
