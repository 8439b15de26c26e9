import { describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import type { DockerEvent, ImageInspect } from './client.js';
import { ImageInspectCache } from './image-cache.js';

/** A stand-in Engine: images by reference, a count of inspects, and an image event stream to drive. */
function fakeEngine() {
  const images = new Map<string, ImageInspect>([['busybox:latest', { Id: 'sha256:one' } as ImageInspect]]);
  let inspects = 0;
  let release: (() => void) | undefined;
  const streams: { onEvent: (e: DockerEvent) => void; onEnd: (err?: Error) => void; closed: boolean }[] = [];
  const docker = {
    hold: false,
    async inspectImage(ref: string): Promise<ImageInspect | undefined> {
      inspects++;
      const answer = images.get(ref);
      if (docker.hold) await new Promise<void>((r) => (release = r));
      return answer;
    },
    async subscribeEvents(filter: { type: string }, onEvent: (e: DockerEvent) => void, onEnd: (err?: Error) => void) {
      expect(filter).toEqual({ type: 'image' });
      const s = { onEvent, onEnd, closed: false };
      streams.push(s);
      return { close: () => void (s.closed = true) };
    },
  };
  return { docker, images, streams, inspects: () => inspects, release: () => release?.() };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
const event = (Action: string): DockerEvent => ({ Type: 'image', Action, Actor: { ID: 'sha256:two' } });

describe('ImageInspectCache', () => {
  it('answers again from what it kept while it follows image events, and asks again after any of them', async () => {
    const e = fakeEngine();
    const cache = new ImageInspectCache(e.docker, createLogger('silent'));
    cache.start();
    await settle();
    expect((await cache.inspect('busybox:latest'))?.Id).toBe('sha256:one');
    expect((await cache.inspect('busybox:latest'))?.Id).toBe('sha256:one');
    expect(e.inspects()).toBe(1);

    e.images.set('busybox:latest', { Id: 'sha256:two' } as ImageInspect);
    e.streams[0]!.onEvent(event('tag'));
    expect((await cache.inspect('busybox:latest'))?.Id).toBe('sha256:two');
    expect(e.inspects()).toBe(2);
    cache.stop();
    expect(e.streams[0]!.closed).toBe(true);
  });

  it('keeps nothing before the stream is followed, after it ends, or for an image that is not there', async () => {
    const e = fakeEngine();
    const cache = new ImageInspectCache(e.docker, createLogger('silent'));
    await cache.inspect('busybox:latest');
    await cache.inspect('busybox:latest');
    expect(e.inspects()).toBe(2);
    cache.start();
    await settle();
    expect(await cache.inspect('missing:1')).toBeUndefined();
    expect(await cache.inspect('missing:1')).toBeUndefined();
    expect(e.inspects()).toBe(4);
    await cache.inspect('busybox:latest');
    expect(cache.size).toBe(1);
    e.streams[0]!.onEnd(new Error('Docker restarted'));
    expect(cache.size).toBe(0);
    await cache.inspect('busybox:latest');
    expect(cache.size).toBe(0);
    cache.stop();
  });

  it('does not keep an answer asked before an invalidation', async () => {
    const e = fakeEngine();
    const cache = new ImageInspectCache(e.docker, createLogger('silent'));
    cache.start();
    await settle();
    e.docker.hold = true;
    const pending = cache.inspect('busybox:latest');
    await settle();
    cache.invalidate();
    e.release();
    await pending;
    expect(cache.size).toBe(0);
    cache.stop();
  });
});
