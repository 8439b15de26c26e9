// Copies one container's output from Docker's json-file log on disk to its CRI log file, every
// entry exactly once and in order, through Docker's rotations, kubelet's rotations and restarts of
// either side.
//
// The position in Docker's files is recorded after every write to the CRI file. A copier killed
// between the two finds more lines in the CRI file than its record says; it converts the same
// entries again (which gives the same bytes) and skips exactly that many lines. Docker's files are
// followed as files: held open, read to their end before the next one, woken by inotify.
import { existsSync, watch, type FSWatcher } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Server } from 'node:net';
import { basename, dirname } from 'node:path';
import { Code, CriError } from '../errors.js';
import type { Logger } from '../log.js';
import { openTarget, type Resume } from './cri-target.js';
import { parseCriLine, timestampNs } from './cri-format.js';
import { convertEntries, fixedTime } from './json-file.js';
import { JsonLogChain, siblingIndex } from './json-log-chain.js';
import type { Copier, CopyStatus } from './copier.js';
import { appendFully, openForAppend, removeSymlink } from './log-file.js';
import type { LogPosition, PositionFile, PositionStore } from './position.js';
import { tryLockLogFile } from './writer-lock.js';

export interface FileCopierOptions {
  dockerId: string;
  /** The CRI log path kubelet reads. */
  criPath: string;
  /** Docker's json-file log (LogPath of the container). */
  dockerLogPath: string;
  tty: boolean;
  /** Docker's max-size for this container's log, when known (to say how much was lost). */
  maxSizeBytes?: number;
  positions: PositionStore;
  buffers: CopyBuffers;
  log: Logger;
}

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 10_000;
const LOCK_RETRY_MS = 2000;
/** After a round that copied something, the next waits this long, so a steady writer is copied in batches. */
const COALESCE_MS = 50;
/** A look now and then even when inotify says nothing (a missed event costs at most this). */
const SAFETY_POLL_MS = 5000;
/** Without inotify (the directory cannot be watched): how often to look. */
const POLL_MS = 250;
/** Longest json-file entry taken; a longer line is no entry Docker writes (it splits at 16 KiB). */
const MAX_ENTRY_BYTES = 8 * 1024 * 1024;

/** Read and conversion buffers shared by all copiers: memory stays flat whatever is logged. */
export class CopyBuffers {
  private readonly free: { input: Buffer; output: Buffer }[] = [];
  private readonly waiting: Array<(b: { input: Buffer; output: Buffer }) => void> = [];
  private made = 0;

  /** At most `count` pairs, each made when first needed: a node with nothing to copy holds none. */
  constructor(private readonly count = 2, readonly inputSize = 512 * 1024) {}

