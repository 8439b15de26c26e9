// Docker's json-file log of one container as a chain of files, oldest first: the rotated ones
// (<id>-json.log.N … .1) and the one Docker writes (<id>-json.log). Docker rotates by closing the
// file it writes, renaming .1 to .2 (and so on, dropping the oldest) and the current one to .1, then
// creating a new current file. A reader that holds a file open keeps it readable whatever is
// renamed or deleted, so every file is opened as soon as it is seen and read to its end before the
// next one; a file is known to be complete once a newer one exists.
import { constants } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FileIdentity } from './position.js';
import { isErrno } from '../util/errno.js';

/** Bytes at the start of a file that identify it (with its inode number). */
export const HEAD_BYTES = 64;

export interface ChainFile {
  fh: FileHandle;
  ino: number;
  /** The first bytes seen so far (up to HEAD_BYTES). */
  head: Buffer;
  /** The first byte not yet taken. */
  offset: number;
}

export interface Sibling {
  path: string;
  ino: number;
  /** 0 for the file Docker writes, N for <log>.N. */
  index: number;
}

export interface Lost {
  /** The file that was being read and is gone, and how far it had been read. */
  offset: number;
  /** Docker's time of the first entry still there, when one was read. */
  nextTime?: string;
}

/** Where a file named `name` stands in the chain of Docker's log `base` (0 the live file, N its Nth rotation); undefined for any other file. */
export function siblingIndex(base: string, name: string): number | undefined {
  if (name === base) return 0;
  if (name.startsWith(`${base}.`) && /^\d+$/.test(name.slice(base.length + 1))) return Number(name.slice(base.length + 1));
  return undefined;
}

