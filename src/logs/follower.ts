// Container logs at the CRI log path. Docker's json-file log is the durable buffer: a follower per
// container reads it through the logs API (with timestamps) and appends CRI lines to the file
// kubelet reads, taking up where the file ends after a restart of dockercri or of Docker.
import type { FileHandle } from 'node:fs/promises';
import type { Server } from 'node:net';
import type { Readable } from 'node:stream';
import type { DockerClient } from '../docker/client.js';
import { Code, CriError, notFound } from '../errors.js';
import type { Logger } from '../log.js';
import { mapLimit } from '../util/pool.js';
import { formatMessage, OverlapFilter, sinceParameter, withoutTtyCarriageReturn } from './cri-format.js';
import { logDecoder, type LogMessage } from './docker-stream.js';
import { appendFully, findResumePoint, openForAppend, removeSymlink } from './log-file.js';
import { tryLockLogFile } from './writer-lock.js';

export interface FollowedContainer {
  dockerId: string;
  /** The CRI log path: the sandbox's log_directory joined with the container's log_path. */
  logPath: string;
  tty: boolean;
}

const FIRST_RETRY_MS = 250;
const LOCK_RETRY_MS = 2000;
const MAX_RETRY_MS = 10_000;
/** Followers stopped at once by stopAll (each closes one file and one connection). */
const STOP_CONCURRENCY = 32;

/**
 * The followers of all containers. `follow` is called once a container has started (and again for
 * every container with a log path when dockercri starts); a follower ends by itself once the
 * container has exited and its log is copied, or is gone.
 */
export class ContainerLogs {
  private readonly active = new Map<string, Follower>();

