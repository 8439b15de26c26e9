// The copier for containers whose json-file cannot be read on disk (a remote --docker-endpoint, or
// a log driver other than json-file): it reads Docker's logs API with timestamps and appends CRI
// lines to the file kubelet reads, taking up where the file ends after a restart of dockercri or
// of Docker. It resumes by timestamp, so it can repeat or miss lines where the API does (Docker's
// follow stream repeats a rotated file on some Engines); the file copier (file-copier.ts) has no
// such gap.
import type { FileHandle } from 'node:fs/promises';
import type { Server } from 'node:net';
import type { Readable } from 'node:stream';
import type { DockerClient } from '../docker/client.js';
import { Code, CriError } from '../errors.js';
import type { Logger } from '../log.js';
import { formatMessage, OverlapFilter, sinceParameter, withoutTtyCarriageReturn } from './cri-format.js';
import { logDecoder, type LogMessage } from './docker-stream.js';
import { appendFully, findResumePoint, openForAppend, removeSymlink } from './log-file.js';
import type { Copier, CopyStatus, FollowedContainer } from './copier.js';
import { tryLockLogFile } from './writer-lock.js';

const FIRST_RETRY_MS = 250;
const LOCK_RETRY_MS = 2000;
const MAX_RETRY_MS = 10_000;

type ContainerState = 'running' | 'created' | 'exited' | 'gone' | 'unknown';

export class ApiCopier implements Copier {
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

  /** The copier asks Docker for the container's state whenever the stream ends: nothing to do. */
  exited(): void {}

  status(): CopyStatus {
    return { source: 'logs-api', state: this.closed ? 'done' : this.stream ? 'copying' : 'waiting', lostBytes: 0 };
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
