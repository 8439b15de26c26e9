import { mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeHolder, isDockercri, listeningInode } from './probes.js';

const PROC_NET_UNIX = `Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 31337 /run/docker.sock
0000000000000000: 00000003 00000000 00000000 0001 03 40001 /var/run/cri-dockerd.sock
0000000000000000: 00000002 00000000 00010000 0001 01 40000 /var/run/cri-dockerd.sock
0000000000000000: 00000002 00000000 00010000 0001 01 50000 /tmp/with space.sock
0000000000000000: 00000002 00000000 00000000 0002 01 60000
`;

describe('listeningInode', () => {
  it('finds the listening socket bound at the path, not a connected one of the same name', () => {
    expect(listeningInode(PROC_NET_UNIX, '/var/run/cri-dockerd.sock')).toBe('40000');
    expect(listeningInode(PROC_NET_UNIX, '/run/docker.sock')).toBe('31337');
  });
  it('handles a path with a space and an unknown path', () => {
    expect(listeningInode(PROC_NET_UNIX, '/tmp/with space.sock')).toBe('50000');
    expect(listeningInode(PROC_NET_UNIX, '/nope.sock')).toBeUndefined();
    expect(listeningInode('', '/nope.sock')).toBeUndefined();
  });
});

describe('describeHolder', () => {
  it('folds whitespace and shortens long command lines', () => {
    expect(describeHolder({ pid: 12, args: ['python3', '-c', 'import x\nrun()'], cwd: '/' })).toBe('pid 12: python3 -c import x run()');
    const long = describeHolder({ pid: 1, args: ['node', 'x'.repeat(300)], cwd: '/' });
    expect(long.length).toBeLessThanOrEqual('pid 1: '.length + 100);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('isDockercri', () => {
  const holder = (args: string[], cwd = '/'): { pid: number; args: string[]; cwd: string } => ({ pid: 40, args, cwd });

  it('knows the installed command and a built bundle started by its #! line', async () => {
    expect(await isDockercri(holder(['/usr/local/bin/dockercri', '--network-plugin=cni']), undefined)).toBe(true);
    // what /proc shows once env(1) has run the #! line: node, its flags, then the script
    expect(await isDockercri(holder(['node', '--max-semi-space-size=4', '--v8-pool-size=1', '/srv/other/dist/dockercri.js', '--network-plugin=']), '/work/main/dist/dockercri.js')).toBe(true);
    expect(await isDockercri(holder(['node', 'dist/dockercri.js'], '/srv/other'), undefined)).toBe(true);
  });

  it('takes another program for another runtime', async () => {
    expect(await isDockercri(holder(['/usr/bin/cri-dockerd', '--network-plugin=cni']), '/work/main/dist/dockercri.js')).toBe(false);
    expect(await isDockercri(holder(['node', '--inspect', '/srv/app/server.js']), '/work/main/dist/dockercri.js')).toBe(false);
    expect(await isDockercri(holder(['node']), '/work/main/dist/dockercri.js')).toBe(false);
  });

  it('knows this same program under another name by its real path', async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'dcri-probe-')));
    try {
      const self = join(dir, 'main.js');
      writeFileSync(self, '');
      symlinkSync(self, join(dir, 'runtime'));
      expect(await isDockercri(holder(['node', 'runtime'], dir), self)).toBe(true);
      expect(await isDockercri(holder(['node', 'main.js'], '/'), self)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
