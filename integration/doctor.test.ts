// `dockercri doctor` run as a process on this machine: healthy with the real Docker Engine and CNI
// plugins, then against staged faults (Docker socket absent, broken conflist, missing plugin,
// cgroup driver mismatch, socket held by another listener, stale socket) and with dockercri itself
// serving the socket. Each case uses its own temporary directory.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile, mkdir, statfs } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN, startDockercri, testEnv } from './harness.js';
import { docker } from './pods.js';

interface Report {
  code: number;
  stdout: string;
  stderr: string;
  /** status and detail of each check line, by check name */
  lines: Map<string, { status: string; text: string }>;
}

function doctor(args: string[]): Promise<Report> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, 'doctor', ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: number }).code ?? -1) : 0;
      const lines = new Map<string, { status: string; text: string }>();
      for (const line of stdout.split('\n')) {
        const m = /^(ok|warn|fail)\s+(\S+)\s+(.*)$/.exec(line);
        if (m) lines.set(m[2] as string, { status: m[1] as string, text: m[3] as string });
      }
      resolve({ code, stdout, stderr, lines });
    });
  });
}

const BRIDGE_CONFLIST = {
  cniVersion: '0.4.0',
  name: 'doctor-test',
  plugins: [
    { type: 'bridge', bridge: 'dcri-doc0', isGateway: true, ipMasq: false, ipam: { type: 'host-local', subnet: '10.251.0.0/24' } },
    { type: 'portmap', capabilities: { portMappings: true } },
  ],
};

let tmp: string;
let dockerDriver: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'dcri-doctor-'));
  dockerDriver = (await docker('info', '--format', '{{.CgroupDriver}}')).trim();
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A case directory with a CNI conf dir holding `files`, and the flags that point the doctor at it. */
async function stage(name: string, files: Record<string, string>): Promise<{ dir: string; flags: string[] }> {
  const dir = join(tmp, name);
  await mkdir(join(dir, 'net.d'), { recursive: true });
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, 'net.d', file), text);
  return {
    dir,
    flags: [
      `--cni-conf-dir=${join(dir, 'net.d')}`,
      '--cni-bin-dir=/usr/lib/cni',
      `--container-runtime-endpoint=unix://${join(dir, 'cri.sock')}`,
      `--kubelet-config=${join(dir, 'kubelet.yaml')}`,
      `--pod-infra-container-image=${testEnv().pauseImage}`,
    ],
  };
}

const healthy = (name: string): Promise<{ dir: string; flags: string[] }> => stage(name, { '10-bridge.conflist': JSON.stringify(BRIDGE_CONFLIST) });

