import type { runtime } from '../gen/api.js';
import Long from 'long';
import type { ContainerIndex } from '../docker/container-index.js';
import { TYPE_SANDBOX } from '../docker/naming.js';

/** LinuxContainerResources as plain JSON (64-bit figures as numbers), for the verbose status. */
export interface SandboxResources {
  overhead: Record<string, unknown> | null;
  resources: Record<string, unknown> | null;
}

const plain = (r: runtime.v1.ILinuxContainerResources | null | undefined): Record<string, unknown> | null =>
  r ? (JSON.parse(JSON.stringify(r, (_key, value: unknown) => (Long.isLong(value) ? (value as Long).toNumber() : value))) as Record<string, unknown>) : null;

/**
 * UpdatePodSandboxResources: kubelet has already resized the pod's cgroups and only tells the
 * runtime; the resources are recorded per sandbox (forgotten with the sandbox) and the answer is OK.
 */
export class SandboxResourceRecords {
  private readonly bySandbox = new Map<string, SandboxResources>();

  constructor(private readonly index: ContainerIndex) {
    index.onChange((change) => {
      if (change.kind === 'remove') this.bySandbox.delete(change.dockerId);
    });
  }

  get(sandboxId: string): SandboxResources | undefined {
    return this.bySandbox.get(sandboxId);
  }

  async UpdatePodSandboxResources(request: runtime.v1.UpdatePodSandboxResourcesRequest): Promise<runtime.v1.IUpdatePodSandboxResourcesResponse> {
    const sandbox = await this.index.mustFind(request.podSandboxId, TYPE_SANDBOX, 'UpdatePodSandboxResources');
    this.bySandbox.set(sandbox.Id, { overhead: plain(request.overhead), resources: plain(request.resources) });
    return {};
  }
}
