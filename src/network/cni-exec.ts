// Finding and running one CNI plugin binary: the only place dockercri starts a plugin process.
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { record } from '../metrics/index.js';

/** Path of the plugin `type` in the first of `binDirs` that has it as a regular file (libcni's FindInPath). */
export async function findPlugin(type: string, binDirs: readonly string[]): Promise<string | undefined> {
  if (type === '' || type.includes('/')) return undefined;
  for (const dir of binDirs) {
    const path = join(dir, type);
    try {
      if ((await stat(path)).isFile()) return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

export interface PluginRun {
  /** Exit code, or null when killed by a signal or never started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Set when the process could not be started at all. */
  spawnError?: NodeJS.ErrnoException;
  stdout: string;
  stderr: string;
}

const MAX_OUTPUT = 4 << 20;
const TEXT_BUSY_RETRIES = 5;

/**
 * Runs a plugin with `stdin`, its environment on top of ours, and kills it (SIGKILL) after
 * `timeoutMs`. Retries "text file busy" as libcni does: a plugin binary being replaced on disk.
 */
export async function runPlugin(path: string, env: Record<string, string>, stdin: string, timeoutMs: number): Promise<PluginRun> {
  for (let attempt = 0; ; attempt++) {
    const started = performance.now();
    const run = await runOnce(path, env, stdin, timeoutMs);
    const failed = run.spawnError !== undefined || run.timedOut || run.exitCode !== 0;
    record.cniPlugin(basename(path), env.CNI_COMMAND ?? '', (performance.now() - started) / 1000, failed);
    if (run.spawnError?.code !== 'ETXTBSY' || attempt >= TEXT_BUSY_RETRIES) return run;
    await sleep(1000);
  }
}

function runOnce(path: string, env: Record<string, string>, stdin: string, timeoutMs: number): Promise<PluginRun> {
  return new Promise((resolve) => {
    // its own process group, so a timeout also kills what the plugin started (iptables, ...)
    const child = spawn(path, [], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    let spawnError: NodeJS.ErrnoException | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      if (outBytes < MAX_OUTPUT) out.push(chunk);
      outBytes += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (errBytes < MAX_OUTPUT) err.push(chunk);
      errBytes += chunk.length;
    });
    // a plugin that exits without reading all of stdin closes the pipe under us: not our error
    child.stdin.on('error', () => undefined);
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = e;
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      const run: PluginRun = {
        exitCode: spawnError ? null : exitCode,
        signal,
        timedOut,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (spawnError) run.spawnError = spawnError;
      resolve(run);
    });
    child.stdin.end(stdin);
  });
}
