import { execFileSync } from 'node:child_process';
import { lstat, link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { dockerImageLayerDirs, FixedEntries, type FsUsage, UsageCache, walkUsage } from './fs-usage.js';

describe('walkUsage', () => {
  let root: string;
  let outside: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'dockercri-usage-'));
    outside = await mkdtemp(join(tmpdir(), 'dockercri-outside-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  const allocated = async (...paths: string[]): Promise<number> => {
    let sum = 0;
    for (const p of paths) sum += (await lstat(p)).blocks * 512;
    return sum;
  };

  it('counts a hard-linked file once, in bytes and in inodes', async () => {
    const big = join(root, 'big');
    await writeFile(big, Buffer.alloc(256 * 1024, 7));
    await mkdir(join(root, 'sub'));
    await link(big, join(root, 'sub', 'big-again'));
    await link(big, join(root, 'big-thrice'));
    await writeFile(join(root, 'small'), 'x');

    const usage = await walkUsage(root);
    expect(await allocated(big)).toBeGreaterThanOrEqual(256 * 1024);
    expect(usage.bytes).toBe(await allocated(root, join(root, 'sub'), big, join(root, 'small')));
    // root, sub, big (three names), small
    expect(usage.inodes).toBe(4);
  });

  it('does not follow symbolic links', async () => {
    await writeFile(join(outside, 'elsewhere'), Buffer.alloc(128 * 1024, 1));
    await symlink(outside, join(root, 'to-dir'));
    await symlink(join(outside, 'elsewhere'), join(root, 'to-file'));

    const usage = await walkUsage(root);
    expect(usage.inodes).toBe(3);
    expect(usage.bytes).toBe(await allocated(root, join(root, 'to-dir'), join(root, 'to-file')));
    expect(usage.bytes).toBeLessThan(128 * 1024);
  });

  // a mount needs root; the check runs wherever the tests run as root, as on CI
  it.skipIf(process.getuid?.() !== 0)('stays on the file system it starts on, as du -x does', async () => {
    const mounted = join(root, 'merged');
    await mkdir(mounted);
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mounted]);
    try {
      await writeFile(join(mounted, 'inside'), Buffer.alloc(64 * 1024, 3));
      const usage = await walkUsage(root);
      expect(usage.inodes).toBe(1);
      expect(usage.bytes).toBe(await allocated(root));
    } finally {
      execFileSync('umount', [mounted]);
    }
  });

  it('walks nested directories', async () => {
    await mkdir(join(root, 'a', 'b', 'c'), { recursive: true });
    await writeFile(join(root, 'a', 'b', 'c', 'f'), Buffer.alloc(64 * 1024, 2));
    const usage = await walkUsage(root);
    expect(usage.inodes).toBe(5);
    expect(usage.bytes).toBe(await allocated(root, join(root, 'a'), join(root, 'a', 'b'), join(root, 'a', 'b', 'c'), join(root, 'a', 'b', 'c', 'f')));
  });

  it('counts only the directory itself when it is empty', async () => {
    const usage = await walkUsage(root);
    expect(usage).toMatchObject({ inodes: 1, bytes: await allocated(root) });
  });

  it('reports nothing for a missing directory', async () => {
    const usage = await walkUsage(join(root, 'missing'));
    expect(usage).toMatchObject({ bytes: 0, inodes: 0 });
  });

  it('stamps the time the walk finished', async () => {
    const before = Date.now();
    const usage = await walkUsage(root);
    expect(usage.takenAtMs).toBeGreaterThanOrEqual(before);
    expect(usage.takenAtMs).toBeLessThanOrEqual(Date.now());
  });
});

describe('walkUsage with fixed entries', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'dockercri-fixed-'));
    for (const layer of ['img1', 'img2', 'rw1']) {
      await mkdir(join(root, layer, 'diff'), { recursive: true });
      await writeFile(join(root, layer, 'diff', 'f'), Buffer.alloc(32 * 1024, 1));
    }
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('gives the figures of a whole walk, walks a fixed entry once and forgets it when it is gone', async () => {
    const whole = await walkUsage(root);
    let listed = 0;
    const fixed = new FixedEntries(() => (listed++, new Set(['img1', 'img2', 'not-there'])));
    const first = await walkUsage(root, fixed);
    expect(first).toMatchObject({ bytes: whole.bytes, inodes: whole.inodes });
    expect(fixed.size).toBe(2);

    // a change inside a fixed entry is not seen (it is walked once); one in the rest is
    await writeFile(join(root, 'img1', 'diff', 'g'), Buffer.alloc(64 * 1024, 2));
    await writeFile(join(root, 'rw1', 'diff', 'g'), Buffer.alloc(64 * 1024, 2));
    const second = await walkUsage(root, fixed);
    const rwAdded = (await lstat(join(root, 'rw1', 'diff', 'g'))).blocks * 512;
    expect(second.bytes).toBe(first.bytes + rwAdded);
    expect(second.inodes).toBe(first.inodes + 1);

    await rm(join(root, 'img2'), { recursive: true });
    const third = await walkUsage(root, fixed);
    expect(fixed.size).toBe(1);
    expect(third.inodes).toBe(second.inodes - 3);
    expect(listed).toBe(3);
  });

  it('reads the image layers of Docker\'s layer store by their cache-id files', async () => {
    const layerdb = join(root, 'image', 'overlay2', 'layerdb', 'sha256');
    for (const [chain, id] of [['c1', 'aaa\n'], ['c2', 'bbb'], ['c3', '../escape'], ['c4', undefined]] as const) {
      await mkdir(join(layerdb, chain), { recursive: true });
      if (id !== undefined) await writeFile(join(layerdb, chain, 'cache-id'), id);
    }
    expect(dockerImageLayerDirs(root, 'overlay2')).toEqual(new Set(['aaa', 'bbb']));
    expect(dockerImageLayerDirs(root, 'btrfs')).toEqual(new Set());
  });
});