describe('dockercri doctor on this machine', () => {
  it('finds nothing failing with the real Docker Engine and a valid bridge conflist, and exits 0', async () => {
    const { dir, flags } = await healthy('healthy');
    const r = await doctor(flags);
    expect(r.stdout).not.toMatch(/^fail/m);
    expect(r.code).toBe(0);
    expect([...r.lines.keys()]).toEqual(['docker', 'cgroup-driver', 'pause-image', 'cni-config', 'cni-plugins', 'socket', 'capabilities', 'cgroups', 'disk']);
    const version = (await docker('version', '--format', '{{.Server.Version}} {{.Server.APIVersion}}')).trim().split(' ');
    expect(r.lines.get('docker')).toEqual({ status: 'ok', text: `Docker Engine ${version[0]} answers on unix:///var/run/docker.sock (API ${version[1]})` });
    expect(r.lines.get('pause-image')).toEqual({ status: 'ok', text: `${testEnv().pauseImage} is present` });
    expect(r.lines.get('cni-config')).toEqual({ status: 'ok', text: `${join(dir, 'net.d', '10-bridge.conflist')}: network "doctor-test" (bridge, portmap)` });
    expect(r.lines.get('cni-plugins')).toEqual({ status: 'ok', text: 'bridge, portmap, loopback found in /usr/lib/cni' });
    expect(r.lines.get('socket')).toEqual({ status: 'ok', text: `${join(dir, 'cri.sock')} is free` });
    const v2 = (await statfs('/sys/fs/cgroup')).type === 0x63677270;
    expect(r.lines.get('cgroups')?.status).toBe(v2 ? 'ok' : 'warn');
    expect(r.lines.get('disk')?.text).toMatch(/^[\d.]+ GiB free of [\d.]+ GiB \(\d+%\) in \//);
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(/^9 checks: \d ok, \d warn, 0 fail — this node is ready for dockercri$/);
  });

  it('says CNI is not used with --network-plugin=', async () => {
    const r = await doctor(['--network-plugin=', `--kubelet-config=${join(tmp, 'none.yaml')}`, `--container-runtime-endpoint=unix://${join(tmp, 'none.sock')}`]);
    expect(r.lines.get('cni-config')).toMatchObject({ status: 'ok', text: expect.stringContaining('not used') });
    expect(r.lines.get('cni-plugins')?.status).toBe('ok');
  });

  it('takes fd:// (a systemd unit\'s flags pasted as they are) as a socket systemd holds', async () => {
    const r = await doctor(['--network-plugin=', `--kubelet-config=${join(tmp, 'none.yaml')}`, '--container-runtime-endpoint', 'fd://']);
    expect(r.lines.get('socket')).toMatchObject({ status: 'ok', text: expect.stringContaining('comes from systemd') });
  });

  it('prints its help and exits 0; a bad flag exits 2', async () => {
    const help = await doctor(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--kubelet-config string');
    const bad = await doctor(['--no-such-flag']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown flag: --no-such-flag');
    expect(bad.stdout).toBe('');
  });
});

describe('dockercri doctor against staged faults', () => {
  it('Docker socket absent: the docker line fails and the status is non-zero', async () => {
    const { flags } = await healthy('no-docker');
    const r = await doctor([...flags, '--docker-endpoint=unix:///nonexistent.sock']);
    expect(r.code).toBe(1);
    expect(r.lines.get('docker')?.status).toBe('fail');
    expect(r.lines.get('docker')?.text).toContain('no answer from unix:///nonexistent.sock');
    expect(r.lines.get('docker')?.text).toContain('fix: start Docker Engine');
    // what needs Docker is reported as not checked rather than passed
    expect(r.lines.get('pause-image')).toMatchObject({ status: 'warn', text: expect.stringContaining('not checked') });
  });

  it('a broken conflist: cni-config fails naming the file', async () => {
    const { dir, flags } = await stage('broken', { '10-broken.conflist': '{"cniVersion": "0.4.0", "name": ' });
    const r = await doctor(flags);
    expect(r.code).toBe(1);
    expect(r.lines.get('cni-config')?.status).toBe('fail');
    expect(r.lines.get('cni-config')?.text).toContain(`${join(dir, 'net.d', '10-broken.conflist')}: not JSON`);
  });

  it('a broken conflist sorted before a valid one is a warning naming it', async () => {
    const { flags } = await stage('broken-first', { '05-broken.conflist': '{', '10-bridge.conflist': JSON.stringify(BRIDGE_CONFLIST) });
    const r = await doctor(flags);
    expect(r.lines.get('cni-config')).toMatchObject({ status: 'warn', text: expect.stringContaining('skipped before it:') });
    expect(r.lines.get('cni-config')?.text).toContain('05-broken.conflist: not JSON');
  });

  it('a plugin type absent from the bin dir: cni-plugins fails naming it', async () => {
    const list = { ...BRIDGE_CONFLIST, plugins: [...BRIDGE_CONFLIST.plugins, { type: 'dcri-no-such-plugin' }] };
    const { flags } = await stage('missing-plugin', { '10-bridge.conflist': JSON.stringify(list) });
    const r = await doctor(flags);
    expect(r.code).toBe(1);
    expect(r.lines.get('cni-plugins')?.status).toBe('fail');
    expect(r.lines.get('cni-plugins')?.text).toContain('plugin dcri-no-such-plugin not found in /usr/lib/cni');
  });

  it("kubelet's cgroupDriver differs from Docker's: cgroup-driver fails with the fix", async () => {
    const { dir, flags } = await healthy('driver');
    const other = dockerDriver === 'systemd' ? 'cgroupfs' : 'systemd';
    await writeFile(join(dir, 'kubelet.yaml'), `apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: ${other}\n`);
    const r = await doctor(flags);
    expect(r.code).toBe(1);
    const line = r.lines.get('cgroup-driver');
    expect(line?.status).toBe('fail');
    expect(line?.text).toContain(`Docker uses ${dockerDriver} but kubelet is set to ${other}`);
    expect(line?.text).toContain(`fix: set cgroupDriver: ${dockerDriver} in ${join(dir, 'kubelet.yaml')}`);

    await writeFile(join(dir, 'kubelet.yaml'), `kind: KubeletConfiguration\ncgroupDriver: ${dockerDriver}\n`);
    expect((await doctor(flags)).lines.get('cgroup-driver')?.status).toBe('ok');
  });

  it('the socket path held by a live listener that is no CRI runtime: socket fails naming the process', async () => {
    const { dir, flags } = await healthy('held');
    const path = join(dir, 'cri.sock');
    const server: Server = createServer((c) => c.destroy());
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const r = await doctor(flags);
      expect(r.code).toBe(1);
      const line = r.lines.get('socket');
      expect(line?.status).toBe('fail');
      expect(line?.text).toContain(`a process listens on ${path} (pid ${process.pid}:`);
      expect(line?.text).toContain('does not answer CRI Version');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a stale socket left by a killed process is a warning: dockercri will replace it', async () => {
    const { dir, flags } = await healthy('stale');
    const path = join(dir, 'cri.sock');
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)})`], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    for (let i = 0; i < 200 && !(await stat(path).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 25));
    child.kill('SIGKILL');
    await exited;
    const r = await doctor(flags);
    expect(r.lines.get('socket')).toMatchObject({ status: 'warn', text: expect.stringContaining('a socket nobody listens on') });
    expect(r.code).toBe(0);
  });

  it('the socket served by a running dockercri is ok', async () => {
    const cri = await startDockercri();
    try {
      const { flags } = await healthy('ours');
      const r = await doctor([...flags, `--container-runtime-endpoint=unix://${cri.socket}`]);
      const line = r.lines.get('socket');
      expect(line?.status).toBe('ok');
      expect(line?.text).toContain(`dockercri already serves ${cri.socket} (pid ${cri.proc.pid}:`);
    } finally {
      await cri.stop();
    }
  });
});
