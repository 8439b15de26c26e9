import type { DockerClient } from './client.js';

/**
 * Labels each image carries, by image ID. Docker merges an image's labels into every container
 * made from it; CRI must hand back only the labels kubelet set, so these are taken out again.
 * An image ID names immutable content, so each is asked once.
 */
export class ImageLabels {
  private readonly byId = new Map<string, Promise<Record<string, string>>>();

  constructor(private readonly docker: DockerClient) {}

  get(imageId: string): Promise<Record<string, string>> {
    let labels = this.byId.get(imageId);
    if (!labels) {
      labels = this.docker.inspectImage(imageId).then(
        (image) => (image?.Config?.Labels as Record<string, string> | null | undefined) ?? {},
        () => {
          this.byId.delete(imageId);
          return {};
        },
      );
      this.byId.set(imageId, labels);
    }
    return labels;
  }
}