  constructor(
    private readonly docker: DockerClient,
    private readonly log: Logger,
  ) {}

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
    const follower = new Follower(this.docker, c, this.log.child({ dockerId: c.dockerId, logPath: c.logPath }));
    this.active.set(c.dockerId, follower);
    void follower.done.then(() => {
      if (this.active.get(c.dockerId) === follower) this.active.delete(c.dockerId);
    });
  }

  /**
   * ReopenContainerLog: kubelet has renamed the file; lines from the next message on go to a new
   * file at the same path. A container not followed (it exited and its log is copied) has no file
   * open, which is success; an unknown container is NOT_FOUND.
   */
  async reopen(dockerId: string): Promise<void> {
    const follower = this.active.get(dockerId);
    if (follower) return follower.reopen();
    if (!(await this.docker.inspectContainer(dockerId))) throw notFound(`reopen the log of container ${dockerId}: no such container`);
  }

  /**
   * Resolves once an exited container's log is copied (or after `timeoutMs`), so a caller that
   * saw the exit finds every line in the file, as with a runtime writing the file itself.
   */
  async settled(dockerId: string, timeoutMs: number): Promise<void> {
    const follower = this.active.get(dockerId);
    if (!follower) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([follower.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** Stops following (before the container is removed): what was read is written, the file closed. */
  async stop(dockerId: string): Promise<void> {
    await this.active.get(dockerId)?.stop();
  }

  async stopAll(): Promise<void> {
    await mapLimit([...this.active.values()], STOP_CONCURRENCY, (f) => f.stop());
  }

  followers(): number {
    return this.active.size;
  }
}

type ContainerState = 'running' | 'created' | 'exited' | 'gone' | 'unknown';

class Follower {
  readonly done: Promise<void>;
  private stopped = false;
  private stream: Readable | undefined;
  private file: FileHandle | undefined;
  private closed = false;
  /** File operations (writes, reopen, close) one after the other, so a reopen falls between two messages. */
  private fileOps: Promise<unknown> = Promise.resolve();
  private wake: (() => void) | undefined;
  private lock: Server | undefined;

  constructor(
    private readonly docker: DockerClient,
    private readonly c: FollowedContainer,
    private readonly log: Logger,
  ) {
    this.done = this.run()
      .catch((err: unknown) => this.log.error({ err }, 'container log follower failed'))
      .then(() => this.fileOp(() => this.close()))
      .catch((err: unknown) => this.log.error({ err }, 'closing the container log failed'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stream?.destroy();
    this.wake?.();
    await this.done;
  }

  reopen(): Promise<void> {
    return this.fileOp(async () => {
      if (this.closed) return;
      const old = this.file;
      this.file = undefined;
      await old?.close();
      try {
        this.file = await openForAppend(this.c.logPath);
      } catch (err) {
        throw new CriError(Code.INTERNAL, `reopen the log of container ${this.c.dockerId} at ${this.c.logPath}: ${(err as Error).message}`, err);
      }
      this.log.debug('container log reopened');
    });
  }

  private async run(): Promise<void> {
    // another process writing this file already: wait until it lets go, or the container is gone
    while (!this.stopped) {
      this.lock = await tryLockLogFile(this.c.logPath);
      if (this.lock) break;
      if ((await this.state()) === 'gone') return;
      this.log.debug('another process writes this log file; waiting');
      await this.sleep(LOCK_RETRY_MS);
    }
    let follow = true;
    let retryMs = FIRST_RETRY_MS;
    while (!this.stopped) {
      let copied = false;
      let progressed = false;
      try {
        progressed = await this.copy(follow);
        copied = true;
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof CriError && err.code === Code.NOT_FOUND) return;
        this.log.warn({ err, retryInMs: retryMs }, 'copying the container log failed');
      }
      if (this.stopped) return;
      // the last read of an exited container is done: its log is copied
      if (copied && !follow) return;
      const state = await this.state();
      if (state === 'gone') return;
      follow = state !== 'exited';
      // an exited container's stream ended after its last message: one more read without follow catches any straggler
      if (copied && state === 'exited') continue;
      if (progressed) retryMs = FIRST_RETRY_MS;
      await this.sleep(retryMs);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    }
  }

  /** One connection: resumes after what the file holds and copies until the stream ends; true when anything came. */
  private async copy(follow: boolean): Promise<boolean> {
    if (await removeSymlink(this.c.logPath)) this.log.info("cri-dockerd's symlink to Docker's log replaced by a CRI log file");
    const { point, tornBytes } = await this.fileOp(() => findResumePoint(this.c.logPath));
    if (tornBytes > 0) this.log.warn({ tornBytes }, 'a line cut short at the end of the log file was removed; it is written again');
    const overlap = new OverlapFilter(point);
    await this.fileOp(() => this.ensureOpen());
    const stream = await this.docker.followLogs(this.c.dockerId, { sinceSec: point && sinceParameter(point.sinceNs), follow });
    // errors surface through the iteration below; one after it must not be unhandled
    stream.on('error', () => undefined);
    if (this.stopped) {
      stream.destroy();
      return false;
    }
    this.stream = stream;
    const decoder = logDecoder(this.c.tty, (problem) => this.log.warn({ problem }, 'Docker log stream'));
    let progressed = false;
    try {
      for await (const chunk of stream) {
        progressed = true;
        await this.write(decoder.push(chunk as Buffer), overlap);
      }
      if (!this.stopped) await this.write(decoder.end(), overlap);
    } finally {
      this.stream = undefined;
      stream.destroy();
    }
    return progressed;
  }

  /** Appends the messages' CRI lines in one write, leaving out what the file already holds. */
  private async write(messages: LogMessage[], overlap: OverlapFilter): Promise<void> {
    const lines: Buffer[] = [];
    for (const m of messages) {
      const text = overlap.newText(m.timestamp, this.c.tty ? withoutTtyCarriageReturn(m.text) : m.text);
      if (text.length > 0) lines.push(formatMessage(m.timestamp, m.stream, text));
    }
    if (lines.length === 0) return;
    const bytes = lines.length === 1 ? lines[0]! : Buffer.concat(lines);
    await this.fileOp(async () => {
      await this.ensureOpen();
      await appendFully(this.file!, bytes);
    });
  }

  private async ensureOpen(): Promise<void> {
    this.file ??= await openForAppend(this.c.logPath);
  }

  private async close(): Promise<void> {
    this.closed = true;
    this.lock?.close();
    this.lock = undefined;
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  private fileOp<T>(op: () => Promise<T>): Promise<T> {
    const result = this.fileOps.then(op);
    this.fileOps = result.catch(() => undefined);
    return result;
  }

  private async state(): Promise<ContainerState> {
    try {
      const inspect = await this.docker.inspectContainer(this.c.dockerId);
      if (!inspect) return 'gone';
      if (inspect.State?.Running || inspect.State?.Restarting) return 'running';
      return inspect.State?.Status === 'created' ? 'created' : 'exited';
    } catch (err) {
      this.log.debug({ err }, 'inspecting the container failed');
      return 'unknown';
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms);
      function finish(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = finish;
    });
  }
}
