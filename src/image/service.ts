import { join } from 'node:path';
import { invalidArgument } from '../errors.js';
import type { runtime } from '../gen/api.js';
import type { ImageServiceHandlers, StreamSink } from '../gen/services.js';
import type { DockerClient, ImageInspect, PullProgress } from '../docker/client.js';
import type { EngineCache } from '../docker/engine-cache.js';
import type { ImageInspectCache } from '../docker/image-cache.js';
import type { Logger } from '../log.js';
import { batches, mapLimit } from '../util/pool.js';
import { msToNs } from '../util/time.js';
import { toRegistryAuth } from './auth.js';
import { dockerImageLayerDirs, FixedEntries, UsageCache, walkUsage } from './fs-usage.js';
import { MAX_REFERENCE_LENGTH, isImageId, parseReference, pullTarget } from './reference.js';
import { isPinnedImage, refersToId, toCriImage } from './translate.js';

export interface ImageServiceOptions {
  podInfraContainerImage: string;
  imagePullProgressDeadlineMs: number;
  /** How often a running pull logs its progress. */
  pullLogIntervalMs?: number;
}

/** Reads the reference of an ImageSpec, rejecting what cannot name an image. */
function specRef(spec: runtime.v1.IImageSpec | null | undefined, rpc: string): string {
  const ref = spec?.image ?? '';
  if (ref.trim() === '') throw invalidArgument(`${rpc}: image.image is required`);
  if (ref.length > MAX_REFERENCE_LENGTH) throw invalidArgument(`${rpc}: image reference longer than ${MAX_REFERENCE_LENGTH} characters`);
  return ref;
}

/** Checks that a lookup key is an ID, an ID prefix or a well-formed reference. */
function checkLookup(ref: string): void {
  if (isImageId(ref) || /^[a-f0-9]{1,64}$/.test(ref)) return;
  parseReference(ref);
}

export class ImageService implements ImageServiceHandlers {
  /** Where Docker keeps images, from its info. */
  private storage?: { mountpoint: string; rootDir: string; driver: string };
  /** Image layers are walked once each: a refresh of the figures walks containers' layers only. */
  private readonly imageLayers = new FixedEntries(() => (this.storage ? dockerImageLayerDirs(this.storage.rootDir, this.storage.driver) : new Set()));
  private readonly usage = new UsageCache(60_000, (dir) => walkUsage(dir, this.imageLayers));
  /** Image user by image ID: an image's config never changes, so it is asked once. */
  private readonly userById = new Map<string, string>();

  /** `inspects` is emptied by every pull and removal, before the rpc returns. */
  constructor(
    private readonly docker: DockerClient,
    private readonly engine: EngineCache,
    private readonly opts: ImageServiceOptions,
    private readonly log: Logger,
    private readonly inspects?: ImageInspectCache,
  ) {}

  private isPinned(image: { RepoTags?: string[] | null; RepoDigests?: string[] | null }): boolean {
    return isPinnedImage(image, this.opts.podInfraContainerImage);
  }

  private async allImages(): Promise<runtime.v1.IImage[]> {
    const summaries = await this.docker.listImages();
    const missing = summaries.filter((s) => !this.userById.has(s.Id));
    await mapLimit(missing, 8, async (s) => {
      const inspect = await this.docker.inspectImage(s.Id);
      if (inspect) this.userById.set(s.Id, inspect.Config?.User ?? '');
    });
    const live = new Set(summaries.map((s) => s.Id));
    for (const id of this.userById.keys()) if (!live.has(id)) this.userById.delete(id);
    return summaries.map((s) => toCriImage({ ...s, Config: { User: this.userById.get(s.Id) ?? '' } }, this.isPinned(s)));
  }

  async ListImages(request: runtime.v1.ListImagesRequest): Promise<runtime.v1.IListImagesResponse> {
    const filter = request.filter?.image?.image ?? '';
    if (filter !== '') {
      checkLookup(filter);
      const image = await this.docker.inspectImage(filter);
      return { images: image ? [toCriImage(image, this.isPinned(image))] : [] };
    }
    return { images: await this.allImages() };
  }

  async StreamImages(request: runtime.v1.StreamImagesRequest, sink: StreamSink<runtime.v1.IStreamImagesResponse>): Promise<void> {
    const { images } = await this.ListImages(request as unknown as runtime.v1.ListImagesRequest);
    for (const batch of batches(images ?? [])) sink.write({ images: batch });
  }

