import { describe, expect, it } from 'vitest';
import {
  capabilitiesCheck,
  cgroupDriverCheck,
  cgroupVersionCheck,
  cniConfigCheck,
  cniPluginsCheck,
  diskCheck,
  dockerCheck,
  parseKubeletConfig,
  pauseImageCheck,
  socketCheck,
  type DockerFacts,
  type PluginLookup,
} from './checks.js';

const GiB = 1024 ** 3;
const up: DockerFacts = { ok: true, version: '20.10.24', apiVersion: '1.41', cgroupDriver: 'cgroupfs', dockerRootDir: '/var/lib/docker' };
const down: DockerFacts = { ok: false, error: 'connect ENOENT /nonexistent.sock' };

describe('parseKubeletConfig', () => {
  it.each([
    ['cgroupDriver: systemd\n', { cgroupDriver: 'systemd' }],
    ['kind: KubeletConfiguration\ncgroupDriver: "cgroupfs"  # set by hand\n', { cgroupDriver: 'cgroupfs' }],
    ["cgroupDriver: 'systemd'\r\nfailCgroupV1: false\r\n", { cgroupDriver: 'systemd', failCgroupV1: false }],
    ['failCgroupV1: True\n', { failCgroupV1: true }],
    ['{"kind":"KubeletConfiguration","cgroupDriver":"systemd","failCgroupV1":false}', { cgroupDriver: 'systemd', failCgroupV1: false }],
    ['kind: KubeletConfiguration\n', {}],
    ['', {}],
  ])('%j', (text, want) => {
    expect(parseKubeletConfig(text.replace(/\r/g, ''))).toEqual(want);
  });

  it('ignores indented keys, which belong to nested objects', () => {
    expect(parseKubeletConfig('evictionHard:\n  cgroupDriver: systemd\n')).toEqual({});
  });

  it('ignores a commented-out line', () => {
    expect(parseKubeletConfig('# cgroupDriver: systemd\n')).toEqual({});
  });
});

describe('dockerCheck', () => {
  it('ok names the engine and API versions', () => {
    expect(dockerCheck('unix:///var/run/docker.sock', up)).toEqual({ name: 'docker', status: 'ok', detail: 'Docker Engine 20.10.24 answers on unix:///var/run/docker.sock (API 1.41)' });
  });
  it('fail carries the cause and a fix naming the socket', () => {
    const c = dockerCheck('unix:///nonexistent.sock', down);
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('ENOENT');
    expect(c.fix).toContain('--docker-endpoint');
    expect(c.fix).toContain('/nonexistent.sock');
  });
});

describe('cgroupDriverCheck', () => {
  const path = '/var/lib/kubelet/config.yaml';
  it('is not checked without Docker', () => {
    expect(cgroupDriverCheck(down, { path })).toMatchObject({ status: 'warn', detail: expect.stringContaining('not checked') });
  });
  it('ok without a kubelet config, saying what kubelet should use', () => {
    expect(cgroupDriverCheck(up, { path })).toMatchObject({ status: 'ok', detail: expect.stringContaining('cgroupDriver: cgroupfs') });
  });
  it('ok when both match', () => {
    expect(cgroupDriverCheck(up, { path, settings: { cgroupDriver: 'cgroupfs' } }).status).toBe('ok');
  });
  it("takes kubelet's default, cgroupfs, when the file does not set it", () => {
    expect(cgroupDriverCheck(up, { path, settings: {} })).toMatchObject({ status: 'ok', detail: expect.stringContaining("kubelet's default") });
    expect(cgroupDriverCheck({ ...up, cgroupDriver: 'systemd' }, { path, settings: {} }).status).toBe('fail');
  });
  it('fails on a mismatch with both ways out', () => {
    const c = cgroupDriverCheck(up, { path, settings: { cgroupDriver: 'systemd' } });
    expect(c.status).toBe('fail');
    expect(c.detail).toContain('Docker uses cgroupfs but kubelet is set to systemd');
    expect(c.fix).toContain(`set cgroupDriver: cgroupfs in ${path}`);
    expect(c.fix).toContain('native.cgroupdriver=systemd');
  });
  it('does not suggest a Docker driver that does not exist', () => {
    const c = cgroupDriverCheck(up, { path, settings: { cgroupDriver: 'bogus' } });
    expect(c.status).toBe('fail');
    expect(c.fix).not.toContain('native.cgroupdriver');
  });
});

describe('pauseImageCheck', () => {
  it.each([
    [true, 'ok'],
    [false, 'warn'],
    [undefined, 'warn'],
  ] as const)('present=%s → %s', (present, status) => {
    expect(pauseImageCheck('registry.k8s.io/pause:3.10', up, present).status).toBe(status);
  });
  it('the fix for an absent image names it', () => {
    expect(pauseImageCheck('registry.k8s.io/pause:3.10', up, false).fix).toContain('docker pull registry.k8s.io/pause:3.10');
  });
});

