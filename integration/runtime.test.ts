import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../src/errors.js';
import { grpcError, MAIN, MAIN_NODE_ENV, MAIN_NODE_FLAGS, ROOT, startDockercri, type Dockercri, type GrpcError } from './harness.js';

const engineVersion = execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8' }).trim();
const cgroupDriver = execFileSync('docker', ['info', '--format', '{{.CgroupDriver}}'], { encoding: 'utf8' }).trim();

describe('runtime basics on Docker bridge networking', () => {
  let cri: Dockercri;
  beforeAll(async () => {
    cri = await startDockercri();
  });
  afterAll(async () => {
    await cri.stop();
  });

  it('Version names docker, the Engine version and CRI v1', async () => {
    const v = await cri.runtime.Version({ version: 'v1' });
    expect(v.runtimeName).toBe('docker');
    expect(v.runtimeVersion).toBe(engineVersion);
    expect(v.runtimeApiVersion).toBe('v1');
    expect(v.version).toBe('0.1.0');
  });

  it('Status reports RuntimeReady and NetworkReady true, with verbose info on request', async () => {
    const s = await cri.runtime.Status({ verbose: true });
    const cond = Object.fromEntries((s.status?.conditions ?? []).map((c) => [c.type, c]));
    expect(cond.RuntimeReady?.status).toBe(true);
    expect(cond.NetworkReady?.status).toBe(true);
    const config = JSON.parse(s.info?.config ?? '{}');
    expect(config.networkPlugin).toBe('');
    expect(JSON.parse(s.info?.engine ?? '{}').version).toBe(engineVersion);
    expect((s.runtimeHandlers ?? []).map((h) => h.name)).toContain('runc');
    const quiet = await cri.runtime.Status({});
    expect(quiet.info ?? {}).toEqual({});
  });

  it('RuntimeConfig reports the cgroup driver Docker uses', async () => {
    const c = await cri.runtime.RuntimeConfig({});
    // CgroupDriver enum: SYSTEMD = 0, CGROUPFS = 1
    expect(c.linux?.cgroupDriver ?? 0).toBe(cgroupDriver === 'systemd' ? 0 : 1);
  });

  it('UpdateRuntimeConfig keeps the pod CIDR and rejects a malformed one', async () => {
    await cri.runtime.UpdateRuntimeConfig({ runtimeConfig: { networkConfig: { podCidr: '10.244.3.0/24' } } });
    const s = await cri.runtime.Status({ verbose: true });
    expect(JSON.parse(s.info?.config ?? '{}').podCidr).toBe('10.244.3.0/24');
    const err = await grpcError(cri.runtime.UpdateRuntimeConfig({ runtimeConfig: { networkConfig: { podCidr: 'not-a-cidr' } } }));
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    // an empty update leaves the CIDR as it was
    await cri.runtime.UpdateRuntimeConfig({});
    expect(JSON.parse((await cri.runtime.Status({ verbose: true })).info?.config ?? '{}').podCidr).toBe('10.244.3.0/24');
  });

  it('logs every call as JSON with rpc, code and duration', async () => {
    await cri.runtime.Version({});
    const lines = cri.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const call = lines.find((l) => l.rpc === 'Version' && l.code === 'OK');
    expect(call).toBeDefined();
    expect(typeof call.durationMs).toBe('number');
  });
});

