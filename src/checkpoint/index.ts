import type { Logger } from '../log.js';
import { buildCheckpoint, type SandboxCheckpoint, type SandboxCheckpointInput } from './format.js';
import { CheckpointStore } from './store.js';

export type { SandboxCheckpoint, SandboxCheckpointInput };

/**
 * The per-sandbox checkpoints the sandbox room reads and writes. A corrupt file is reported in the
 * log and read as none, never thrown at a caller: the sandbox itself is still managed from Docker.
 */
export class SandboxCheckpoints {
  private readonly store: CheckpointStore;

  constructor(criDockerdRootDirectory: string, private readonly log: Logger) {
    this.store = new CheckpointStore(criDockerdRootDirectory);
  }

  write(sandboxId: string, input: SandboxCheckpointInput): Promise<void> {
    return this.store.write(sandboxId, buildCheckpoint(input));
  }

  async read(sandboxId: string): Promise<SandboxCheckpoint | undefined> {
    const decoded = await this.store.read(sandboxId);
    if (!decoded) return undefined;
    if (decoded.ok) return decoded.checkpoint;
    this.log.warn({ podSandboxId: sandboxId, reason: decoded.corruption.reason, err: decoded.corruption.message }, 'corrupt sandbox checkpoint skipped');
    return undefined;
  }

  remove(sandboxId: string): Promise<void> {
    return this.store.remove(sandboxId);
  }

  list(): Promise<string[]> {
    return this.store.list();
  }
}
