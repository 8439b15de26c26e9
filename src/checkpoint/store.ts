// The sandbox checkpoint files, where cri-dockerd keeps them: <root>/sandbox/<sandboxId>, mode 0600,
// in a directory of mode 0755. Names starting with "." are temporary files, which cri-dockerd's
// listing skips too.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument } from '../errors.js';
import { decodeCheckpoint, encodeCheckpoint, type DecodedCheckpoint, type SandboxCheckpoint } from './format.js';
import { isErrno } from '../util/errno.js';

export const SANDBOX_CHECKPOINT_DIRECTORY = 'sandbox';
const FILE_MODE = 0o600;
const DIRECTORY_MODE = 0o755;
const SANDBOX_ID = /^[0-9a-f]{64}$/;

function checkSandboxId(sandboxId: string): void {
  if (!SANDBOX_ID.test(sandboxId)) throw invalidArgument(`sandbox id ${JSON.stringify(sandboxId)} is not 64 lower-case hex digits`);
}

export class CheckpointStore {
  /** Where the files are: <criDockerdRootDirectory>/sandbox. */
  readonly directory: string;

  constructor(criDockerdRootDirectory: string) {
    this.directory = join(criDockerdRootDirectory, SANDBOX_CHECKPOINT_DIRECTORY);
  }

  /** Replaces the sandbox's checkpoint atomically: a reader sees the old file or the new, never half. */
  async write(sandboxId: string, checkpoint: SandboxCheckpoint): Promise<void> {
    checkSandboxId(sandboxId);
    const bytes = encodeCheckpoint(checkpoint);
    await mkdir(this.directory, { recursive: true, mode: DIRECTORY_MODE });
    const path = join(this.directory, sandboxId);
    const temporary = join(this.directory, `.${sandboxId}.${randomBytes(6).toString('hex')}`);
    try {
      const file = await open(temporary, 'wx', FILE_MODE);
      try {
        await file.writeFile(bytes);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temporary, path);
    } catch (err) {
      await unlink(temporary).catch(() => undefined);
      throw err;
    }
    // the rename itself survives a power cut only once the directory is synced
    const directory = await open(this.directory, 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }

  /** undefined when the sandbox has no checkpoint; a corruption report when its file is unusable. */
  async read(sandboxId: string): Promise<DecodedCheckpoint | undefined> {
    checkSandboxId(sandboxId);
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.directory, sandboxId));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
    return decodeCheckpoint(bytes);
  }

  /** Removing a checkpoint that is not there succeeds. */
  async remove(sandboxId: string): Promise<void> {
    checkSandboxId(sandboxId);
    try {
      await unlink(join(this.directory, sandboxId));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }

  /** The sandbox IDs that have a checkpoint, sorted; temporary and foreign files are left out. */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    return names.filter((name) => SANDBOX_ID.test(name)).sort();
  }
}
