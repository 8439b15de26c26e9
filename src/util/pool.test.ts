import { describe, expect, it } from 'vitest';
import { batches, mapLimit } from './pool.js';

const tick = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('mapLimit', () => {
  it.each([
    [1, 10],
    [3, 20],
    [8, 50],
    [8, 5],
    [100, 30],
  ])('with limit %d over %d items never has more in flight, and keeps the order', async (limit, count) => {
    const items = Array.from({ length: count }, (_, i) => i);
    let inFlight = 0;
    let peak = 0;
    const got = await mapLimit(items, limit, async (item, index) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      // later items finish first, so order cannot come from completion order
      await tick((count - index) % 4);
      inFlight--;
      return `${item}:${index}`;
    });
    expect(got).toEqual(items.map((i) => `${i}:${i}`));
    expect(peak).toBe(Math.min(limit, count));
  });

  it('calls fn exactly once per item', async () => {
    const seen: number[] = [];
    await mapLimit([5, 6, 7, 8, 9], 2, async (item) => {
      seen.push(item);
      await tick(0);
    });
    expect(seen.sort()).toEqual([5, 6, 7, 8, 9]);
  });

  it('returns an empty list for no items without calling fn', async () => {
    let calls = 0;
    expect(
      await mapLimit([], 4, async () => {
        calls++;
      }),
    ).toEqual([]);
    expect(calls).toBe(0);
  });

  it.each([0, -1])('runs one at a time for a limit of %d, rather than not at all', async (limit) => {
    let inFlight = 0;
    let peak = 0;
    const got = await mapLimit([1, 2, 3], limit, async (x) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await tick(1);
      inFlight--;
      return x * 2;
    });
    expect(got).toEqual([2, 4, 6]);
    expect(peak).toBe(1);
  });

  it('rejects with the first failure', async () => {
    await expect(
      mapLimit([1, 2, 3], 2, async (x) => {
        await tick(x);
        if (x === 2) throw new Error('item 2 failed');
        return x;
      }),
    ).rejects.toThrow('item 2 failed');
  });
});

describe('batches', () => {
  it.each<[number, number, number[]]>([
    [0, 256, []],
    [1, 256, [1]],
    [256, 256, [256]],
    [257, 256, [256, 1]],
    [513, 256, [256, 256, 1]],
    [10, 3, [3, 3, 3, 1]],
    [6, 3, [3, 3]],
    [5, 1, [1, 1, 1, 1, 1]],
  ])('%d items in batches of %d', (count, size, sizes) => {
    const items = Array.from({ length: count }, (_, i) => i);
    const got = [...batches(items, size)];
    expect(got.map((b) => b.length)).toEqual(sizes);
    expect(got.flat()).toEqual(items);
  });

  it('defaults to batches of 256', () => {
    const got = [...batches(Array.from({ length: 600 }, (_, i) => i))];
    expect(got.map((b) => b.length)).toEqual([256, 256, 88]);
  });
});
