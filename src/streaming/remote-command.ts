// Exec and Attach behind any protocol: the client's streams on one side, Docker's hijacked stream on
// the other. The protocol adapters (spdy-server.ts, websocket-server.ts) only map their channels.
import type { Duplex, Readable, Writable } from 'node:stream';
import type { DockerClient } from '../docker/client.js';
import type { Logger } from '../log.js';
import { StdcopyDemuxer } from '../logs/stdcopy.js';
import { killTree } from '../util/process-tree.js';
import type { CommandResult, TerminalSize } from './protocol.js';

/** Terminal sizes from the client; one arriving before anybody listens is kept for the first listener. */
export class ResizeSource {
  private last: TerminalSize | undefined;
  private listener: ((size: TerminalSize) => void) | undefined;

  push(size: TerminalSize): void {
    if (this.listener) this.listener(size);
    else this.last = size;
  }

  subscribe(listener: (size: TerminalSize) => void): void {
    this.listener = listener;
    if (this.last) listener(this.last);
    this.last = undefined;
  }
}

/** The client's side of a command session. */
export interface ClientStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  resize: ResizeSource;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

/** How long after its output ends an exec may take to show as exited in Docker. */
const EXIT_WAIT_MS = 2000;

/**
 * Copies between the client and Docker's hijacked stream until Docker's output ends (the command
 * or the container finished) or the client goes away; stdin's end half-closes the Docker stream,
 * which closes the process's stdin.
 */
function pump(dockerStream: Duplex, io: ClientStreams, tty: boolean): Promise<void> {
  return new Promise((resolve) => {
    if (io.stdin) {
      io.stdin.on('data', (chunk: Buffer) => {
        if (!dockerStream.write(chunk)) {
          io.stdin!.pause();
          dockerStream.once('drain', () => io.stdin!.resume());
        }
      });
      io.stdin.on('end', () => dockerStream.end());
    }
    const demux = tty ? undefined : new StdcopyDemuxer();
    const write = (target: Writable | undefined, payload: Buffer): void => {
      if (!target || target.destroyed || target.writableEnded) return;
      if (!target.write(payload)) {
        dockerStream.pause();
        target.once('drain', () => dockerStream.resume());
      }
    };
    dockerStream.on('data', (chunk: Buffer) => {
      if (!demux) return write(io.stdout, chunk);
      try {
        for (const f of demux.push(chunk)) write(f.stream === 'stderr' ? io.stderr : io.stdout, f.payload);
      } catch {
        dockerStream.destroy();
      }
    });
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      io.signal.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = (): void => {
      dockerStream.destroy();
      finish();
    };
    io.signal.addEventListener('abort', onAbort);
    dockerStream.on('end', finish);
    dockerStream.on('close', finish);
    dockerStream.on('error', finish);
  });
}

export async function runExec(docker: DockerClient, req: { dockerId: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }, io: ClientStreams, log: Logger): Promise<CommandResult> {
  let execId: string;
  let stream: Duplex;
  try {
    ({ execId, stream } = await docker.exec(req.dockerId, { cmd: req.cmd, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr && !req.tty }));
  } catch (err) {
    return { error: (err as Error).message };
  }
  if (req.tty) io.resize.subscribe((size) => void docker.resizeExec(execId, size).catch((err: Error) => log.debug({ err: err.message }, 'resize of exec failed')));
  await pump(stream, io, req.tty);
  if (io.signal.aborted) {
    // the client went away: the command must not outlive its session
    const info = await docker.inspectExec(execId).catch(() => undefined);
    if (info?.running && info.pid > 0) await killTree(info.pid);
    return { error: 'the client closed the connection' };
  }
  const deadline = Date.now() + EXIT_WAIT_MS;
  for (;;) {
    const info = await docker.inspectExec(execId).catch(() => undefined);
    if (!info) return { error: `exec ${execId} vanished` };
    if (!info.running) return { exitCode: info.exitCode ?? -1 };
    if (Date.now() > deadline) return { error: `exec ${execId} still runs after its output ended` };
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function runAttach(docker: DockerClient, req: { dockerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }, io: ClientStreams, log: Logger): Promise<CommandResult> {
  let stream: Duplex;
  try {
    stream = await docker.attach(req.dockerId, { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr && !req.tty });
  } catch (err) {
    return { error: (err as Error).message };
  }
  if (req.tty) io.resize.subscribe((size) => void docker.resizeContainer(req.dockerId, size).catch((err: Error) => log.debug({ err: err.message }, 'resize of container failed')));
  await pump(stream, io, req.tty);
  return io.signal.aborted ? { error: 'the client closed the connection' } : { exitCode: 0 };
}
