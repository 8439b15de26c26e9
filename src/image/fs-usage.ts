import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface FsUsage {
  bytes: number;
  inodes: number;
  /** When the walk finished, in ms since the epoch. */
  takenAtMs: number;
}

/** How long the walk holds the event loop before it lets other work run. */
const SLICE_MS = 5;

/**
 * Bytes and inodes under `dir`, counting each hard-linked inode once; never follows links and,
 * like `du -x`, stays on `dir`'s file system: the overlay mounts of running containers
 * (overlay2/<id>/merged) show files already counted in their layers, and walking each of them
 * again made every walk as long as all the containers' file trees together.
 * The walk is synchronous in slices of a few milliseconds: a promise and two thread-pool hops per
 * entry cost ten times the CPU of the lstat itself, on trees of many thousand image files.
 */
export async function walkUsage(dir: string): Promise<FsUsage> {
  const seen = new Set<number>();
  let bytes = 0;
  let device: number | undefined;
  const stack = [dir];
  let sliceStart = Date.now();
  while (stack.length > 0) {
    if (Date.now() - sliceStart >= SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = Date.now();
    }
    const current = stack.pop() as string;
    let st;
    try {
      st = lstatSync(current, { throwIfNoEntry: false });
    } catch {
      continue;
    }
    if (!st) continue;
    device ??= st.dev;
    if (st.dev !== device || seen.has(st.ino)) continue;
    seen.add(st.ino);
    bytes += st.blocks * 512;
    if (!st.isDirectory()) continue;
    try {
      for (const name of readdirSync(current)) stack.push(join(current, name));
    } catch {
      // a directory removed or unreadable mid-walk counts as what was seen of it
    }
  }
  return { bytes, inodes: seen.size, takenAtMs: Date.now() };
}

/**
 * Keeps the usage of a directory tree off the request path: callers get the last walk's figures
 * and a walk older than `maxAgeMs` starts a new one in the background. Only the very first call
 * waits for a walk.
 */
export class UsageCache {
  private last?: FsUsage;
  private running?: Promise<FsUsage>;

  constructor(private readonly maxAgeMs: number, private readonly walk: (dir: string) => Promise<FsUsage> = walkUsage) {}

  private dir = '';

  async get(dir: string): Promise<FsUsage> {
    if (dir !== this.dir) {
      this.dir = dir;
      this.last = undefined;
      this.running = undefined;
    }
    if (!this.last) return this.refresh();
    if (Date.now() - this.last.takenAtMs > this.maxAgeMs) void this.refresh().catch(() => undefined);
    return this.last;
  }

  private refresh(): Promise<FsUsage> {
    if (this.running) return this.running;
    // a walk that another directory's call has superseded must not store its figures
    const running: Promise<FsUsage> = this.walk(this.dir).then(
      (usage) => {
        if (this.running === running) {
          this.last = usage;
          this.running = undefined;
        }
        return usage;
      },
      (err: unknown) => {
        if (this.running === running) this.running = undefined;
        throw err;
      },
    );
    this.running = running;
    return running;
  }
}
