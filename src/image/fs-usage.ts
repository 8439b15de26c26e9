import { lstatSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';

export interface FsUsage {
  bytes: number;
  inodes: number;
  /** When the walk finished, in ms since the epoch. */
  takenAtMs: number;
}

/** How long the walk holds the event loop before it lets other work run. */
const SLICE_MS = 5;

/** Yields to other work every few milliseconds of a synchronous walk. */
class Slicer {
  private start = Date.now();
  async pause(): Promise<void> {
    if (Date.now() - this.start < SLICE_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.start = Date.now();
  }
}

/** The entry's lstat; undefined when it is gone or cannot be read. */
function lstatOrNone(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** The names in a directory; none when it was removed or cannot be read mid-walk (what was seen of it counts). */
function namesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Adds the entries under `roots` on `device` to `seen`; returns their allocated bytes. */
async function walkTrees(roots: string[], device: number, seen: Set<number>, slicer: Slicer): Promise<number> {
  let bytes = 0;
  const stack = [...roots];
  while (stack.length > 0) {
    await slicer.pause();
    const current = stack.pop() as string;
    const st = lstatOrNone(current);
    if (!st || st.dev !== device || seen.has(st.ino)) continue;
    seen.add(st.ino);
    bytes += st.blocks * 512;
    if (st.isDirectory()) for (const name of namesIn(current)) stack.push(join(current, name));
  }
  return bytes;
}

/**
 * Entries of the walked directory that never change once written, such as the image layers in
 * Docker's overlay2 directory (its layer store names them): each is walked once and its figures
 * are kept while it exists, so a refresh walks only what can change (containers' writable layers).
 * A hard link between a kept entry and the rest would be counted twice; Docker makes none.
 */
export class FixedEntries {
  private readonly known = new Map<string, { bytes: number; inodes: number }>();

  /** `names` lists the fixed entries at the time of a walk. */
  constructor(readonly names: () => Set<string>) {}

  get size(): number {
    return this.known.size;
  }

  /** @internal */
  async usageOf(name: string, path: string, device: number, slicer: Slicer): Promise<{ bytes: number; inodes: number }> {
    let usage = this.known.get(name);
    if (!usage) {
      const seen = new Set<number>();
      usage = { bytes: await walkTrees([path], device, seen, slicer), inodes: seen.size };
      // an entry that vanished mid-walk is not remembered as empty
      if (usage.inodes > 0) this.known.set(name, usage);
    }
    return usage;
  }

  /** @internal */
  forgetAllBut(present: Set<string>): void {
    for (const name of this.known.keys()) if (!present.has(name)) this.known.delete(name);
  }
}

/**
 * The directories of image layers under Docker's storage-driver directory, by the cache-id files of
 * its layer store (<root>/image/<driver>/layerdb/sha256/<chain id>/cache-id). Containers' writable
 * and init layers are not in it. Empty when the store cannot be read, which makes every walk whole.
 */
export function dockerImageLayerDirs(dockerRootDir: string, storageDriver: string): Set<string> {
  const layerdb = join(dockerRootDir, 'image', storageDriver, 'layerdb', 'sha256');
  const dirs = new Set<string>();
  let chains: string[];
  try {
    chains = readdirSync(layerdb);
  } catch {
    return dirs;
  }
  for (const chain of chains) {
    try {
      const id = readFileSync(join(layerdb, chain, 'cache-id'), 'utf8').trim();
      if (/^[A-Za-z0-9_.-]+$/.test(id)) dirs.add(id);
    } catch {
      // a layer being written or removed: walked with the rest this time
    }
  }
  return dirs;
}

/**
 * Bytes and inodes under `dir`, counting each hard-linked inode once; never follows links and,
 * like `du -x`, stays on `dir`'s file system: the overlay mounts of running containers
 * (overlay2/<id>/merged) show files already counted in their layers, and walking each of them
 * again made every walk as long as all the containers' file trees together.
 * The walk is synchronous in slices of a few milliseconds: a promise and two thread-pool hops per
 * entry cost ten times the CPU of the lstat itself, on trees of many thousand image files.
 */
export async function walkUsage(dir: string, fixed?: FixedEntries): Promise<FsUsage> {
  const slicer = new Slicer();
  const top = lstatOrNone(dir);
  if (!top) return { bytes: 0, inodes: 0, takenAtMs: Date.now() };
  const seen = new Set<number>([top.ino]);
  let bytes = top.blocks * 512;
  let inodes = 0;
  if (top.isDirectory()) {
    const names = namesIn(dir);
    const fixedNames = fixed ? fixed.names() : new Set<string>();
    const rest: string[] = [];
    for (const name of names) {
      if (!fixedNames.has(name)) {
        rest.push(join(dir, name));
        continue;
      }
      const usage = await fixed!.usageOf(name, join(dir, name), top.dev, slicer);
      bytes += usage.bytes;
      inodes += usage.inodes;
    }
    fixed?.forgetAllBut(new Set(names.filter((n) => fixedNames.has(n))));
    bytes += await walkTrees(rest, top.dev, seen, slicer);
  }
  return { bytes, inodes: inodes + seen.size, takenAtMs: Date.now() };
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
