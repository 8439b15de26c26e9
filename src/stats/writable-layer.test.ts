import { link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { WritableLayers, du } from './writable-layer.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tree(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'dcri-du-'));
  dirs.push(root);
  await mkdir(join(root, 'a/b'), { recursive: true });
  await writeFile(join(root, 'a/b/one'), Buffer.alloc(1 << 20, 1));
  await link(join(root, 'a/b/one'), join(root, 'hardlink'));
  await writeFile(join(root, 'empty'), '');
  return root;
}

describe('du', () => {
  it('counts allocated bytes and each inode once', async () => {
    const { bytes, inodes } = await du(await tree());
    // root, a, a/b, one (twice linked), empty
    expect(inodes).toBe(5n);
    expect(bytes).toBeGreaterThanOrEqual(1n << 20n);
    expect(bytes).toBeLessThan((1n << 20n) + (64n << 10n));
  });
});

describe('WritableLayers', () => {
  const silent = createLogger('silent');

  it('measures a layer on the first call, then answers from its cache', async () => {
    const root = await tree();
    const layers = new WritableLayers(() => [], silent, 60_000);
    const first = await layers.get({ dockerId: 'c1', upperDir: root });
    expect(first).toMatchObject({ inodes: 5n, mountpoint: root });
    await writeFile(join(root, 'later'), Buffer.alloc(1 << 20, 1));
    // the cache holds until the next background pass
    expect(await layers.get({ dockerId: 'c1', upperDir: root })).toBe(first);
  });

  it('measures a primed layer before anyone asks, and forgets it on removal', async () => {
    const root = await tree();
    const layers = new WritableLayers(() => [], silent, 60_000, 0);
    layers.prime({ dockerId: 'c2', upperDir: root });
    const deadline = Date.now() + 10_000;
    let got;
    // firstWaitMs 0: get() only returns what the primed walk already measured
    while (!(got = await layers.get({ dockerId: 'c2', upperDir: root })) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(got).toMatchObject({ inodes: 5n });
    layers.forget('c2');
    await rm(root, { recursive: true, force: true });
    expect(await layers.get({ dockerId: 'c2', upperDir: root })).toBeUndefined();
  });

  it('re-measures every layer the background pass knows', async () => {
    const root = await tree();
    const layers = new WritableLayers(() => [{ dockerId: 'c3', upperDir: root }], silent, 50);
    const first = await layers.get({ dockerId: 'c3', upperDir: root });
    await writeFile(join(root, 'later'), Buffer.alloc(1 << 20, 1));
    layers.start();
    try {
      const deadline = Date.now() + 10_000;
      while ((await layers.get({ dockerId: 'c3', upperDir: root }))?.inodes === first?.inodes && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect((await layers.get({ dockerId: 'c3', upperDir: root }))?.inodes).toBe(6n);
    } finally {
      layers.stop();
    }
  });
});
