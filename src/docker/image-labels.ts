import type { DockerClient } from './client.js';

export interface ImageFacts {
  /** The image's own labels. */
  labels: Record<string, string>;
  repoDigests: string[];
}

const NONE: ImageFacts = { labels: {}, repoDigests: [] };
/** Digests are added by later pulls of the same image: facts are asked again after this long. */
const MAX_AGE_MS = 60_000;

/**
 * What containers need to know of their image, by image ID. Docker merges an image's labels into
 * every container made from it; CRI must hand back only the labels kubelet set, so these are
 * taken out again. Labels of an image ID never change; its repo digests rarely do.
 */
export class ImageLabels {
  private readonly byId = new Map<string, { at: number; facts: Promise<ImageFacts> }>();

  constructor(private readonly docker: DockerClient) {}

  facts(imageId: string): Promise<ImageFacts> {
    const cached = this.byId.get(imageId);
    if (cached && Date.now() - cached.at < MAX_AGE_MS) return cached.facts;
    const facts = this.docker.inspectImage(imageId).then(
      (image) => (image ? { labels: (image.Config?.Labels as Record<string, string> | null | undefined) ?? {}, repoDigests: image.RepoDigests ?? [] } : NONE),
      () => {
        this.byId.delete(imageId);
        return NONE;
      },
    );
    this.byId.set(imageId, { at: Date.now(), facts });
    return facts;
  }

  async get(imageId: string): Promise<Record<string, string>> {
    return (await this.facts(imageId)).labels;
  }
}
