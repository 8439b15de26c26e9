import { describe, expect, it } from 'vitest';
import type { EngineInfo, EngineVersion } from './client.js';
import { EngineCache } from './engine-cache.js';

function fakeEngine() {
  const calls = { version: 0, info: 0, ping: 0 };
  const docker = {
    apiVersion: '1.41',
    down: false,
    async version(): Promise<EngineVersion> {
      calls.version++;
      if (docker.down) throw new Error('Docker is down');
      return { version: '20.10.24', apiVersion: docker.apiVersion };
    },
    async info(): Promise<EngineInfo> {
      calls.info++;
      return { runtimes: ['runc'], runtimeStatus: {}, defaultRuntime: 'runc', cdiSpecDirs: [], kernelVersion: '6.1.0' } as unknown as EngineInfo;
    },
    async ping(): Promise<void> {
      calls.ping++;
      if (docker.down) throw new Error('Docker is down');
    },
  };
  return { docker, calls };
}

describe('EngineCache', () => {
  it('asks Docker once for callers at the same time and within the TTL, and again when fresh, after the TTL or an invalidation', async () => {
    const e = fakeEngine();
    const cache = new EngineCache(e.docker, 40);
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    expect(a).toBe(b);
    expect((await cache.facts()).apiVersion).toBe('1.41');
    expect(e.calls).toEqual({ version: 1, info: 1, ping: 0 });

    e.docker.apiVersion = '1.44';
    expect((await cache.get({ fresh: true })).version.apiVersion).toBe('1.44');
    expect(e.calls.version).toBe(2);
    cache.invalidate();
    await cache.get();
    expect(e.calls.version).toBe(3);
    await new Promise((r) => setTimeout(r, 50));
    await cache.get();
    expect(e.calls.version).toBe(4);
  });

  it('live() pings when it answers what it kept, and fails when Docker does not answer', async () => {
    const e = fakeEngine();
    const cache = new EngineCache(e.docker);
    await cache.live();
    expect(e.calls).toEqual({ version: 1, info: 1, ping: 0 });
    await cache.live();
    expect(e.calls).toEqual({ version: 1, info: 1, ping: 1 });
    e.docker.down = true;
    await expect(cache.live()).rejects.toThrow('Docker is down');
  });

  it('keeps no failed answer', async () => {
    const e = fakeEngine();
    const cache = new EngineCache(e.docker);
    e.docker.down = true;
    await expect(cache.get()).rejects.toThrow('Docker is down');
    e.docker.down = false;
    expect((await cache.get()).version.version).toBe('20.10.24');
    expect(e.calls.version).toBe(2);
  });

  it('a fresh ask joins one on its way and does not repeat one that has answered', async () => {
    const e = fakeEngine();
    const cache = new EngineCache(e.docker);
    await cache.get();
    await Promise.all([cache.get({ fresh: true }), cache.get({ fresh: true }), cache.get({ fresh: true })]);
    expect(e.calls.version).toBe(2);
    await cache.get({ fresh: true });
    expect(e.calls.version).toBe(3);
  });

  it('a failed ask does not throw away a newer answer', async () => {
    const e = fakeEngine();
    const cache = new EngineCache(e.docker);
    let fail: ((err: Error) => void) | undefined;
    const realVersion = e.docker.version;
    e.docker.version = () => new Promise((_resolve, reject) => (fail = reject));
    const first = cache.get();
    e.docker.version = realVersion;
    cache.invalidate();
    await cache.get();
    fail!(new Error('the old ask failed'));
    await expect(first).rejects.toThrow('the old ask failed');
    await cache.get();
    expect(e.calls.version).toBe(1);
  });

  it('live() asks again after the TTL instead of pinging', async () => {
    const e = fakeEngine();
    const cache = new EngineCache(e.docker, 20);
    await cache.live();
    await new Promise((r) => setTimeout(r, 30));
    await cache.live();
    expect(e.calls).toEqual({ version: 2, info: 2, ping: 0 });
  });
});
