import { describe, expect, it } from 'vitest';
import { CopyBuffers } from './file-copier.js';

describe('copy buffers', () => {
  it('are made when first needed, at most count of them, and a waiter gets the next one released', async () => {
    const buffers = new CopyBuffers(2, 1024);
    const a = await buffers.acquire();
    const b = await buffers.acquire();
    expect(a.input).not.toBe(b.input);
    expect(a.input.length).toBe(1024);
    expect(a.output.length).toBe(1024 + 64 * 1024);
    let third: { input: Buffer } | undefined;
    const waiting = buffers.acquire().then((got) => (third = got));
    await new Promise((r) => setImmediate(r));
    expect(third).toBeUndefined();
    buffers.release(b);
    await waiting;
    expect(third!.input).toBe(b.input);
    buffers.release(a);
    expect((await buffers.acquire()).input).toBe(a.input);
  });
});