describe('cniConfigCheck', () => {
  const good = { file: '/n/20-good.conflist', network: { name: 'pods', plugins: ['bridge', 'portmap'] } };
  const broken = { file: '/n/10-broken.conflist', problem: 'not JSON (Unexpected token)' };
  it('is ok and not used with --network-plugin=', () => {
    expect(cniConfigCheck('', '/n', { ok: false, error: 'ENOENT' })).toMatchObject({ status: 'ok', detail: expect.stringContaining('not used') });
  });
  it('fails on an unreadable dir', () => {
    expect(cniConfigCheck('cni', '/n', { ok: false, error: 'ENOENT' })).toMatchObject({ status: 'fail', detail: 'cannot read /n: ENOENT' });
  });
  it('fails on an empty dir', () => {
    expect(cniConfigCheck('cni', '/n', { ok: true, files: [] })).toMatchObject({ status: 'fail', detail: expect.stringContaining('no *.conf') });
  });
  it('fails naming every broken file when none is valid', () => {
    const c = cniConfigCheck('cni', '/n', { ok: true, files: [broken, { file: '/n/30-x.conf', problem: 'no "name"' }] });
    expect(c.status).toBe('fail');
    expect(c.detail).toBe('/n/10-broken.conflist: not JSON (Unexpected token); /n/30-x.conf: no "name"');
  });
  it('is ok naming the network and its plugins', () => {
    expect(cniConfigCheck('cni', '/n', { ok: true, files: [good] })).toEqual({ name: 'cni-config', status: 'ok', detail: '/n/20-good.conflist: network "pods" (bridge, portmap)' });
  });
  it('warns about broken files that sort before the one used, not after', () => {
    expect(cniConfigCheck('cni', '/n', { ok: true, files: [broken, good] })).toMatchObject({ status: 'warn', detail: expect.stringContaining('skipped before it: /n/10-broken.conflist') });
    expect(cniConfigCheck('cni', '/n', { ok: true, files: [good, { ...broken, file: '/n/99-later.conf' }] }).status).toBe('ok');
  });
});

describe('cniPluginsCheck', () => {
  const found = (path: string, executable = true): { path: string; executable: boolean } => ({ path, executable });
  it('is ok and not used with --network-plugin=', () => {
    expect(cniPluginsCheck('', [], undefined).status).toBe('ok');
  });
  it('is not checked without a valid network', () => {
    expect(cniPluginsCheck('cni', ['/opt/cni/bin'], undefined).status).toBe('warn');
  });
  it('is ok when every plugin is found and executable', () => {
    const lookup: PluginLookup = new Map([['bridge', found('/usr/lib/cni/bridge')], ['loopback', found('/usr/lib/cni/loopback')]]);
    expect(cniPluginsCheck('cni', ['/usr/lib/cni'], lookup)).toEqual({ name: 'cni-plugins', status: 'ok', detail: 'bridge, loopback found in /usr/lib/cni' });
  });
  it('fails naming the missing plugin and the dirs searched', () => {
    const lookup: PluginLookup = new Map([['bridge', found('/a/bridge')], ['nosuch', undefined]]);
    const c = cniPluginsCheck('cni', ['/a', '/b'], lookup);
    expect(c).toMatchObject({ status: 'fail', detail: 'plugin nosuch not found in /a, /b' });
    expect(c.fix).toContain('--cni-bin-dir');
  });
  it('fails on a plugin that is not executable, with chmod as the fix', () => {
    const c = cniPluginsCheck('cni', ['/a'], new Map([['bridge', found('/a/bridge', false)]]));
    expect(c).toMatchObject({ status: 'fail', detail: 'not executable: /a/bridge', fix: 'chmod +x /a/bridge' });
  });
});

describe('socketCheck', () => {
  const p = '/var/run/cri-dockerd.sock';
  it.each([
    [{ state: 'free' }, 'ok'],
    [{ state: 'stale' }, 'warn'],
    [{ state: 'not-socket' }, 'fail'],
    [{ state: 'live', holder: 'pid 7: dockercri', version: { runtimeName: 'docker', runtimeVersion: '20.10.24' }, ours: true }, 'ok'],
    [{ state: 'live', holder: 'pid 7: /usr/bin/cri-dockerd', version: { runtimeName: 'docker', runtimeVersion: '20.10.24' }, ours: false }, 'fail'],
    [{ state: 'live', version: { runtimeName: 'docker', runtimeVersion: '20.10.24' }, ours: false }, 'warn'],
    [{ state: 'live', holder: 'pid 9: containerd', version: { runtimeName: 'containerd', runtimeVersion: 'v1.7.0' }, ours: false }, 'fail'],
    [{ state: 'live', holder: 'pid 3: nc -lU', versionError: 'no gRPC answer within 3 s', ours: false }, 'fail'],
  ] as const)('%j → %s', (probe, status) => {
    const c = socketCheck(p, probe);
    expect(c.status).toBe(status);
    if (status !== 'ok') expect(c.fix).toBeTruthy();
  });
  it('names who holds the socket', () => {
    const c = socketCheck(p, { state: 'live', holder: 'pid 9: containerd', version: { runtimeName: 'containerd', runtimeVersion: 'v1.7.0' }, ours: false });
    expect(c.detail).toBe(`${p} is served by another CRI runtime (pid 9: containerd): containerd v1.7.0`);
    expect(socketCheck(p, { state: 'live', holder: 'pid 3: nc -lU', versionError: 'no gRPC answer within 3 s', ours: false }).detail).toContain('(pid 3: nc -lU) but does not answer CRI Version (no gRPC answer within 3 s)');
  });
});

