// A private Docker Engine a test owns: its own dockerd (and the containerd that dockerd starts) on
// its own socket, data root and exec root under a short /tmp directory, so a test may stop, kill
// and restart it without touching the shared engine on /var/run/docker.sock.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Every private engine lives in a directory named like this (short: unix socket paths stop at 108 bytes). */
const DIR_PREFIX = '/tmp/dce-';
const DIR_PATTERN = /^\/tmp\/dce-[A-Za-z0-9]{6}$/;

export interface EngineOptions {
  /** More dockerd flags (e.g. `--shutdown-timeout=2`). */
  args?: string[];
  /** How long start() waits for `docker version` to answer. */
  startTimeoutMs?: number;
}

export interface StopOptions {
  /** SIGTERM (the default) shuts down cleanly; SIGKILL simulates a crash (the socket file stays). */
  signal?: 'SIGTERM' | 'SIGKILL';
  /** How long to wait for dockerd to exit before killing it. */
  timeoutMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The state letter the kernel shows for a process, or one thread of it (R, S, D, T, Z, …); undefined when it is gone. */
export function processState(pid: number, thread = pid): string | undefined {
  try {
    const stat = readFileSync(thread === pid ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** The process exists and is not a zombie. */
function alive(pid: number): boolean {
  const state = processState(pid);
  return state !== undefined && state !== 'Z';
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Live processes whose command line names `dir` (containerd and its shims started for this engine). */
function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid !== process.pid && alive(pid) && cmdline(pid).includes(`${dir}/`)) pids.push(pid);
  }
  return pids;
}

/** Mount points at or under `dir`, deepest first (mountinfo escapes blanks as octal). */
function mountsUnder(dir: string): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

async function killAndWait(pids: number[], timeoutMs: number): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < deadline) await sleep(50);
}

/** Unmounts whatever dockerd, containerd or a container left mounted under `dir`, then removes it. */
async function removeEngineDir(dir: string): Promise<void> {
  if (!DIR_PATTERN.test(dir)) throw new Error(`refusing to remove ${dir}: not a private engine directory`);
  for (const point of mountsUnder(dir)) {
    await run('umount', [point]).catch(() => run('umount', ['-l', point]));
  }
  const left = mountsUnder(dir);
  // never recurse through a mount: it could be a bind of something outside dir
  if (left.length > 0) throw new Error(`cannot remove ${dir}: still mounted: ${left.join(', ')}`);
  rmSync(dir, { recursive: true, force: true });
}

const OWNER_FILE = 'owner.pid';

/**
 * Removes private engine directories of test processes that died without cleaning up (their
 * owner pid is gone), after killing what still runs from them. Directories of live owners (tests
 * running in parallel) are left alone.
 */
async function sweepStale(): Promise<void> {
  for (const name of readdirSync('/tmp')) {
    const dir = `/tmp/${name}`;
    if (!DIR_PATTERN.test(dir)) continue;
    const owner = readPid(join(dir, OWNER_FILE));
    if (owner !== undefined && alive(owner)) continue;
    // a directory without an owner file yet may be one a parallel create() is just writing
    if (owner === undefined) continue;
    await killAndWait(processesUnder(dir), 5_000);
    await removeEngineDir(dir).catch(() => undefined);
  }
}

export class PrivateEngine {
  readonly dir: string;
  readonly socket: string;
  /** What --docker-endpoint takes: unix:///tmp/dce-XXXXXX/docker.sock */
  readonly endpoint: string;
  readonly logFile: string;
  private proc?: ChildProcess;
  private exited?: Promise<void>;
  private readonly onExit = (): void => {
    // last resort when the test process ends without cleanup(): dockerd shuts down by itself
    if (this.running) this.proc!.kill('SIGTERM');
  };

  private constructor(private readonly opts: EngineOptions) {
    this.dir = mkdtempSync(DIR_PREFIX);
    writeFileSync(join(this.dir, OWNER_FILE), `${process.pid}\n`);
    // an empty config file, so a host /etc/docker/daemon.json (hosts, registries) does not apply
    writeFileSync(join(this.dir, 'daemon.json'), '{}\n');
    this.socket = join(this.dir, 'docker.sock');
    this.endpoint = `unix://${this.socket}`;
    this.logFile = join(this.dir, 'dockerd.log');
    process.once('exit', this.onExit);
  }

  /** Makes the directories and, unless `start` is false, starts the engine. */
  static async create(opts: EngineOptions & { start?: boolean } = {}): Promise<PrivateEngine> {
    await sweepStale();
    const engine = new PrivateEngine(opts);
    if (opts.start !== false) {
      try {
        await engine.start();
      } catch (err) {
        await engine.cleanup().catch(() => undefined);
        throw err;
      }
    }
    return engine;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.proc!.pid : undefined;
  }

  /** The pid of the containerd this dockerd started, while it runs. */
  get containerdPid(): number | undefined {
    const pid = readPid(join(this.dir, 'exec/containerd/containerd.pid'));
    return pid !== undefined && alive(pid) && cmdline(pid).includes(`${this.dir}/`) ? pid : undefined;
  }

