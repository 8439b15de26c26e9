import type { DockerClient } from './client.js';
import type { ImageInspectCache } from './image-cache.js';

export interface ImageFacts {
  /** The image's own labels. */
  labels: Record<string, string>;
  repoDigests: string[];
}

const NONE: ImageFacts = { labels: {}, repoDigests: [] };
/** While image events are not followed, facts are asked again after this long (a pull adds digests). */
const UNFOLLOWED_MAX_AGE_MS = 60_000;
/** While they are, after this long: a stream that stays open but carries nothing (a half-open remote connection) is not believed for ever. */
const FOLLOWED_MAX_AGE_MS = 600_000;

/**
 * What containers need to know of their image, by image ID. Docker merges an image's labels into
 * every container made from it; CRI must hand back only the labels kubelet set, so these are
 * taken out again. Labels of an image ID never change; its repo digests change with pulls, tags
 * and removals, each of which is an image event: the facts are kept until the next one (or ten
 * minutes).
 */
export class ImageLabels {
  private readonly byId = new Map<string, { at: number; facts: Promise<ImageFacts> }>();

  constructor(private readonly docker: Pick<DockerClient, 'inspectImage'>, private readonly images?: Pick<ImageInspectCache, 'following' | 'onInvalidate'>) {
    images?.onInvalidate(() => this.byId.clear());
  }

  facts(imageId: string): Promise<ImageFacts> {
    const cached = this.byId.get(imageId);
    if (cached && Date.now() - cached.at < (this.images?.following ? FOLLOWED_MAX_AGE_MS : UNFOLLOWED_MAX_AGE_MS)) return cached.facts;
    const entry = {
      at: Date.now(),
      facts: this.docker.inspectImage(imageId).then(
        (image) => (image ? { labels: (image.Config?.Labels as Record<string, string> | null | undefined) ?? {}, repoDigests: image.RepoDigests ?? [] } : NONE),
        () => {
          if (this.byId.get(imageId) === entry) this.byId.delete(imageId);
          return NONE;
        },
      ),
    };
    this.byId.set(imageId, entry);
    return entry.facts;
  }

  async get(imageId: string): Promise<Record<string, string>> {
    return (await this.facts(imageId)).labels;
  }
}
