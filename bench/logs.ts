// Container log copy: a flat-out writer of `mb` MB (numbered 100-byte lines) in a pod through
// dockercri, against Docker writing the same output to its json-file alone (the same container
// run with plain `docker run`, nobody copying). Reports how fast the CRI log fills, how long after
// the exit its last line is there, and dockercri's CPU seconds per MB copied.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startDockercri, uniq } from '../integration/harness.js';
import { NS, removeRunContainers, runPodWithContainer } from '../integration/pods.js';
import { cpuSeconds, dockercriNodeArgs } from './proc.js';

const run = promisify(execFile);
const IMAGE = 'dockercri-test/busybox:latest';
const LINE = 100;

const writer = (lines: number): string => `awk 'BEGIN { p = sprintf("%89s", ""); gsub(/ /, "x", p); for (i = 0; i < ${lines}; i++) printf "%09d %s\\n", i, p }'`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Milliseconds from Docker's start of the container to its exit, as Docker recorded them. */
async function dockerRunMs(dockerId: string, host: string[] = []): Promise<number> {
  const { stdout } = await run('docker', [...host, 'inspect', '--format', '{{.State.StartedAt}} {{.State.FinishedAt}}', dockerId]);
  const [started, finished] = stdout.trim().split(' ').map((t) => Date.parse(t.replace(/(\.\d{3})\d*/, '$1')));
  return finished! - started!;
}

/** The last 4 KiB of a file. */
async function tail(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.alloc(Math.min(4096, size));
    await fh.read(buf, 0, buf.length, size - buf.length);
    return buf.toString('latin1');
  } finally {
    await fh.close();
  }
}

export async function logCopy(mb = 100): Promise<string> {
  const lines = Math.round((mb * 1e6) / LINE);
  const runId = uniq('bench-logs');
  // Docker alone: the same output into json-file
  const name = `${runId}-raw`;
  await run('docker', ['run', '-d', '--name', name, '--network', 'none', '--log-driver', 'json-file', '--log-opt', 'max-size=10m', '--log-opt', 'max-file=3', IMAGE, 'sh', '-c', writer(lines)]);
  await run('docker', ['wait', name]);
  const rawMs = await dockerRunMs(name);
  await run('docker', ['rm', '-f', name]);

  const dir = mkdtempSync(join(tmpdir(), 'dockercri-bench-logs-'));
  const cri = await startDockercri({ args: [`--cri-dockerd-root-directory=${join(dir, 'root')}`], nodeArgs: dockercriNodeArgs() });
  try {
    const cpu0 = cpuSeconds(cri.proc.pid!);
    const pod = await runPodWithContainer(cri.runtime, { run: runId, logRoot: join(dir, 'pods'), command: ['sh', '-c', writer(lines)], network: NS.NODE });
    // the exit as Docker reports it, then the CRI log until its last line is there
    for (;;) {
      const { stdout } = await run('docker', ['inspect', '--format', '{{.State.Status}}', pod.containerId]);
      if (stdout.trim() === 'exited') break;
      await sleep(5);
    }
    const exitSeenAt = performance.now();
    const last = `${String(lines - 1).padStart(9, '0')} `;
    for (;;) {
      if ((await tail(pod.logFile)).includes(last)) break;
      await sleep(5);
    }
    const tailMs = performance.now() - exitSeenAt;
    const cpu = cpuSeconds(cri.proc.pid!) - cpu0;
    const criMs = await dockerRunMs(pod.containerId);
    const criBytes = statSync(pod.logFile).size;
    await removeRunContainers(runId);
    const rows = [
      `### Container log copy: a flat-out writer of ${mb} MB (${lines} lines of ${LINE} bytes)`,
      '',
      '| | Docker alone (json-file) | through dockercri (json-file → CRI log) | ratio |',
      '| --- | ---: | ---: | ---: |',
      `| writer's run time | ${rawMs} ms | ${criMs} ms | ${(criMs / rawMs).toFixed(2)}× |`,
      `| write rate | ${((lines * LINE) / 1e6 / (rawMs / 1000)).toFixed(1)} MB/s | ${((lines * LINE) / 1e6 / (criMs / 1000)).toFixed(1)} MB/s | |`,
      `| last line in the CRI log after Docker reports the exit | | ${tailMs.toFixed(0)} ms | |`,
      `| dockercri CPU per MB of output | | ${((cpu / (lines * LINE)) * 1e6).toFixed(4)} s | |`,
      `| CRI log size | | ${(criBytes / 1e6).toFixed(1)} MB | |`,
      '',
    ];
    return rows.join('\n');
  } finally {
    await cri.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