interface Deferred {
  promise: Promise<FsUsage>;
  resolve(u: FsUsage): void;
  reject(e: Error): void;
}

/** A walk function whose calls the test resolves by hand. */
function controlledWalk() {
  const calls: { dir: string; walk: Deferred }[] = [];
  const walk = vi.fn((dir: string) => {
    let resolve!: (u: FsUsage) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<FsUsage>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    calls.push({ dir, walk: { promise, resolve, reject } });
    return promise;
  });
  return { walk, calls };
}

const usageAt = (bytes: number, takenAtMs: number): FsUsage => ({ bytes, inodes: bytes / 10, takenAtMs });

/** Lets promise callbacks queued by the cache run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe('UsageCache', () => {
  let now = 1_000_000;
  beforeEach(() => {
    now = 1_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('makes the first call wait for a walk of the directory', async () => {
    const { walk, calls } = controlledWalk();
    const cache = new UsageCache(60_000, walk);
    const first = cache.get('/var/lib/docker');
    await settle();
    expect(walk).toHaveBeenCalledTimes(1);
    expect(calls[0]?.dir).toBe('/var/lib/docker');
    calls[0]?.walk.resolve(usageAt(100, now));
    await expect(first).resolves.toEqual(usageAt(100, now));
  });

  it('shares one walk between concurrent first calls', async () => {
    const { walk, calls } = controlledWalk();
    const cache = new UsageCache(60_000, walk);
    const both = Promise.all([cache.get('/d'), cache.get('/d')]);
    await settle();
    calls[0]?.walk.resolve(usageAt(100, now));
    expect(await both).toEqual([usageAt(100, now), usageAt(100, now)]);
    expect(walk).toHaveBeenCalledTimes(1);
  });

  it('serves the cached figures while they are younger than the max age', async () => {
    const { walk, calls } = controlledWalk();
    const cache = new UsageCache(60_000, walk);
    const first = cache.get('/d');
    await settle();
    calls[0]?.walk.resolve(usageAt(100, now));
    await first;
    now += 60_000;
    expect(await cache.get('/d')).toEqual(usageAt(100, 1_000_000));
    await settle();
    expect(walk).toHaveBeenCalledTimes(1);
  });

  it('answers with the old figures and refreshes in the background once they are too old', async () => {
    const { walk, calls } = controlledWalk();
    const cache = new UsageCache(60_000, walk);
    const first = cache.get('/d');
    await settle();
    calls[0]?.walk.resolve(usageAt(100, now));
    await first;

    now += 60_001;
    expect(await cache.get('/d')).toEqual(usageAt(100, 1_000_000));
    expect(walk).toHaveBeenCalledTimes(2);
    // a second stale call while the refresh runs starts no other walk
    expect(await cache.get('/d')).toEqual(usageAt(100, 1_000_000));
    expect(walk).toHaveBeenCalledTimes(2);

    calls[1]?.walk.resolve(usageAt(200, now));
    await settle();
    expect(await cache.get('/d')).toEqual(usageAt(200, now));
    expect(walk).toHaveBeenCalledTimes(2);
  });

  it('keeps the old figures when a background refresh fails', async () => {
    const { walk, calls } = controlledWalk();
    const cache = new UsageCache(1_000, walk);
    const first = cache.get('/d');
    await settle();
    calls[0]?.walk.resolve(usageAt(100, now));
    await first;

    now += 5_000;
    expect(await cache.get('/d')).toEqual(usageAt(100, 1_000_000));
    calls[1]?.walk.reject(new Error('EIO'));
    await settle();
    // the failure is not remembered: the next stale call tries again
    expect(await cache.get('/d')).toEqual(usageAt(100, 1_000_000));
    expect(walk).toHaveBeenCalledTimes(3);
  });

  it('rejects a failed first walk and walks again on the next call', async () => {
    const { walk, calls } = controlledWalk();
    const cache = new UsageCache(60_000, walk);
    const first = cache.get('/d');
    await settle();
    calls[0]?.walk.reject(new Error('EACCES'));
    await expect(first).rejects.toThrow('EACCES');

    const second = cache.get('/d');
    await settle();
    expect(walk).toHaveBeenCalledTimes(2);
    calls[1]?.walk.resolve(usageAt(300, now));
    await expect(second).resolves.toEqual(usageAt(300, now));
  });

  it('never serves one directory the figures of another', async () => {
    const { walk, calls } = controlledWalk();
    const cache = new UsageCache(60_000, walk);
    const a = cache.get('/a');
    await settle();
    calls[0]?.walk.resolve(usageAt(100, now));
    await a;

    const b = cache.get('/b');
    await settle();
    expect(calls[1]?.dir).toBe('/b');
    calls[1]?.walk.resolve(usageAt(200, now));
    await expect(b).resolves.toEqual(usageAt(200, now));
  });

  it('does not hand a walk of the previous directory, still running, to a new one', async () => {
    const { walk, calls } = controlledWalk();
    const cache = new UsageCache(60_000, walk);
    const a = cache.get('/a');
    await settle();
    const b = cache.get('/b');
    await settle();
    expect(calls.map((c) => c.dir)).toEqual(['/a', '/b']);

    calls[0]?.walk.resolve(usageAt(100, now));
    await expect(a).resolves.toEqual(usageAt(100, now));
    calls[1]?.walk.resolve(usageAt(200, now));
    await expect(b).resolves.toEqual(usageAt(200, now));
    // the late walk of /a did not replace the figures of /b
    expect(await cache.get('/b')).toEqual(usageAt(200, now));
    expect(walk).toHaveBeenCalledTimes(2);
  });
});
