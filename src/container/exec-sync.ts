import { Code, CriError } from '../errors.js';
import type { DockerClient } from '../docker/client.js';
import { StdcopyDemuxer } from '../logs/stdcopy.js';
import { killTree } from '../util/process-tree.js';

/** What ExecSync keeps of each of stdout and stderr: kubelet reads at most this much. */
export const MAX_EXEC_SYNC_OUTPUT = 16 * 1024 * 1024;

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

/** A byte sink that keeps the first `limit` bytes and drops the rest. */
class Capped {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}
  push(b: Buffer): void {
    if (this.size >= this.limit) return;
    const part = b.length > this.limit - this.size ? b.subarray(0, this.limit - this.size) : b;
    this.chunks.push(part);
    this.size += part.length;
  }
  get value(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

/**
 * Runs `cmd` in a running container and waits for it; with `timeoutMs` > 0 a command still
 * running then is killed with everything it started, and the call fails with DEADLINE_EXCEEDED.
 */
export async function execSync(docker: DockerClient, dockerId: string, cmd: string[], timeoutMs: number): Promise<ExecSyncResult> {
  const { execId, stream } = await docker.exec(dockerId, { cmd, tty: false, stdin: false, stdout: true, stderr: true });
  const stdout = new Capped(MAX_EXEC_SYNC_OUTPUT);
  const stderr = new Capped(MAX_EXEC_SYNC_OUTPUT);
  const demux = new StdcopyDemuxer();
  let timedOut = false;
  await new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        timedOut = true;
        void docker
          .inspectExec(execId)
          .then((info) => (info.running && info.pid > 0 ? killTree(info.pid) : undefined))
          .catch(() => undefined)
          .finally(() => {
            stream.destroy();
            resolve();
          });
      }, timeoutMs);
    }
    stream.on('data', (chunk: Buffer) => {
      try {
        for (const frame of demux.push(chunk)) (frame.stream === 'stderr' ? stderr : stdout).push(frame.payload);
      } catch (err) {
        clearTimeout(timer);
        stream.destroy();
        reject(new CriError(Code.INTERNAL, `exec in container ${dockerId}: unreadable output stream (${(err as Error).message})`));
      }
    });
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', (err) => {
      clearTimeout(timer);
      if (timedOut) resolve();
      else reject(new CriError(Code.UNAVAILABLE, `exec in container ${dockerId}: the output stream broke (${err.message})`));
    });
  });
  if (timedOut) throw new CriError(Code.DEADLINE_EXCEEDED, `command ${JSON.stringify(cmd).slice(0, 200)} in container ${dockerId} timed out after ${timeoutMs / 1000}s and was killed`);
  // the stream can end a moment before Docker records the exit code
  let info = await docker.inspectExec(execId);
  for (let i = 0; info.running && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 10));
    info = await docker.inspectExec(execId);
  }
  return { stdout: stdout.value, stderr: stderr.value, exitCode: info.exitCode ?? -1 };
}