/** Docker's log and its rotated siblings that exist now, oldest first. */
export async function siblings(logPath: string): Promise<Sibling[]> {
  const base = basename(logPath);
  const dir = dirname(logPath);
  const names = await readdir(dir);
  const found: Sibling[] = [];
  for (const name of names) {
    const index = siblingIndex(base, name);
    if (index === undefined) continue;
    try {
      const st = await stat(join(dir, name));
      if (st.isFile()) found.push({ path: join(dir, name), ino: st.ino, index });
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }
  return found.sort((a, b) => b.index - a.index);
}

export class JsonLogChain {
  /** The file being read; undefined until Docker has created one. */
  current: ChainFile | undefined;
  /** Newer files, opened, oldest first. */
  private readonly newer: ChainFile[] = [];

  private discovering: Promise<unknown> = Promise.resolve();

  /** `onGap` hears when files may have been rotated away unseen. */
  constructor(
    readonly logPath: string,
    private readonly onGap?: () => void,
  ) {}

  /**
   * Opens the chain at `from` (a position recorded earlier), or at the start of the oldest file.
   * When the recorded file is gone (Docker rotated past it), reading starts at the oldest file and
   * what was lost is returned.
   */
  async start(from: (FileIdentity & { offset: number }) | undefined): Promise<Lost | undefined> {
    for (;;) {
      const list = await this.list();
      if (list.length === 0) return undefined;
      let startAt = 0;
      let lost: Lost | undefined;
      if (from) {
        const i = await this.findRecorded(list, from);
        if (i >= 0) startAt = i;
        else lost = { offset: from.offset };
      }
      const opened = await this.openAll(list.slice(startAt));
      if (!opened) continue; // Docker rotated while the files were opened: list again
      if (opened[0] && !lost && from) {
        opened[0].offset = from.offset;
        opened[0].head = Buffer.from(from.head, 'base64');
      }
      for (const f of opened) this.push(f);
      return lost;
    }
  }

  /**
   * Looks for files newer than the newest one held (after Docker rotated, or created its first
   * file); true when one was found. The newest file held is open, so no other file has its inode number.
   */
  discover(): Promise<boolean> {
    // one at a time: the copier looks after each buffer, inotify wakes it at each rotation
    const result = this.discovering.then(() => this.discoverNow());
    this.discovering = result.catch(() => undefined);
    return result;
  }

  private async discoverNow(): Promise<boolean> {
    const newest = this.newer.at(-1) ?? this.current;
    if (newest) {
      try {
        if ((await stat(this.logPath)).ino === newest.ino) return false;
      } catch (err) {
        // between Docker's rename and its new file: nothing newer yet
        if (isErrno(err, 'ENOENT')) return false;
        throw err;
      }
    }
    for (;;) {
      const list = await this.list();
      const at = newest ? list.findIndex((s) => s.ino === newest.ino) : -1;
      // the newest file held is gone from the listing: Docker rotated it away before the files
      // after it were seen; some of those may be gone too
      if (newest && at < 0 && list.length > 0) this.onGap?.();
      const opened = await this.openAll(list.slice(at + 1));
      if (!opened) continue;
      for (const f of opened) this.push(f);
      return opened.length > 0;
    }
  }

  /** Whether a newer file exists, so the current one is complete. */
  get currentIsComplete(): boolean {
    return this.newer.length > 0;
  }

  /** Moves on to the next newer file (the current one was read to its end); false when there is none. */
  async next(): Promise<boolean> {
    const following = this.newer.shift();
    if (!following) return false;
    // current changes before any await, so a discovery running meanwhile sees the chain whole
    const done = this.current;
    this.current = following;
    await done?.fh.close().catch(() => undefined);
    return true;
  }

  /** Reads from the current file at its offset into `buf`; 0 at its end. */
  async read(buf: Buffer, length = buf.length): Promise<number> {
    const c = this.current;
    if (!c) return 0;
    const { bytesRead } = await c.fh.read(buf, 0, length, c.offset);
    if (c.head.length < HEAD_BYTES && c.offset < HEAD_BYTES && bytesRead > 0) {
      const upTo = Math.min(HEAD_BYTES, c.offset + bytesRead);
      if (upTo > c.head.length) c.head = Buffer.concat([c.head.subarray(0, c.offset), buf.subarray(0, upTo - c.offset)]).subarray(0, upTo);
    }
    return bytesRead;
  }

  /** The current file's identity and offset, for the position record. */
  identity(): (FileIdentity & { offset: number }) | undefined {
    const c = this.current;
    return c && { ino: c.ino, head: c.head.toString('base64'), offset: c.offset };
  }

  async close(): Promise<void> {
    for (const f of [this.current, ...this.newer.splice(0)]) await f?.fh.close().catch(() => undefined);
    this.current = undefined;
  }

  private push(file: ChainFile): void {
    if (!this.current) this.current = file;
    else this.newer.push(file);
  }

  private async list(): Promise<Sibling[]> {
    try {
      return await siblings(this.logPath);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
  }

  /**
   * Opens the listed files; undefined (and nothing left open) when one of them is no longer the
   * file listed under its name, because Docker rotated in between.
   */
  private async openAll(list: Sibling[]): Promise<ChainFile[] | undefined> {
    const opened: ChainFile[] = [];
    const undo = async (): Promise<undefined> => {
      for (const f of opened) await f.fh.close().catch(() => undefined);
      return undefined;
    };
    for (const s of list) {
      let fh: FileHandle;
      try {
        fh = await open(s.path, constants.O_RDONLY | constants.O_NOFOLLOW);
      } catch (err) {
        if (isErrno(err, 'ENOENT')) return undo();
        await undo();
        throw err;
      }
      opened.push({ fh, ino: s.ino, head: Buffer.alloc(0), offset: 0 });
      if ((await fh.stat()).ino !== s.ino) return undo();
    }
    return opened;
  }

  /** Index in `list` of the recorded file: same inode and same first bytes; -1 when it is gone. */
  private async findRecorded(list: Sibling[], from: FileIdentity & { offset: number }): Promise<number> {
    const want = Buffer.from(from.head, 'base64');
    for (let i = 0; i < list.length; i++) {
      if (list[i]!.ino !== from.ino) continue;
      if (want.length === 0) return from.offset === 0 ? i : -1;
      try {
        const fh = await open(list[i]!.path, constants.O_RDONLY | constants.O_NOFOLLOW);
        try {
          const got = Buffer.alloc(want.length);
          const { bytesRead } = await fh.read(got, 0, want.length, 0);
          if (bytesRead === want.length && got.equals(want)) return i;
        } finally {
          await fh.close();
        }
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    }
    return -1;
  }
}
