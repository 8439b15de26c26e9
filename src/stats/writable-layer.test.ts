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
  it('answers from its cache and walks in the background', async () => {
    const root = await tree();
    const layers = new WritableLayers(() => [], createLogger('silent'), 60_000);
    expect(layers.get({ dockerId: 'c1', upperDir: root })).toBeUndefined();
    await new Promise((r) => setTimeout(r, 100));
    expect(layers.get({ dockerId: 'c1', upperDir: root })).toMatchObject({ inodes: 5n, mountpoint: root });
  });
});
