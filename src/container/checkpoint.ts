import { Code, CriError } from '../errors.js';
import type { runtime } from '../gen/api.js';
import type { EngineCache } from '../docker/engine-cache.js';
import type { ContainerIndex } from '../docker/container-index.js';
import { TYPE_CONTAINER } from '../docker/naming.js';

/**
 * CheckpointContainer. Docker checkpoints containers only with CRIU and its experimental features
 * on, and even then keeps them in its own layout, not the archive kubelet asks for: UNIMPLEMENTED,
 * with the reason that applies to this Engine.
 */
export async function checkpointContainer(engine: Pick<EngineCache, 'get'>, index: ContainerIndex, request: runtime.v1.CheckpointContainerRequest): Promise<runtime.v1.ICheckpointContainerResponse> {
  await index.mustFind(request.containerId, TYPE_CONTAINER, 'CheckpointContainer');
  const { info } = await engine.get();
  if (info.raw.ExperimentalBuild !== true) {
    throw new CriError(Code.UNIMPLEMENTED, 'CheckpointContainer: Docker Engine checkpoints containers only in experimental mode (dockerd --experimental, with CRIU installed), and this Engine runs without it');
  }
  throw new CriError(Code.UNIMPLEMENTED, 'CheckpointContainer: dockercri cannot yet export a Docker checkpoint as the CRI checkpoint archive kubelet expects');
}
