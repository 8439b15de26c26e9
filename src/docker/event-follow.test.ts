import { describe, expect, it } from 'vitest';
import type { DockerEvent, EventFilter } from './client.js';
import { EventFollow } from './event-follow.js';

/** A stand-in Engine whose event streams the test opens, fails and ends by hand. */
function fakeEngine() {
  const streams: { filter: EventFilter; onEvent: (e: DockerEvent) => void; onEnd: (err?: Error) => void; closed: boolean }[] = [];
  const docker = {
    refuse: 0,
    async subscribeEvents(filter: EventFilter, onEvent: (e: DockerEvent) => void, onEnd: (err?: Error) => void) {
      if (docker.refuse > 0) {
        docker.refuse--;
        throw new Error('connect ENOENT /var/run/docker.sock');
      }
      const s = { filter, onEvent, onEnd, closed: false };
      streams.push(s);
      return {
        // as a destroyed socket does, the stream reports its end a little later
        close: () => {
          if (s.closed) return;
          s.closed = true;
          setImmediate(() => onEnd());
        },
      };
    },
  };
  return { docker, streams };
}

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};
const event = (Action: string): DockerEvent => ({ Type: 'image', Action, Actor: { ID: 'sha256:one' } });

/** A follower whose first onOpen waits until the test settles it; the later ones return at once. */
function heldFirstOpen(docker: ReturnType<typeof fakeEngine>['docker']) {
  let opens = 0;
  const h = {
    first: undefined as { resolve: () => void; reject: (err: Error) => void } | undefined,
    lost: [] as boolean[],
    opens: () => opens,
    follow: undefined as unknown as EventFollow,
  };
  h.follow = new EventFollow(
    docker,
    { type: 'image' },
    {
      onEvent: () => undefined,
      onOpen: () => {
        opens++;
        if (opens === 1) return new Promise<void>((resolve, reject) => (h.first = { resolve, reject }));
      },
      onLost: (_err, opened) => h.lost.push(opened),
    },
    10,
  );
  return h;
}

describe('EventFollow', () => {
  it('delivers events, is following once onOpen is done, and opens a new stream after one ends', async () => {
    const e = fakeEngine();
    const seen: string[] = [];
    const lost: boolean[] = [];
    let opens = 0;
    const follow = new EventFollow(e.docker, { type: 'image' }, { onEvent: (ev) => seen.push(ev.Action), onOpen: () => void opens++, onLost: (_err, opened) => lost.push(opened) }, 10);
    await follow.start();
    expect(follow.following).toBe(true);
    expect(e.streams[0]!.filter).toEqual({ type: 'image' });
    e.streams[0]!.onEvent(event('pull'));
    expect(seen).toEqual(['pull']);

    e.streams[0]!.onEnd(new Error('Docker restarted'));
    expect(follow.following).toBe(false);
    expect(lost).toEqual([true]);
    await until(() => follow.following);
    expect(e.streams).toHaveLength(2);
    expect(opens).toBe(2);
    follow.stop();
    expect(e.streams[1]!.closed).toBe(true);
    expect(lost).toEqual([true]);
  });

  it('retries a stream that cannot be opened, and one whose onOpen fails, closing it', async () => {
    const e = fakeEngine();
    e.docker.refuse = 1;
    const lost: boolean[] = [];
    let failOpen = true;
    const follow = new EventFollow(
      e.docker,
      { type: 'container', label: 'io.kubernetes.docker.type' },
      {
        onEvent: () => undefined,
        onOpen: async () => {
          if (failOpen) {
            failOpen = false;
            throw new Error('list failed');
          }
        },
        onLost: (_err, opened) => lost.push(opened),
      },
      10,
    );
    await follow.start();
    expect(follow.following).toBe(false);
    expect(lost).toEqual([false]);
    await until(() => e.streams.length === 1 && e.streams[0]!.closed);
    expect(lost).toEqual([false, false]);
    await until(() => follow.following);
    expect(e.streams).toHaveLength(2);
    expect(lost).toEqual([false, false]);
    follow.stop();
  });

  it('is not following when the stream ends during onOpen, and tries again', async () => {
    const e = fakeEngine();
    const h = heldFirstOpen(e.docker);
    const started = h.follow.start();
    await until(() => h.first !== undefined);
    e.streams[0]!.onEnd(new Error('gone'));
    h.first!.resolve();
    await started;
    expect(h.follow.following).toBe(false);
    await until(() => h.follow.following);
    expect(h.opens()).toBe(2);
    h.follow.stop();
  });

  it('opens nothing again once stopped', async () => {
    const e = fakeEngine();
    const follow = new EventFollow(e.docker, { type: 'image' }, { onEvent: () => undefined }, 5);
    await follow.start();
    follow.stop();
    await new Promise((r) => setTimeout(r, 30));
    expect(e.streams).toHaveLength(1);
    expect(follow.following).toBe(false);
  });

  it('retries once when the stream ends during onOpen and onOpen then fails', async () => {
    const e = fakeEngine();
    const h = heldFirstOpen(e.docker);
    const started = h.follow.start();
    await until(() => h.first !== undefined);
    e.streams[0]!.onEnd(new Error('gone'));
    h.first!.reject(new Error('listing failed too'));
    await started;
    await until(() => h.follow.following);
    await new Promise((r) => setTimeout(r, 40));
    expect(h.lost).toEqual([true]);
    expect(e.streams).toHaveLength(2);
    h.follow.stop();
  });

  it('makes no stream after stop(), whether a retry was waiting or onOpen was running', async () => {
    const e = fakeEngine();
    e.docker.refuse = 1;
    const waiting = new EventFollow(e.docker, { type: 'image' }, { onEvent: () => undefined }, 10);
    await waiting.start();
    waiting.stop();
    await new Promise((r) => setTimeout(r, 40));
    expect(e.streams).toHaveLength(0);

    let release: (() => void) | undefined;
    const opening = new EventFollow(e.docker, { type: 'image' }, { onEvent: () => undefined, onOpen: () => new Promise<void>((r) => (release = r)) }, 10);
    const started = opening.start();
    await until(() => release !== undefined);
    opening.stop();
    release!();
    await started;
    expect(opening.following).toBe(false);
    expect(e.streams[0]!.closed).toBe(true);
    await new Promise((r) => setTimeout(r, 40));
    expect(e.streams).toHaveLength(1);
  });

  it('notices a stream that ended before it was handed over', async () => {
    const lost: boolean[] = [];
    let subscribes = 0;
    const docker = {
      async subscribeEvents(_filter: EventFilter, _onEvent: (e: DockerEvent) => void, onEnd: (err?: Error) => void) {
        subscribes++;
        if (subscribes === 1) onEnd(new Error('ended at once'));
        return { close: () => undefined };
      },
    };
    const follow = new EventFollow(docker, { type: 'image' }, { onEvent: () => undefined, onLost: (_err, opened) => lost.push(opened) }, 10);
    await follow.start();
    expect(follow.following).toBe(false);
    expect(lost).toEqual([true]);
    await until(() => follow.following);
    expect(subscribes).toBe(2);
    follow.stop();
  });
});