  async ImageStatus(request: runtime.v1.ImageStatusRequest): Promise<runtime.v1.IImageStatusResponse> {
    const ref = specRef(request.image, 'ImageStatus');
    checkLookup(ref);
    const image = await this.docker.inspectImage(ref);
    if (!image) return {};
    const response: runtime.v1.IImageStatusResponse = { image: toCriImage(image, this.isPinned(image)) };
    if (request.verbose) response.info = { info: JSON.stringify(verboseInfo(image)) };
    return response;
  }

  async PullImage(request: runtime.v1.PullImageRequest): Promise<runtime.v1.IPullImageResponse> {
    const ref = specRef(request.image, 'PullImage');
    const parsed = parseReference(ref);
    const target = pullTarget(parsed);
    const registry = parsed.familiar.split('/')[0] as string;
    const auth = toRegistryAuth(request.auth, registry);
    const shown = `${target.name}${parsed.digest ? '@' : ':'}${target.tagOrDigest}`;
    const progress = new PullLog(this.log.child({ image: shown }), this.opts.pullLogIntervalMs ?? 10_000);
    try {
      await this.docker.pullImage(target.name, target.tagOrDigest, {
        auth,
        progressDeadlineMs: this.opts.imagePullProgressDeadlineMs,
        onProgress: (p) => progress.update(p),
      });
    } finally {
      progress.stop();
      this.inspects?.invalidate();
    }
    const image = await this.docker.inspectImage(shown);
    if (!image) throw invalidArgument(`PullImage: ${shown} was pulled but the Engine does not list it`);
    return { imageRef: image.Id };
  }

  async RemoveImage(request: runtime.v1.RemoveImageRequest): Promise<runtime.v1.IRemoveImageResponse> {
    const ref = specRef(request.image, 'RemoveImage');
    checkLookup(ref);
    try {
      return await this.removeImage(ref);
    } finally {
      this.inspects?.invalidate();
    }
  }

  private async removeImage(ref: string): Promise<runtime.v1.IRemoveImageResponse> {
    const image = await this.docker.inspectImage(ref);
    if (!image) return {};
    if (!refersToId(ref, image.Id)) {
      await this.docker.removeImage(ref);
      return {};
    }
    // By ID the whole image goes, as in containerd: every tag and digest reference first, since
    // Docker refuses to delete an ID that several repositories still name.
    for (const name of [...(image.RepoTags ?? []), ...(image.RepoDigests ?? [])]) {
      if (!name.startsWith('<none>')) await this.docker.removeImage(name);
    }
    await this.docker.removeImage(image.Id);
    return {};
  }

  /** Docker's storage-driver directory, which Docker may change when it restarts. */
  private async storageMountpoint(): Promise<string> {
    const { info } = await this.engine.get();
    const mountpoint = join(info.dockerRootDir, info.storageDriver || 'image');
    if (this.storage?.mountpoint !== mountpoint) this.storage = { mountpoint, rootDir: info.dockerRootDir, driver: info.storageDriver };
    return mountpoint;
  }

  async ImageFsInfo(): Promise<runtime.v1.IImageFsInfoResponse> {
    const mountpoint = await this.storageMountpoint();
    const usage = await this.usage.get(mountpoint);
    const fs: runtime.v1.IFilesystemUsage = {
      timestamp: msToNs(usage.takenAtMs),
      fsId: { mountpoint },
      usedBytes: { value: usage.bytes },
      inodesUsed: { value: usage.inodes },
    };
    // Images and writable layers share Docker's storage driver directory.
    return { imageFilesystems: [fs], containerFilesystems: [fs] };
  }
}

function verboseInfo(image: ImageInspect): Record<string, unknown> {
  return {
    id: image.Id,
    repoTags: image.RepoTags,
    repoDigests: image.RepoDigests,
    created: image.Created,
    architecture: image.Architecture,
    os: image.Os,
    size: image.Size,
    config: image.Config,
    rootfs: image.RootFS,
    graphDriver: image.GraphDriver,
  };
}

/** Logs a pull's progress at intervals instead of for every layer chunk. */
class PullLog {
  private readonly layers = new Map<string, { current: number; total: number }>();
  private lastStatus = '';
  private readonly timer: NodeJS.Timeout;
  private readonly started = Date.now();

  constructor(private readonly log: Logger, intervalMs: number) {
    this.timer = setInterval(() => this.report(), intervalMs);
    this.timer.unref();
  }

  update(p: PullProgress): void {
    this.lastStatus = p.status;
    if (p.id && p.total) this.layers.set(p.id, { current: p.current ?? 0, total: p.total });
  }

  private report(): void {
    let current = 0;
    let total = 0;
    for (const l of this.layers.values()) {
      current += l.current;
      total += l.total;
    }
    this.log.info({ layers: this.layers.size, downloadedBytes: current, totalBytes: total, status: this.lastStatus, elapsedMs: Date.now() - this.started }, 'pulling image');
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
