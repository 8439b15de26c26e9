import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { LayerUsage } from './translate.js';

/** Whole-layer walks run one at a time, each layer again after this long. */
const DEFAULT_REFRESH_MS = 10_000;

export interface LayerRef {
  dockerId: string;
  upperDir: string;
}

/**
 * Sizes of containers' writable layers (overlay2 upper dirs), measured by a background walk and
 * cached, so a stats rpc never walks a layer: it reads the cache and at most queues a first walk.
 */
export class WritableLayers {
  private readonly cache = new Map<string, LayerUsage>();
  private readonly queue = new Map<string, string>();
  private walking = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly known: () => LayerRef[],
    private readonly log: Logger,
    private readonly refreshMs = DEFAULT_REFRESH_MS,
  ) {}

  start(): void {
    const tick = (): void => {
      const refs = this.known();
      const live = new Set(refs.map((r) => r.dockerId));
      for (const id of this.cache.keys()) if (!live.has(id)) this.cache.delete(id);
      for (const r of refs) this.queue.set(r.dockerId, r.upperDir);
      this.drain();
      this.timer = setTimeout(tick, this.refreshMs);
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** The last measurement; queues a first walk when there is none yet. */
  get(ref: LayerRef): LayerUsage | undefined {
    const cached = this.cache.get(ref.dockerId);
    if (!cached && !this.queue.has(ref.dockerId)) {
      this.queue.set(ref.dockerId, ref.upperDir);
      this.drain();
    }
    return cached;
  }

  private drain(): void {
    if (this.walking) return;
    this.walking = true;
    void (async () => {
      for (;;) {
        const next = this.queue.entries().next();
        if (next.done) break;
        const [dockerId, upperDir] = next.value;
        this.queue.delete(dockerId);
        try {
          const { bytes, inodes } = await du(upperDir);
          this.cache.set(dockerId, { atNs: BigInt(Date.now()) * 1_000_000n, bytes, inodes, mountpoint: upperDir });
        } catch (err) {
          // the container was removed during the walk
          this.cache.delete(dockerId);
          this.log.debug({ dockerId, err: (err as Error).message }, 'cannot measure writable layer');
        }
      }
      this.walking = false;
    })();
  }
}

/** Disk usage of a tree as du counts it: allocated blocks, each inode once. */
export async function du(root: string): Promise<{ bytes: bigint; inodes: bigint }> {
  const seen = new Set<bigint>();
  let bytes = 0n;
  const visit = async (path: string): Promise<void> => {
    const st = await lstat(path, { bigint: true });
    if (seen.has(st.ino)) return;
    seen.add(st.ino);
    bytes += st.blocks * 512n;
    if (!st.isDirectory()) return;
    const names = await readdir(path).catch(() => [] as string[]);
    for (const name of names) await visit(join(path, name)).catch(() => undefined);
  };
  await visit(root);
  return { bytes, inodes: BigInt(seen.size) };
}
