// One forwarded connection: socat in the pod's network namespace (entered through the pause
// container's PID) connects to 127.0.0.1:<port> there, and the client's stream is its stdio.
import { spawn } from 'node:child_process';
import type { Duplex } from 'node:stream';

const MAX_STDERR = 4096;

/**
 * Carries `stream` to and from the port inside the namespace of `pid` until both directions end.
 * Rejects with socat's complaint when the connection fails (nobody listens, say).
 */
export function forwardPort(pid: number, port: number, stream: Duplex, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    // -T: socat gives up a half-closed direction after 600s idle, never earlier
    const child = spawn('nsenter', ['-t', String(pid), '-n', 'socat', '-T', '600', '-', `TCP4:127.0.0.1:${port}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < MAX_STDERR) stderr += d;
    });
    stream.pipe(child.stdin);
    child.stdin.on('error', () => undefined);
    child.stdout.pipe(stream);
    const onAbort = (): void => {
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    // the client stream closing before the end (reset, lost connection) ends the child
    stream.on('close', () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    child.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new Error(`cannot run nsenter/socat: ${err.message}`));
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (code === 0) return resolve();
      const detail = stderr.trim().split('\n').pop()?.replace(/^\S+ \S+ socat\[\d+\] E /, '') ?? '';
      reject(new Error(detail || `socat ended with ${code ?? sig}`));
    });
  });
}
