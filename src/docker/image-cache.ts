import type { Logger } from '../log.js';
import type { DockerClient, ImageInspect } from './client.js';
import { EventFollow } from './event-follow.js';

/** Entries kept at most: kubelet names a handful of images per pod, and a full cache starts over. */
const MAX_ENTRIES = 512;
/** An entry is asked again after this long, in case an image event was missed. */
const MAX_AGE_MS = 60_000;

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
  private readonly events: EventFollow;
  private readonly invalidated = new Set<() => void>();

  constructor(private readonly docker: Pick<DockerClient, 'inspectImage' | 'subscribeEvents'>, private readonly log: Logger, retryMs?: number) {
    this.events = new EventFollow(
      docker,
      { type: 'image' },
      {
        onEvent: () => this.invalidate(),
        // what was asked before the stream was followed may predate an event it would have carried
        onOpen: () => this.invalidate(),
        onLost: (err) => {
          this.invalidate();
          this.log.debug({ err: err?.message }, 'image events not followed; image inspects are not cached until they are');
        },
      },
      retryMs,
    );
  }

  start(): Promise<void> {
    return this.events.start();
  }

  stop(): void {
    this.events.stop();
  }

  /** True while Docker's image events are followed, so that what a listener keeps stays true. */
  get following(): boolean {
    return this.events.following;
  }

  /** Calls `listener` whenever what an image reference names may have changed. */
  onInvalidate(listener: () => void): void {
    this.invalidated.add(listener);
  }

  invalidate(): void {
    this.generation++;
    this.byRef.clear();
    for (const l of this.invalidated) l();
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
}
