import type { Logger } from '../log.js';
import type { DockerClient, EventSubscription, ImageInspect } from './client.js';

/** Entries kept at most: kubelet names a handful of images per pod, and a full cache starts over. */
const MAX_ENTRIES = 512;
/** An entry is asked again after this long, in case an image event was missed. */
const MAX_AGE_MS = 60_000;
const RECONNECT_MS = 1000;

/**
 * Image inspects by the reference they were asked with (a name, name:tag, name@digest or ID), for
 * CreateContainer, which needs its image's entrypoint, user and ID on every call. What a reference
 * means changes with pulls, tags and removals: every image event of Docker empties the cache, as
 * do dockercri's own pulls and removals (`invalidate`, before their rpc returns), and nothing is
 * kept while the event stream is not followed.
 */
export class ImageInspectCache {
  private readonly byRef = new Map<string, { atMs: number; image: ImageInspect }>();
  /** Bumped by each invalidation, so an inspect that was asked before one is not kept. */
  private generation = 0;
  private following = false;
  private subscription?: EventSubscription;
  private retryTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly docker: Pick<DockerClient, 'inspectImage' | 'subscribeEvents'>, private readonly log: Logger) {}

  start(): void {
    void this.follow();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.following = false;
    this.subscription?.close();
  }

  invalidate(): void {
    this.generation++;
    this.byRef.clear();
  }

  get size(): number {
    return this.byRef.size;
  }

  /** Docker's inspect of `ref`; undefined when there is no such image (which is never kept). */
  async inspect(ref: string): Promise<ImageInspect | undefined> {
    const hit = this.following ? this.byRef.get(ref) : undefined;
    if (hit && Date.now() - hit.atMs < MAX_AGE_MS) return hit.image;
    const generation = this.generation;
    const image = await this.docker.inspectImage(ref);
    if (image && this.following && generation === this.generation) {
      if (this.byRef.size >= MAX_ENTRIES) this.byRef.clear();
      this.byRef.set(ref, { atMs: Date.now(), image });
    }
    return image;
  }

  private async follow(): Promise<void> {
    if (this.stopped) return;
    try {
      this.subscription = await this.docker.subscribeEvents({ type: 'image' }, () => this.invalidate(), (err) => this.lost(err));
      if (this.stopped) return this.subscription.close();
      // what was asked before the stream was followed may predate an event it would have carried
      this.invalidate();
      this.following = true;
    } catch (err) {
      this.lost(err as Error);
    }
  }

  private lost(err?: Error): void {
    this.following = false;
    this.invalidate();
    if (this.stopped) return;
    this.log.debug({ err: err?.message }, 'image events not followed; image inspects are not cached until they are');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.follow(), RECONNECT_MS);
    this.retryTimer.unref();
  }
}
