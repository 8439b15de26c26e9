import { describe, expect, it } from 'vitest';
import { describeHolder, listeningInode } from './probes.js';

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
