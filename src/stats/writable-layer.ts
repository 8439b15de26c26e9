import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { LayerUsage } from './translate.js';

/** Whole-layer walks run one at a time, each layer again after this long. */
const DEFAULT_REFRESH_MS = 10_000;
/**
 * How long a stats rpc waits for the first walk of a layer nobody has measured yet. A new
 * container's layer is small and takes a few milliseconds; a big one finishes in the background.
 */
const DEFAULT_FIRST_WAIT_MS = 2000;

export interface LayerRef {
  dockerId: string;
  upperDir: string;
}

/**
 * Sizes of containers' writable layers (overlay2 upper dirs), measured by a background walk and
 * cached. A layer is first walked when its container appears (or at the first stats call that
 * asks for it, whichever comes first), and that call waits a short while for the answer, so
 * kubelet sees a writable layer from the first call; later calls read the cache.
 */
export class WritableLayers {
  private readonly cache = new Map<string, LayerUsage>();
  private readonly queue = new Map<string, string>();
  /** The walk under way per container, shared by the background pass and first calls. */
  private readonly walks = new Map<string, Promise<LayerUsage | undefined>>();
  private walking = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly known: () => LayerRef[],
    private readonly log: Logger,
    private readonly refreshMs = DEFAULT_REFRESH_MS,
    private readonly firstWaitMs = DEFAULT_FIRST_WAIT_MS,
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

  /** Queues the first walk of a layer not measured yet (a container that just appeared). */
  prime(ref: LayerRef): void {
    if (this.cache.has(ref.dockerId) || this.walks.has(ref.dockerId) || this.queue.has(ref.dockerId)) return;
    this.queue.set(ref.dockerId, ref.upperDir);
    this.drain();
  }

  /** Forgets a removed container's measurement. */
  forget(dockerId: string): void {
    this.cache.delete(dockerId);
    this.queue.delete(dockerId);
  }

  /**
   * The last measurement. Without one, the first walk is started (or joined) and awaited up to
   * firstWaitMs; a walk that takes longer fills the cache for a later call.
   */
  async get(ref: LayerRef): Promise<LayerUsage | undefined> {
    const cached = this.cache.get(ref.dockerId);
    if (cached) return cached;
    // a first call does not wait behind the queue: it walks this layer now
    this.queue.delete(ref.dockerId);
    const walk = this.walk(ref.dockerId, ref.upperDir);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.firstWaitMs).unref();
    });
    try {
      return await Promise.race([walk, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One walk of one layer at a time; the result goes to the cache. */
  private walk(dockerId: string, upperDir: string): Promise<LayerUsage | undefined> {
    const running = this.walks.get(dockerId);
    if (running) return running;
    const walk = (async () => {
      try {
        const { bytes, inodes } = await du(upperDir);
        const usage = { atNs: BigInt(Date.now()) * 1_000_000n, bytes, inodes, mountpoint: upperDir };
        this.cache.set(dockerId, usage);
        return usage;
      } catch (err) {
        // the container was removed during the walk
        this.cache.delete(dockerId);
        this.log.debug({ dockerId, err: (err as Error).message }, 'cannot measure writable layer');
        return undefined;
      } finally {
        this.walks.delete(dockerId);
      }
    })();
    this.walks.set(dockerId, walk);
    return walk;
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
        await this.walk(dockerId, upperDir);
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