  /** The last lines dockerd logged (for failure messages). */
  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Starts dockerd on this engine's directories; resolves once `docker version` answers. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`the engine in ${this.dir} is already running`);
    const d = this.dir;
    const args = [
      `--config-file=${join(d, 'daemon.json')}`,
      `--host=${this.endpoint}`,
      `--data-root=${join(d, 'data')}`,
      `--exec-root=${join(d, 'exec')}`,
      `--pidfile=${join(d, 'docker.pid')}`,
      // dockerd runs in a network namespace of its own (below): with --bridge=none in the host's
      // namespace it would delete the shared engine's docker0
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
      '--ip-masq=false',
      '--ip-forward=false',
      '--userland-proxy=false',
      '--log-level=warn',
      ...(this.opts.args ?? []),
    ];
    const log = openSync(this.logFile, 'a');
    let proc: ChildProcess;
    try {
      proc = spawn('unshare', ['--net', 'dockerd', ...args], { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    this.proc = proc;
    this.exited = new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
    let spawnError: Error | undefined;
    proc.once('error', (err) => {
      spawnError = err;
      this.proc = undefined;
    });

    const timeoutMs = this.opts.startTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (spawnError) throw new Error(`cannot run dockerd: ${spawnError.message}`);
      if (!this.running) throw new Error(`dockerd in ${d} exited with ${proc.exitCode ?? proc.signalCode} before answering:\n${this.logTail()}`);
      try {
        await run('docker', ['-H', this.endpoint, 'version', '--format', '{{.Server.Version}}'], { timeout: 5_000 });
        return;
      } catch {
        // not answering yet
      }
      if (Date.now() > deadline) {
        await this.stop({ signal: 'SIGKILL' });
        throw new Error(`dockerd in ${d} did not answer within ${timeoutMs} ms:\n${this.logTail()}`);
      }
      await sleep(200);
    }
  }

  /**
   * Stops dockerd and waits until it and its containerd are gone. With SIGTERM dockerd stops its
   * containers, its containerd and removes its socket; SIGKILL leaves all of that behind, and this
   * kills the containerd too. The directories stay, so start() brings the same engine back.
   */
  async stop(opts: StopOptions = {}): Promise<void> {
    const containerd = this.containerdPid;
    if (this.running) {
      const proc = this.proc!;
      proc.kill(opts.signal ?? 'SIGTERM');
      const timeoutMs = opts.timeoutMs ?? 30_000;
      const timedOut = await Promise.race([this.exited!.then(() => false), sleep(timeoutMs).then(() => true)]);
      if (timedOut) {
        proc.kill('SIGKILL');
        await this.exited;
      }
    }
    // dockerd waits for its containerd on a clean shutdown; after a kill, containerd dies with its
    // parent (pdeathsig), and this makes sure of it
    if (containerd !== undefined) {
      const deadline = Date.now() + 10_000;
      while (alive(containerd) && Date.now() < deadline) await sleep(50);
      if (alive(containerd) && cmdline(containerd).includes(`${this.dir}/`)) await killAndWait([containerd], 5_000);
    }
    // a killed containerd may linger as a zombie of PID 1 (which need not reap it), and the next
    // dockerd would take the pid in its pid file for a running containerd and wait for it in vain
    const pidFile = join(this.dir, 'exec/containerd/containerd.pid');
    const stale = readPid(pidFile);
    if (stale !== undefined && !alive(stale)) rmSync(pidFile, { force: true });
  }

  /** Runs the docker CLI against this engine; resolves to its stdout. */
  async docker(...args: string[]): Promise<string> {
    return (await run('docker', ['-H', this.endpoint, ...args], { maxBuffer: 64 << 20 })).stdout;
  }

  /** Copies images from the shared engine into this one (`docker save | docker load`). */
  async loadImages(...refs: string[]): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const save = spawn('docker', ['save', ...refs], { stdio: ['ignore', 'pipe', 'pipe'] });
      const load = spawn('docker', ['-H', this.endpoint, 'load', '--quiet'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      save.stderr!.on('data', (d: Buffer) => (stderr += d));
      load.stderr!.on('data', (d: Buffer) => (stderr += d));
      save.stdout!.pipe(load.stdin!);
      let pending = 2;
      const done = (code: number | null): void => {
        if (code !== 0) reject(new Error(`cannot copy ${refs.join(' ')} into ${this.dir}: ${stderr.trim()}`));
        else if (--pending === 0) resolve();
      };
      save.once('exit', done);
      load.once('exit', done);
      save.once('error', reject);
      load.once('error', reject);
    });
  }

  /**
   * Stops the engine (if it runs), kills whatever still runs from its directories (container
   * shims), unmounts what was left mounted there and removes the directory.
   */
  async cleanup(): Promise<void> {
    try {
      await this.stop();
      await killAndWait(processesUnder(this.dir), 5_000);
      if (existsSync(this.dir)) await removeEngineDir(this.dir);
    } finally {
      process.off('exit', this.onExit);
    }
  }
}