  acquire(): Promise<{ input: Buffer; output: Buffer }> {
    const b = this.free.pop();
    if (b) return Promise.resolve(b);
    if (this.made < this.count) {
      this.made++;
      return Promise.resolve({ input: Buffer.allocUnsafe(this.inputSize), output: Buffer.allocUnsafe(this.inputSize + 64 * 1024) });
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(b: { input: Buffer; output: Buffer }): void {
    const next = this.waiting.shift();
    if (next) next(b);
    else this.free.push(b);
  }
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class FileCopier implements Copier {
  readonly done: Promise<void>;
  private stopped = false;
  private hasExited = false;
  private dirty = false;
  private wake: (() => void) | undefined;
  private watcher: FSWatcher | undefined;
  private lock: Server | undefined;
  private positionFile: PositionFile | undefined;
  private record: LogPosition | undefined;
  private readonly chain: JsonLogChain;
  private chainStarted = false;
  private targetStarted = false;
  private target: { fh: FileHandle; ino: number; size: number } | undefined;
  private resume: Resume = { skipLines: 0, tornBytes: 0 };
  /** Lines to write before the next entries: the notice of lost output. */
  private notice: Buffer | undefined;
  /** Output converted but not yet all written (the write failed part way), with what it stands for. */
  private pending: { bytes: Buffer; consumed: number; lastTime?: string } | undefined;
  private lastTime: string | undefined;
  /** Target operations one after the other, so a reopen falls between two writes. */
  private targetOps: Promise<unknown> = Promise.resolve();
  private lastDataAt = 0;
  private state: CopyStatus['state'] = 'starting';
  private error: string | undefined;
  private lostBytes = 0;

  constructor(private readonly o: FileCopierOptions) {
    this.chain = new JsonLogChain(o.dockerLogPath, () => this.noteGap());
    this.done = this.run()
      .catch((err: unknown) => this.o.log.error({ err: errorText(err) }, 'container log copier failed'))
      .finally(() => this.close().catch((err: unknown) => this.o.log.error({ err: errorText(err) }, 'closing the container log copier failed')));
  }

  exited(): void {
    this.hasExited = true;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.kick();
    await this.done;
  }

  status(): CopyStatus {
    return { source: 'json-file', state: this.state, ...(this.error ? { error: this.error } : {}), lostBytes: this.lostBytes };
  }

  /** kubelet has renamed the CRI file: what comes next goes to a new file at the same path. */
  reopen(): Promise<void> {
    return this.targetOp(async () => {
      if (!this.target) {
        // not opened yet: it opens the path as it is when it starts; the file is there for kubelet now
        await (await openForAppend(this.o.criPath)).close();
        return;
      }
      const old = this.target;
      this.target = undefined;
      await old.fh.close().catch(() => undefined);
      try {
        this.target = await this.openAt();
      } catch (err) {
        throw new CriError(Code.INTERNAL, `reopen the log of container ${this.o.dockerId} at ${this.o.criPath}: ${errorText(err)}`, err);
      }
      await this.saveRecord();
      this.o.log.debug('container log reopened');
    });
  }

  private async run(): Promise<void> {
    // another process writes this file already: wait until it lets go, or the container is gone
    while (!this.stopped) {
      this.lock = await tryLockLogFile(this.o.criPath);
      // Docker removes a container's directory with it; the process that let go may have removed
      // the container and its CRI file, which opening the file now would bring back
      if (!existsSync(dirname(this.o.dockerLogPath))) {
        this.o.log.debug('the container is gone; its log is not copied');
        return;
      }
      if (this.lock) break;
      this.o.log.debug('another process writes this log file; waiting');
      await this.sleep(LOCK_RETRY_MS);
    }
    let retryMs = FIRST_RETRY_MS;
    while (!this.stopped) {
      try {
        if (await this.step()) return;
        retryMs = FIRST_RETRY_MS;
        this.recovered();
      } catch (err) {
        if (this.stopped) return;
        this.failing(err, retryMs);
        await this.sleep(retryMs);
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      }
    }
  }

  /** One step of the copy; true once everything is copied after the container exited. */
  private async step(): Promise<boolean> {
    if (!this.targetStarted) {
      this.record = await this.openRecord();
      await this.targetOp(() => this.startTarget());
      this.targetStarted = true;
    }
    if (!this.chainStarted) {
      const lost = await this.chain.start(this.record?.source);
      this.chainStarted = true;
      if (lost) this.noteLost(lost.offset);
      this.startWatching();
    }
    if ((await this.pump()) === 'data') {
      // a look after every buffer, not only at the end: a writer faster than the copy could
      // otherwise have Docker rotate a file away before it was ever opened
      await this.chain.discover();
      return false;
    }
    if (this.chain.currentIsComplete) {
      await this.nextFile();
      return false;
    }
    if (await this.chain.discover()) return false;
    if (this.hasExited) {
      this.state = 'done';
      return true;
    }
    this.state = 'waiting';
    await this.waitForChange();
    return false;
  }

  /** The recorded position; without a record file (its directory cannot be written) the copy goes on, only not durably. */
  private async openRecord(): Promise<LogPosition | undefined> {
    try {
      this.positionFile = await this.o.positions.open(this.o.dockerId);
    } catch (err) {
      this.o.log.warn({ err: errorText(err), dir: this.o.positions.dir }, 'cannot keep the log position on disk; a restart of dockercri may repeat lines of this container');
      return undefined;
    }
    return this.positionFile.read().catch(() => undefined);
  }

  /** Opens the CRI file and works out, from the record, where the copy stands in it. */
  private async startTarget(): Promise<void> {
    if (await removeSymlink(this.o.criPath)) this.o.log.info("cri-dockerd's symlink to Docker's log replaced by a CRI log file");
    const t = await openTarget(this.o.criPath, this.record);
    this.target = { fh: t.fh, ino: t.ino, size: t.size };
    this.resume = t.resume;
    if (t.resume.tornBytes > 0) this.o.log.warn({ tornBytes: t.resume.tornBytes }, 'a line cut short at the end of the log file was removed; it is written again');
    if (t.resume.skipLines > 0) this.o.log.info({ lines: t.resume.skipLines }, 'lines written before the restart are not written again');
    if (t.resume.unknown) this.o.log.warn({ reason: t.resume.unknown }, 'cannot tell how much was written before the restart; a few lines may repeat');
  }

  /** Copies one buffer's worth; 'end' when the current file has nothing more (for now). */
  private async pump(): Promise<'data' | 'end'> {
    if (this.pending) {
      const p = this.pending;
      await this.write(p.bytes, p.consumed, p.lastTime);
      return 'data';
    }
    if (!this.chain.current) return 'end';
    const buffers = await this.o.buffers.acquire();
    try {
      let input = buffers.input;
      let output = buffers.output;
      let n = await this.chain.read(input);
      if (n === 0) return 'end';
      let r = convertEntries(input, 0, n, output, 0, { tty: this.o.tty });
      if (r.consumed === 0) {
        if (n < input.length) return 'end'; // an entry Docker is still writing
        const long = await this.readLongEntry(input.length);
        if (!long) return 'end';
        input = long;
        n = long.length;
        output = Buffer.allocUnsafe(n + 64 * 1024);
        r = convertEntries(input, 0, n, output, 0, { tty: this.o.tty });
      }
      if (r.malformed > 0) this.o.log.warn({ lines: r.malformed }, "lines of Docker's log that are no json-file entry were left out");
      const converted = r.oversized ? Buffer.concat([output.subarray(0, r.written), r.oversized]) : output.subarray(0, r.written);
      this.state = 'copying';
      this.lastDataAt = Date.now();
      await this.write(this.withResume(converted), r.consumed, r.lastTime);
      return 'data';
    } finally {
      this.o.buffers.release(buffers);
    }
  }

  /** An entry longer than the shared buffer, read whole into a buffer of its own; undefined while it is still being written. */
  private async readLongEntry(from: number): Promise<Buffer | undefined> {
    for (let size = from * 2; ; size *= 2) {
      const buf = Buffer.allocUnsafe(Math.min(size, MAX_ENTRY_BYTES));
      const n = await this.chain.read(buf);
      const nl = buf.subarray(0, n).indexOf(0x0a);
      if (nl >= 0) return buf.subarray(0, nl + 1);
      if (n < buf.length) return undefined;
      if (buf.length >= MAX_ENTRY_BYTES) {
        // no entry of Docker's is this long: step over it to its end
        this.o.log.warn({ bytes: n }, "a line of Docker's log longer than any json-file entry was left out");
        return buf.subarray(0, n);
      }
    }
  }

  /** The notice of lost output goes first; after a restart, the lines already written are left out. */
  private withResume(converted: Buffer): Buffer {
    let bytes = converted;
    if (this.notice) {
      bytes = Buffer.concat([this.notice, bytes]);
      this.notice = undefined;
    }
    while (this.resume.skipLines > 0 && bytes.length > 0) {
      const nl = bytes.indexOf(0x0a);
      if (nl < 0) break;
      bytes = bytes.subarray(nl + 1);
      this.resume.skipLines--;
    }
    if (this.resume.afterNs !== undefined) bytes = this.newerThan(bytes, this.resume.afterNs);
    // copied out of the shared buffer only when it has to wait for another write
    return bytes;
  }

  /** Lines newer than `afterNs`; once one is, everything after it too. */
  private newerThan(bytes: Buffer, afterNs: bigint): Buffer {
    let pos = 0;
    while (pos < bytes.length) {
      const nl = bytes.indexOf(0x0a, pos);
      if (nl < 0) break;
      const line = parseCriLine(bytes.subarray(pos, nl));
      const ns = line && timestampNs(line.timestamp);
      if (ns !== undefined && ns > afterNs) {
        this.resume.afterNs = undefined;
        return bytes.subarray(pos);
      }
      pos = nl + 1;
    }
    return bytes.subarray(bytes.length);
  }

  /** Appends `bytes` to the CRI file, then records that `consumed` more bytes of Docker's file are copied. */
  private write(bytes: Buffer, consumed: number, lastTime: string | undefined): Promise<void> {
    return this.targetOp(async () => {
      let target = this.target;
      if (target && (await target.fh.stat()).nlink === 0) {
        // deleted, not renamed (kubelet renames, then calls ReopenContainerLog): write a new file at the path
        this.o.log.warn('the CRI log file was deleted; writing a new one at the same path');
        await target.fh.close().catch(() => undefined);
        this.target = target = undefined;
      }
      // its directory is not made again: a removed directory is waited for, the lines stay in Docker's files
      target ??= this.target = await this.openAt(false);
      let written = 0;
      try {
        await appendFully(target.fh, bytes, (n) => (written = n));
      } catch (err) {
        target.size += written;
        this.pending = { bytes: Buffer.from(bytes.subarray(written)), consumed, lastTime };
        throw err;
      }
      target.size += bytes.length;
      this.pending = undefined;
      if (this.chain.current) this.chain.current.offset += consumed;
      if (lastTime) this.lastTime = lastTime;
      await this.saveRecord();
    });
  }

  private async nextFile(): Promise<void> {
    const c = this.chain.current;
    if (c) {
      const size = (await c.fh.stat()).size;
      if (size > c.offset) this.o.log.warn({ bytes: size - c.offset }, "the end of a rotated Docker log file is no whole entry (Docker stopped in mid-write); left out");
    }
    await this.chain.next();
    await this.targetOp(() => this.saveRecord());
  }

  private async saveRecord(): Promise<void> {
    const source = this.chain.identity();
    if (!source || !this.target || !this.positionFile) return;
    this.record = { source, target: { ino: this.target.ino, size: this.target.size }, ...(this.lastTime ? { lastTime: this.lastTime } : {}) };
    await this.positionFile.write(this.record);
  }

  /** Docker rotated files away before this copier saw them (it fell that far behind): said in the log file, not skipped silently. */
  private noteGap(): void {
    const since = this.lastTime ? ` after ${this.lastTime}` : '';
    this.o.log.warn({ lastCopied: this.lastTime }, 'container output may be lost: Docker rotated its log files faster than they were copied');
    this.notice = Buffer.concat([this.notice ?? Buffer.alloc(0), Buffer.from(`${fixedTime(new Date().toISOString())} stderr F dockercri: output written${since} may have been lost: Docker rotated its log past it before it could be copied (the copy fell too far behind)\n`, 'utf8')]);
  }

  private noteLost(offset: number): void {
    const atLeast = this.o.maxSizeBytes !== undefined ? Math.max(0, this.o.maxSizeBytes - offset) : 0;
    this.lostBytes += atLeast;
    const since = this.record?.lastTime ? ` after ${this.record.lastTime}` : '';
    const amount = atLeast > 0 ? `at least ${atLeast} bytes of output` : 'output';
    const text = `dockercri: ${amount} written${since} was lost: Docker rotated its log past it before it could be copied (dockercri was not running, or too far behind)`;
    this.o.log.warn({ lostAtLeastBytes: atLeast, lastCopied: this.record?.lastTime }, 'container output lost: Docker rotated its log past the recorded position');
    this.notice = Buffer.from(`${fixedTime(new Date().toISOString())} stderr F ${text}\n`, 'utf8');
  }

  /** Opens the CRI path for appending; its directory is made only where `makeDirectory`. */
  private async openAt(makeDirectory = true): Promise<{ fh: FileHandle; ino: number; size: number }> {
    const fh = await openForAppend(this.o.criPath, makeDirectory);
    const st = await fh.stat();
    return { fh, ino: st.ino, size: st.size };
  }

  private targetOp<T>(op: () => Promise<T>): Promise<T> {
    const result = this.targetOps.then(op);
    this.targetOps = result.catch(() => undefined);
    return result;
  }

  private startWatching(): void {
    try {
      const base = basename(this.o.dockerLogPath);
      this.watcher = watch(dirname(this.o.dockerLogPath), { persistent: false }, (event, name) => {
        // Docker's directory for the container also holds its state files, rewritten many times at
        // every start and stop: only the log's own files wake the copier
        if (name && siblingIndex(base, name) === undefined) return;
        // a rotation: open the new file at once, before Docker can rotate it away
        if (event === 'rename' && this.chainStarted) this.chain.discover().catch(() => undefined);
        this.kick();
      });
      this.watcher.on('error', (err) => {
        this.o.log.debug({ err: err.message }, "watching Docker's log directory failed; polling instead");
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      this.o.log.debug({ err: errorText(err) }, "cannot watch Docker's log directory; polling instead");
    }
  }

  private kick(): void {
    this.dirty = true;
    this.wake?.();
  }

  private async waitForChange(): Promise<void> {
    if (!this.dirty) await this.sleep(this.watcher ? SAFETY_POLL_MS : POLL_MS);
    this.dirty = false;
    const wait = this.lastDataAt + COALESCE_MS - Date.now();
    if (wait > 0 && !this.stopped && !this.hasExited) await new Promise((r) => setTimeout(r, wait));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms);
      const self = this;
      function finish(): void {
        clearTimeout(timer);
        if (self.wake === finish) self.wake = undefined;
        resolve();
      }
      this.wake = finish;
    });
  }

  private failing(err: unknown, retryInMs: number): void {
    const text = errorText(err);
    if (text !== this.error) this.o.log.warn({ err: text, retryInMs }, 'copying the container log failed; retrying');
    this.error = text;
    this.state = 'failing';
  }

  private recovered(): void {
    if (this.error === undefined) return;
    this.o.log.info({ after: this.error }, 'copying the container log works again');
    this.error = undefined;
  }

  private async close(): Promise<void> {
    this.watcher?.close();
    this.watcher = undefined;
    await this.targetOps;
    await this.target?.fh.close().catch(() => undefined);
    this.target = undefined;
    await this.chain.close();
    await this.positionFile?.close().catch(() => undefined);
    this.positionFile = undefined;
    this.lock?.close();
    this.lock = undefined;
    this.state = 'done';
  }
}
