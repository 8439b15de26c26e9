// Where a container's log copy stands, kept on disk so a copier that starts again (dockercri killed,
// the node rebooted) resumes exactly there: which of Docker's json-file logs it reads and how far,
// and which CRI log file it writes and how large that was when the position was taken.
//
// One small file per container, rewritten in place with a single write of a fixed size: a crash
// leaves either the old record or the new one, never a torn one.
import { constants } from 'node:fs';
import { mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from '../util/errno.js';

export const RECORD_SIZE = 1024;

export interface FileIdentity {
  ino: number;
  /** The first bytes of the file (base64), so a new file that got a freed inode number is not taken for it. */
  head: string;
}

export interface LogPosition {
  /** Docker's file being read, and the offset of the first byte not yet copied. */
  source: FileIdentity & { offset: number };
  /** The CRI log file written, and its size right after the last write. */
  target: { ino: number; size: number };
  /** Docker's time of the last entry copied (for the message when lines are lost). */
  lastTime?: string;
}

/** Encodes a record: JSON padded with spaces to RECORD_SIZE, ending in "\n". */
export function encodePosition(p: LogPosition): Buffer {
  const json = JSON.stringify({ v: 1, ...p });
  const buf = Buffer.alloc(RECORD_SIZE, 0x20);
  if (Buffer.byteLength(json) > RECORD_SIZE - 1) throw new Error('log position record too large');
  buf.write(json, 0, 'utf8');
  buf[RECORD_SIZE - 1] = 0x0a;
  return buf;
}

/** Decodes a record; undefined when it is none (empty, foreign, or of another version). */
export function decodePosition(buf: Buffer): LogPosition | undefined {
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
  const r = v as { v?: unknown; source?: Partial<LogPosition['source']>; target?: Partial<LogPosition['target']>; lastTime?: unknown };
  const ok = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
  if (r?.v !== 1 || !r.source || !r.target) return undefined;
  if (!ok(r.source.ino) || !ok(r.source.offset) || typeof r.source.head !== 'string' || !ok(r.target.ino) || !ok(r.target.size)) return undefined;
  return {
    source: { ino: r.source.ino, head: r.source.head, offset: r.source.offset },
    target: { ino: r.target.ino, size: r.target.size },
    ...(typeof r.lastTime === 'string' ? { lastTime: r.lastTime } : {}),
  };
}

/** The records of all containers, one file per Docker ID under `dir`. */
export class PositionStore {
  constructor(readonly dir: string) {}

  private path(dockerId: string): string {
    return join(this.dir, `${dockerId}.pos`);
  }

  /** Opens (creating) a container's record for reading and rewriting. */
  async open(dockerId: string): Promise<PositionFile> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const fh = await open(this.path(dockerId), constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    return new PositionFile(fh);
  }

  async remove(dockerId: string): Promise<void> {
    await unlink(this.path(dockerId)).catch((err: unknown) => {
      if (!isErrno(err, 'ENOENT')) throw err;
    });
  }

  /** Docker IDs that have a record. */
  async ids(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((n) => n.endsWith('.pos')).map((n) => n.slice(0, -4));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
  }
}

export class PositionFile {
  constructor(private readonly fh: FileHandle) {}

  async read(): Promise<LogPosition | undefined> {
    const buf = Buffer.alloc(RECORD_SIZE);
    const { bytesRead } = await this.fh.read(buf, 0, RECORD_SIZE, 0);
    return bytesRead === 0 ? undefined : decodePosition(buf.subarray(0, bytesRead));
  }

  async write(p: LogPosition): Promise<void> {
    await this.fh.write(encodePosition(p), 0, RECORD_SIZE, 0);
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