describe('network readiness with the default cni plugin', () => {
  it('is false with a reason while no valid config exists, and true once one is written', async () => {
    const confDir = mkdtempSync(join(tmpdir(), 'dockercri-cni-'));
    writeFileSync(join(confDir, '05-broken.conflist'), '{ not json');
    const cri = await startDockercri({ args: ['--network-plugin=cni', `--cni-conf-dir=${confDir}`] });
    try {
      let s = await cri.runtime.Status({});
      let net = s.status?.conditions?.find((c) => c.type === 'NetworkReady');
      expect(net?.status ?? false).toBe(false);
      expect(net?.reason).toBe('NetworkPluginNotReady');
      expect(net?.message).toContain('05-broken.conflist');
      writeFileSync(join(confDir, '10-test.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'test', plugins: [{ type: 'bridge' }] }));
      s = await cri.runtime.Status({});
      net = s.status?.conditions?.find((c) => c.type === 'NetworkReady');
      expect(net?.status).toBe(true);
    } finally {
      await cri.stop();
    }
  });
});

describe('the server process', () => {
  it('refuses to start on a socket another process serves, and replaces a stale one', async () => {
    const first = await startDockercri();
    try {
      const second = await startDockercri({ socket: first.socket }).then(
        (c) => c,
        (err: Error) => err,
      );
      expect(second).toBeInstanceOf(Error);
      expect((second as Error).message).toContain('another process is serving');
      // the first one still answers
      expect((await first.runtime.Version({})).runtimeName).toBe('docker');
    } finally {
      await first.stop('SIGKILL');
    }
  });

  it('serves on a socket a killed process left behind, with mode 0660', async () => {
    const first = await startDockercri();
    const socket = first.socket;
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    const second = await startDockercri({ socket });
    try {
      expect((await second.runtime.Version({})).runtimeName).toBe('docker');
      const mode = execFileSync('stat', ['-c', '%a', socket], { encoding: 'utf8' }).trim();
      expect(mode).toBe('660');
    } finally {
      await second.stop();
    }
  });

  it('drains an in-flight call on SIGTERM and exits 0', async () => {
    // a registry that accepts connections and never answers keeps a pull in flight until the
    // progress deadline, long enough to send SIGTERM in the middle of it
    const stall = createServer(() => undefined);
    const reached = new Promise((r) => stall.once('connection', r));
    await new Promise<void>((r) => stall.listen(0, '127.0.0.1', r));
    const port = (stall.address() as AddressInfo).port;
    const cri = await startDockercri({ args: ['--image-pull-progress-deadline=2s'] });
    try {
      const exited = new Promise<number | null>((r) => cri.proc.once('exit', (code) => r(code)));
      const pull = cri.images.PullImage({ image: { image: `127.0.0.1:${port}/stall/img:1` } }).then(
        () => undefined,
        (e: GrpcError) => e,
      );
      // Docker has connected to the registry: the pull is in flight
      await reached;
      cri.proc.kill('SIGTERM');
      const err = await pull;
      // the call ran to its own end (the pull deadline), it was not cut off by the shutdown
      expect(err?.code).toBe(Code.DEADLINE_EXCEEDED);
      expect(await exited).toBe(0);
      expect(cri.log()).toContain('shutting down');
    } finally {
      await cri.stop();
      stall.close();
    }
  });

  it('serves from its one file alone, with no node_modules to load from', async () => {
    // a copy of the bundle in a directory with no node_modules above it (tsc's dist/src/main.js,
    // copied the same way, fails at its first import)
    const alone = mkdtempSync(join(tmpdir(), 'dockercri-test-alone-'));
    try {
      const main = join(alone, 'dockercri.js');
      copyFileSync(MAIN, main);
      const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
      expect(execFileSync(process.execPath, [main, '--version'], { encoding: 'utf8' }).trim()).toBe(`dockercri ${version}`);
      const cri = await startDockercri({ main, env: { NODE_PATH: '' } });
      try {
        expect((await cri.runtime.Version({})).runtimeName).toBe('docker');
        expect(Array.isArray((await cri.runtime.ListContainers({})).containers)).toBe(true);
        expect((await cri.images.ListImages({})).images).not.toHaveLength(0);
      } finally {
        expect(await cri.stop()).toBe(0);
      }
    } finally {
      rmSync(alone, { recursive: true, force: true });
    }
  });

  it('logs in pretty lines, not JSON, when stderr is a terminal; JSON lines again where pino-pretty is not at hand', async () => {
    const plain = (await servingOnTerminal(MAIN)).replace(/\x1b\[[0-9;]*m/g, '');
    expect(plain).toMatch(/\bINFO\b.*serving the CRI/);
    expect(plain).not.toContain('"msg":');
    const alone = mkdtempSync(join(tmpdir(), 'dockercri-test-alone-'));
    try {
      copyFileSync(MAIN, join(alone, 'dockercri.js'));
      expect(await servingOnTerminal(join(alone, 'dockercri.js'))).toContain('"msg":"serving the CRI"');
    } finally {
      rmSync(alone, { recursive: true, force: true });
    }
  });

  it('exits 2 with a one-line reason on a bad flag', () => {
    for (const args of [['--no-such-flag'], ['--network-plugin=kubenet'], ['--runtime-request-timeout=soon'], ['--pod-cidr=10.0.0.0/99']]) {
      let status = 0;
      let stderr = '';
      try {
        execFileSync(process.execPath, ['dist/dockercri.js', ...args], { encoding: 'utf8', stdio: 'pipe' });
      } catch (err) {
        status = (err as { status: number }).status;
        stderr = (err as { stderr: string }).stderr;
      }
      expect(status).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(/^dockercri: /);
    }
  });

  it('prints help with every cri-dockerd flag and its version', () => {
    const help = execFileSync(process.execPath, ['dist/dockercri.js', '--help'], { encoding: 'utf8' });
    for (const flag of ['container-runtime-endpoint', 'docker-endpoint', 'pod-infra-container-image', 'cri-dockerd-root-directory', 'network-plugin', 'cni-bin-dir', 'cni-conf-dir', 'cni-cache-dir', 'network-plugin-mtu', 'pod-cidr', 'ipv6-dual-stack', 'runtime-cgroups', 'runtime-request-timeout', 'image-pull-progress-deadline', 'streaming-bind-addr', 'log-level', 'version']) {
      expect(help).toContain(`--${flag}`);
    }
    expect(execFileSync(process.execPath, ['dist/dockercri.js', '--version'], { encoding: 'utf8' })).toMatch(/^dockercri \d+\.\d+\.\d+/);
  });
});

/**
 * What a terminal shows when `main` runs on one (script(1) gives it a pseudo-terminal) until it
 * logs that it serves, or for 15 s; the process is ended before this resolves.
 */
async function servingOnTerminal(main: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'dockercri-test-tty-'));
  try {
    const env = Object.entries(MAIN_NODE_ENV).map(([k, v]) => `${k}=${v}`);
    const command = ['exec', 'env', ...env, process.execPath, ...MAIN_NODE_FLAGS, main, `--container-runtime-endpoint=unix://${join(dir, 'cri.sock')}`, `--cri-dockerd-root-directory=${join(dir, 'root')}`, '--network-plugin=']
      .map((word) => `'${word.replaceAll("'", `'\\''`)}'`)
      .join(' ');
    const tty = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    tty.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise((r) => tty.once('exit', r));
    const deadline = Date.now() + 15_000;
    while (!out.includes('serving the CRI') && Date.now() < deadline && tty.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    if (tty.exitCode === null) {
      // the node process is script's child, in the terminal's session: end it, then script ends
      spawnSync('pkill', ['-TERM', '-P', String(tty.pid)]);
      const timer = setTimeout(() => tty.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
