import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ImageInspect } from './client.js';
import { ImageLabels } from './image-labels.js';

function fakeEngine() {
  const images = new Map<string, ImageInspect>([['sha256:one', { Id: 'sha256:one', RepoDigests: ['busybox@sha256:aa'], Config: { Labels: { maintainer: 'x' } } } as unknown as ImageInspect]]);
  let inspects = 0;
  const docker = {
    async inspectImage(ref: string): Promise<ImageInspect | undefined> {
      inspects++;
      return images.get(ref);
    },
  };
  const listeners: (() => void)[] = [];
  const cache = { following: true, onInvalidate: (l: () => void) => void listeners.push(l) };
  return { docker, images, cache, inspects: () => inspects, imageEvent: () => listeners.forEach((l) => l()) };
}

describe('ImageLabels', () => {
  it('keeps an image\'s facts until an image event, then asks again', async () => {
    const e = fakeEngine();
    const labels = new ImageLabels(e.docker, e.cache);
    expect(await labels.facts('sha256:one')).toEqual({ labels: { maintainer: 'x' }, repoDigests: ['busybox@sha256:aa'] });
    await labels.get('sha256:one');
    expect(e.inspects()).toBe(1);

    e.images.get('sha256:one')!.RepoDigests = ['busybox@sha256:aa', 'mirror/busybox@sha256:aa'];
    e.imageEvent();
    expect((await labels.facts('sha256:one')).repoDigests).toHaveLength(2);
    expect(e.inspects()).toBe(2);
  });

  it('answers no labels for an image Docker does not have, and keeps that only until the next image event', async () => {
    const e = fakeEngine();
    const labels = new ImageLabels(e.docker, e.cache);
    expect(await labels.facts('sha256:two')).toEqual({ labels: {}, repoDigests: [] });
    e.images.set('sha256:two', { Id: 'sha256:two', RepoDigests: [], Config: { Labels: { a: 'b' } } } as unknown as ImageInspect);
    e.imageEvent();
    expect(await labels.get('sha256:two')).toEqual({ a: 'b' });
  });

  describe('ages', () => {
    afterEach(() => vi.useRealTimers());

    it('keeps facts ten minutes while image events are followed, one minute while they are not', async () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const e = fakeEngine();
      const labels = new ImageLabels(e.docker, e.cache);
      await labels.facts('sha256:one');
      vi.advanceTimersByTime(5 * 60_000);
      await labels.facts('sha256:one');
      expect(e.inspects()).toBe(1);
      vi.advanceTimersByTime(6 * 60_000);
      await labels.facts('sha256:one');
      expect(e.inspects()).toBe(2);

      e.cache.following = false;
      vi.advanceTimersByTime(30_000);
      await labels.facts('sha256:one');
      expect(e.inspects()).toBe(2);
      vi.advanceTimersByTime(31_000);
      await labels.facts('sha256:one');
      expect(e.inspects()).toBe(3);
    });
  });
});
