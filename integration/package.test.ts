// The npm tarball as an operator installs it: `npm pack`, `npm install -g` into a prefix, and the
// `dockercri` command it yields, served through the packaged systemd socket unit's settings.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepts, connectCri, ROOT } from './harness.js';

const run = promisify(execFile);

/** The value of `key` in a systemd unit file (the first occurrence). */
function unitValue(unit: string, key: string): string {
  const line = unit.split('\n').find((l) => l.startsWith(`${key}=`));
  if (line === undefined) throw new Error(`no ${key}= in the unit`);
  return line.slice(key.length + 1);
}

describe('the npm package', () => {
  let dir: string;
  let tarball: string;
  let bin: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dcri-pkg-'));
    // dist/ is built by `npm test` before the suite; packing must not rebuild it under other tests
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT });
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    tarball = join(dir, info!.filename);
    await run('npm', ['install', '--global', '--prefix', join(dir, 'prefix'), '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: dir, timeout: 240_000 });
    bin = join(dir, 'prefix', 'bin', 'dockercri');
  }, 300_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds the compiled code, the unit files and no tests or sources', async () => {
    const listed = JSON.parse((await run('npm', ['pack', '--ignore-scripts', '--dry-run', '--json'], { cwd: ROOT })).stdout) as { files: { path: string }[] }[];
    const files = listed[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/dockercri.js');
    expect(files).toContain('dist/dockercri.js.map');
    // the bundle is the whole program: none of tsc's per-module output is shipped beside it
    expect(files.filter((f) => f.startsWith('dist/src/'))).toEqual([]);
    expect(files).toContain('packaging/systemd/dockercri.service');
    expect(files).toContain('packaging/systemd/dockercri.socket');
    expect(files.filter((f) => f.endsWith('.test.js') || f.endsWith('.ts') || f.startsWith('integration/') || f.startsWith('dist/integration/') || f.startsWith('bench/') || f.startsWith('dist/bench/'))).toEqual([]);
  });

  it('installs a dockercri command that prints its version', async () => {
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    const { stdout } = await run(bin, ['--version']);
    expect(stdout.trim()).toBe(`dockercri ${version}`);
    expect((await run(bin, ['--help'])).stdout).toContain('--container-runtime-endpoint');
  });

  it('serves the CRI from the installed command under the packaged socket unit', async () => {
    const socketUnit = readFileSync(join(ROOT, 'packaging/systemd/dockercri.socket'), 'utf8');
    const serviceUnit = readFileSync(join(ROOT, 'packaging/systemd/dockercri.service'), 'utf8');
    expect(unitValue(socketUnit, 'ListenStream')).toBe('%t/cri-dockerd.sock');
    // the unit's command line, with the installed binary and this test's own directories
    const [, ...unitArgs] = unitValue(serviceUnit, 'ExecStart').split(/\s+/);
    expect(unitArgs).toEqual(['--container-runtime-endpoint', 'fd://']);
    const socket = join(dir, 'cri-dockerd.sock');
    const proc = spawn('systemd-socket-activate', ['--listen', socket, `--fdname=${unitValue(socketUnit, 'FileDescriptorName')}`, bin, ...unitArgs, '--network-plugin=', `--cri-dockerd-root-directory=${join(dir, 'root')}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    try {
      for (let i = 0; ; i++) {
        if (await accepts(socket)) break;
        if (i > 300) throw new Error(`the socket never appeared\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const cri = connectCri(socket);
      try {
        expect((await cri.runtime.Version({})).runtimeName).toBe('docker');
        expect((await cri.runtime.Status({})).status?.conditions?.find((c) => c.type === 'RuntimeReady')?.status).toBe(true);
      } finally {
        cri.close();
      }
    } finally {
      proc.kill('SIGTERM');
      await new Promise((resolve) => proc.once('exit', resolve));
    }
  });
});
