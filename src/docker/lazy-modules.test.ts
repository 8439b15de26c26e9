import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deferModule, deferredFiles } from './lazy-modules.js';

const require = createRequire(import.meta.url);

describe('deferred dockerode modules', () => {
  it('leave ssh2, the BuildKit session and tar-fs unloaded after dockerode is loaded', async () => {
    await import('./client.js');
    const loaded = Object.keys(require.cache);
    expect(loaded.some((f) => f.includes('/dockerode/lib/docker.js'))).toBe(true);
    expect(loaded.filter((f) => /\/(ssh2|@grpc\/proto-loader|tar-stream)\//.test(f))).toEqual([]);
    const files = deferredFiles();
    for (const f of Object.values(files)) expect(require.cache[f]?.loaded).toBe(true);
    expect(typeof require(files.ssh)).toBe('function');
  });

  it('load the real module on first use, once, with the caller’s this and arguments', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lazy-modules-'));
    const fn = join(dir, 'fn.js');
    const obj = join(dir, 'obj.js');
    writeFileSync(fn, 'globalThis.lazyLoads = (globalThis.lazyLoads ?? 0) + 1; module.exports = function (a, b) { return [this && this.tag, a + b]; };');
    writeFileSync(obj, 'module.exports = { pack: (x) => x * 2 };');
    const g = globalThis as { lazyLoads?: number };
    expect(deferModule(fn, (load) => function (this: unknown, ...a: unknown[]) { return (load() as (...x: unknown[]) => unknown).apply(this, a); })).toBe(true);
    expect(deferModule(fn, () => undefined)).toBe(false);
    const standIn = require(fn) as (a: number, b: number) => unknown;
    expect(g.lazyLoads).toBeUndefined();
    expect(standIn.call({ tag: 't' }, 1, 2)).toEqual(['t', 3]);
    expect(standIn(3, 4)).toEqual([undefined, 7]);
    expect(g.lazyLoads).toBe(1);
    expect(require(fn)).not.toBe(standIn);
    expect(deferModule(obj, (load) => new Proxy({}, { get: (_t, k) => Reflect.get(load() as object, k) }))).toBe(true);
    expect((require(obj) as { pack(x: number): number }).pack(4)).toBe(8);
  });
});
