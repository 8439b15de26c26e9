import { describe, expect, it } from 'vitest';
import { KeyedMutex } from './keyed-mutex.js';

/** A promise settled from outside, to hold work open while the test looks. */
function gate<T = void>(): { promise: Promise<T>; open: (v: T) => void; fail: (e: Error) => void } {
  let open!: (v: T) => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    open = res;
    fail = rej;
  });
  return { promise, open, fail };
}

/** Lets every queued microtask and promise callback run. */
const settle = (): Promise<void> => new Promise((res) => setImmediate(res));

describe('KeyedMutex', () => {
  it('runs work on one key one at a time, in call order', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    const gates = [gate(), gate(), gate()];
    const runs = gates.map((g, i) =>
      mutex.run('sandbox-a', async () => {
        events.push(`start ${i}`);
        await g.promise;
        events.push(`end ${i}`);
        return i;
      }),
    );
    await settle();
    expect(events).toEqual(['start 0']);
    gates[2]?.open();
    gates[1]?.open();
    await settle();
    expect(events).toEqual(['start 0']);
    gates[0]?.open();
    expect(await Promise.all(runs)).toEqual([0, 1, 2]);
    expect(events).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('runs work on different keys in parallel', async () => {
    const mutex = new KeyedMutex();
    const started: string[] = [];
    const a = gate();
    const b = gate();
    const ra = mutex.run('sandbox-a', async () => {
      started.push('a');
      await a.promise;
      return 'a';
    });
    const rb = mutex.run('sandbox-b', async () => {
      started.push('b');
      await b.promise;
      return 'b';
    });
    await settle();
    expect(started).toEqual(['a', 'b']);
    expect(mutex.size).toBe(2);
    b.open();
    expect(await rb).toBe('b');
    a.open();
    expect(await ra).toBe('a');
  });

  it.each<[string, () => Promise<never>]>([
    ['a rejection', () => Promise.reject(new Error('docker said no'))],
    [
      'a synchronous throw',
      () => {
        throw new Error('docker said no');
      },
    ],
  ])('hands %s to its caller and still runs the next work on the key', async (_name, failing) => {
    const mutex = new KeyedMutex();
    const first = mutex.run('k', failing);
    const second = mutex.run('k', async () => 'next');
    await expect(first).rejects.toThrow('docker said no');
    await expect(second).resolves.toBe('next');
  });

  it('does not start the next work before a failing one has settled', async () => {
    const mutex = new KeyedMutex();
    const g = gate();
    const events: string[] = [];
    const first = mutex.run('k', async () => {
      await g.promise;
      events.push('first failed');
      throw new Error('boom');
    });
    const second = mutex.run('k', async () => {
      events.push('second');
    });
    await settle();
    expect(events).toEqual([]);
    g.open();
    await expect(first).rejects.toThrow('boom');
    await second;
    expect(events).toEqual(['first failed', 'second']);
  });

  it('keeps no memory for idle keys, after success or failure', async () => {
    const mutex = new KeyedMutex();
    expect(mutex.size).toBe(0);
    const g = gate();
    const runs = [
      mutex.run('a', () => g.promise),
      mutex.run('a', async () => 1),
      mutex.run('b', () => Promise.reject(new Error('x'))).catch(() => 'caught'),
    ];
    expect(mutex.size).toBe(2);
    await runs[2];
    await settle();
    expect(mutex.size).toBe(1);
    g.open();
    await Promise.all(runs);
    await settle();
    expect(mutex.size).toBe(0);
  });

  it('keeps a key busy while later work is queued behind finished work', async () => {
    const mutex = new KeyedMutex();
    const first = gate();
    const second = gate();
    const r1 = mutex.run('k', () => first.promise);
    const r2 = mutex.run('k', () => second.promise);
    first.open();
    await r1;
    await settle();
    expect(mutex.size).toBe(1);
    let thirdStarted = false;
    const r3 = mutex.run('k', async () => {
      thirdStarted = true;
    });
    await settle();
    expect(thirdStarted).toBe(false);
    second.open();
    await Promise.all([r2, r3]);
    expect(thirdStarted).toBe(true);
    await settle();
    expect(mutex.size).toBe(0);
  });
});