describe('capabilitiesCheck', () => {
  it('ok with every capability', () => {
    expect(capabilitiesCheck({ hasSysResource: true, missing: [] }, undefined).status).toBe('ok');
  });
  it('warns without CAP_SYS_RESOURCE: oom_score_adj is restricted', () => {
    const c = capabilitiesCheck({ hasSysResource: false, missing: ['CAP_SYS_RESOURCE'] }, undefined);
    expect(c.status).toBe('warn');
    expect(c.detail).toBe("CAP_SYS_RESOURCE is missing: dockercri will restrict oom_score_adj: kubelet's negative scores (-998 for pause containers, -997 for Guaranteed pods) are raised to dockercri's own");
  });
  it('names the other missing capabilities', () => {
    expect(capabilitiesCheck({ hasSysResource: false, missing: ['CAP_SYS_RESOURCE', 'CAP_BPF'] }, undefined).detail).toContain('(as are CAP_BPF)');
    expect(capabilitiesCheck({ hasSysResource: true, missing: ['CAP_BPF'] }, undefined)).toMatchObject({ status: 'warn', detail: expect.stringContaining('missing CAP_BPF') });
  });
  it('fails when the restriction is turned off on a host that needs it', () => {
    expect(capabilitiesCheck({ hasSysResource: false, missing: ['CAP_SYS_RESOURCE'] }, false).status).toBe('fail');
    expect(capabilitiesCheck({ hasSysResource: false, missing: ['CAP_SYS_RESOURCE'] }, true).status).toBe('warn');
  });
});

describe('cgroupVersionCheck', () => {
  it('ok on v2', () => {
    expect(cgroupVersionCheck(2, undefined).status).toBe('ok');
  });
  it('warns on v1 with the kubelet 1.35 setting as a way out', () => {
    const c = cgroupVersionCheck(1, undefined);
    expect(c.status).toBe('warn');
    expect(c.fix).toContain('failCgroupV1: false');
  });
  it('says so when the kubelet config already allows v1', () => {
    expect(cgroupVersionCheck(1, { failCgroupV1: false }).detail).toContain('(set in the kubelet config)');
  });
});

describe('diskCheck', () => {
  const disk = (availableBytes: number, totalBytes = 100 * GiB, freeInodes = 1_000_000, totalInodes = 1_000_000) => ({ ok: true as const, availableBytes, totalBytes, freeInodes, totalInodes });
  it.each([
    [50 * GiB, 'ok'],
    [15 * GiB, 'ok'],
    [14.9 * GiB, 'warn'],
    [1 * GiB, 'warn'],
    [0.99 * GiB, 'fail'],
  ] as const)('%d bytes free of 100 GiB → %s', (free, status) => {
    expect(diskCheck('/var/lib/docker', disk(free)).status).toBe(status);
  });
  it('fails under 1 GiB even on a small disk where that is a large share', () => {
    expect(diskCheck('/d', disk(0.9 * GiB, 2 * GiB)).status).toBe('fail');
  });
  it('states the figures and the thresholds', () => {
    expect(diskCheck('/var/lib/docker', disk(50 * GiB)).detail).toBe('50.0 GiB free of 100.0 GiB (50%) in /var/lib/docker');
    expect(diskCheck('/d', disk(10 * GiB)).detail).toContain("fail under 1.0 GiB, warn under 15% (kubelet's imagefs.available eviction threshold)");
  });
  it('warns when inodes run out', () => {
    expect(diskCheck('/d', disk(50 * GiB, 100 * GiB, 40, 1000))).toMatchObject({ status: 'warn', detail: expect.stringContaining('only 40 inodes free') });
  });
  it('warns when the dir cannot be measured, and is not checked without Docker', () => {
    expect(diskCheck('/d', { ok: false, error: 'ENOENT' }).status).toBe('warn');
    expect(diskCheck(undefined, undefined).detail).toContain('not checked');
  });
});
