import { describe, expect, it } from 'vitest';
import { PullWatch } from './pull-watch.js';

const DEADLINE = 60_000;

describe('PullWatch', () => {
  it('stalls when nothing arrives for the deadline', () => {
    const w = new PullWatch(0);
    expect(w.stalled(DEADLINE - 1, DEADLINE)).toBe(false);
    expect(w.stalled(DEADLINE, DEADLINE)).toBe(true);
  });

  it('any bytes or message restart the deadline', () => {
    const w = new PullWatch(0);
    w.touch(50_000);
    expect(w.stalled(100_000, DEADLINE)).toBe(false);
    w.seen({ status: 'Downloading', id: 'a' }, 100_000);
    expect(w.stalled(159_999, DEADLINE)).toBe(false);
    expect(w.stalled(160_000, DEADLINE)).toBe(true);
  });

  it('never stalls while a layer is being extracted', () => {
    const w = new PullWatch(0);
    w.seen({ status: 'Download complete', id: 'a' }, 1_000);
    w.seen({ status: 'Extracting', id: 'a' }, 2_000);
    expect(w.stalled(10 * DEADLINE, DEADLINE)).toBe(false);
  });

  it('stalls again once the layer is extracted and nothing else arrives', () => {
    const w = new PullWatch(0);
    w.seen({ status: 'Extracting', id: 'a' }, 1_000);
    w.seen({ status: 'Extracting', id: 'b' }, 1_500);
    w.seen({ status: 'Pull complete', id: 'a' }, 2_000);
    expect(w.stalled(2_000 + DEADLINE, DEADLINE)).toBe(false);
    w.seen({ status: 'Pull complete', id: 'b' }, 3_000);
    expect(w.stalled(3_000 + DEADLINE, DEADLINE)).toBe(true);
  });

  it('a stalled download beside no extraction still stalls; messages without a layer do not start one', () => {
    const w = new PullWatch(0);
    w.seen({ status: 'Extracting' }, 1_000);
    w.seen({ status: 'Downloading', id: 'c' }, 2_000);
    expect(w.stalled(2_000 + DEADLINE, DEADLINE)).toBe(true);
  });
});
