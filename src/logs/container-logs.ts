// The log copiers of all containers. A container whose json-file log dockercri can read on disk
// (a local Engine, the json-file driver, Docker's container directory visible) gets a file copier,
// exact across every rotation and restart; any other gets the logs-API copier.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DockerClient } from '../docker/client.js';
import { notFound } from '../errors.js';
import type { Logger } from '../log.js';
import { mapLimit } from '../util/pool.js';
import { ApiCopier } from './api-copier.js';
import type { Copier, CopyStatus, FollowedContainer } from './copier.js';
import { CopyBuffers, FileCopier } from './file-copier.js';
import { openForAppend, removeSymlink } from './log-file.js';
import { PositionStore } from './position.js';

/** Copiers stopped at once by stopAll (each closes a few files). */
const STOP_CONCURRENCY = 32;

export interface ContainerLogsOptions {
  /** Where the copy positions are kept, one small file per container. */
  positionsDir: string;
  /** Whether the Engine is on this host (a unix socket), so its files can be read. */
  localEngine: boolean;
}

export class ContainerLogs {
  private readonly active = new Map<string, Copier>();
  private readonly buffers = new CopyBuffers();
  private readonly positions: PositionStore;
  private toldApiOnly = false;

  constructor(
    private readonly docker: DockerClient,
    private readonly log: Logger,
    private readonly opts: ContainerLogsOptions,
  ) {
    this.positions = new PositionStore(opts.positionsDir);
  }

  /**
   * Creates the container's log file before it starts, so whoever looks once StartContainer has
   * answered finds it (a runtime that writes the file itself has it from the start).
   */
  async prepare(logPath: string): Promise<void> {
    await removeSymlink(logPath);
    await (await openForAppend(logPath)).close();
  }

  /** Starts copying the container's log to its CRI log path; a container already followed is left alone. */
  follow(c: FollowedContainer): void {
    if (this.active.has(c.dockerId)) return;
    const log = this.log.child({ dockerId: c.dockerId, logPath: c.logPath });
    const copier = this.fromFiles(c)
      ? new FileCopier({ dockerId: c.dockerId, criPath: c.logPath, dockerLogPath: c.dockerLogPath!, tty: c.tty, maxSizeBytes: c.maxSizeBytes, positions: this.positions, buffers: this.buffers, log })
      : new ApiCopier(this.docker, c, log);
    this.active.set(c.dockerId, copier);
    void copier.done.then(() => {
      if (this.active.get(c.dockerId) === copier) this.active.delete(c.dockerId);
    });
  }

  /** Whether the container's json-file can be read where Docker keeps it. */
  private fromFiles(c: FollowedContainer): boolean {
    if (!this.opts.localEngine || c.logDriver !== 'json-file' || !c.dockerLogPath) return false;
    if (existsSync(dirname(c.dockerLogPath))) return true;
    if (!this.toldApiOnly) {
      this.toldApiOnly = true;
      this.log.warn({ dir: dirname(c.dockerLogPath) }, "Docker's container directories are not visible here (mount Docker's data root read-only at the same path): logs are read through the Engine's API, which can repeat or miss lines at a rotation");
    }
    return false;
  }

  /** The container has exited: its copier copies what is left and ends. */
  exited(dockerId: string): void {
    this.active.get(dockerId)?.exited();
  }

  /**
   * ReopenContainerLog: kubelet has renamed the file; lines from the next entry on go to a new
   * file at the same path. A container not followed (it exited and its log is copied) has no file
   * open, which is success; an unknown container is NOT_FOUND.
   */
  async reopen(dockerId: string): Promise<void> {
    const copier = this.active.get(dockerId);
    if (copier) return copier.reopen();
    if (!(await this.docker.inspectContainer(dockerId))) throw notFound(`reopen the log of container ${dockerId}: no such container`);
  }

  /**
   * Resolves once an exited container's log is copied (or after `timeoutMs`), so a caller that
   * saw the exit finds every line in the file, as with a runtime writing the file itself.
   */
  async settled(dockerId: string, timeoutMs: number): Promise<void> {
    const copier = this.active.get(dockerId);
    if (!copier) return;
    copier.exited();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([copier.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** How the copy of a container's log goes; undefined when nothing copies it now. */
  status(dockerId: string): CopyStatus | undefined {
    return this.active.get(dockerId)?.status();
  }

  /** Stops copying (before the container is removed): what was read is written, the files closed. */
  async stop(dockerId: string): Promise<void> {
    await this.active.get(dockerId)?.stop();
  }

  /** Forgets a removed container's copy position. */
  async forget(dockerId: string): Promise<void> {
    await this.positions.remove(dockerId);
  }

  /** Drops the positions of containers that are gone (removed while dockercri was not running). */
  async collectGarbage(exists: (dockerId: string) => boolean): Promise<void> {
    for (const id of await this.positions.ids()) if (!exists(id) && !this.active.has(id)) await this.positions.remove(id);
  }

  async stopAll(): Promise<void> {
    await mapLimit([...this.active.values()], STOP_CONCURRENCY, (c) => c.stop());
  }

  followers(): number {
    return this.active.size;
  }
}
