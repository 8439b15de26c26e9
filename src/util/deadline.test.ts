import { describe, expect, it } from 'vitest';
import { DeadlineError, within } from './deadline.js';

describe('within', () => {
  it('gives the answer that comes in time', async () => {
    await expect(within(Promise.resolve(7), 1000, 'x')).resolves.toBe(7);
  });

  it('gives the failure that comes in time', async () => {
    await expect(within(Promise.reject(new Error('boom')), 1000, 'x')).rejects.toThrow('boom');
  });

  it('stops waiting for work that never answers, naming it', async () => {
    const never = new Promise<number>(() => undefined);
    const err = await within(never, 20, 'Docker Engine').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineError);
    expect((err as Error).message).toBe('Docker Engine did not answer within 20 ms');
  });

  it('leaves no unhandled rejection when the work fails after the deadline', async () => {
    let fail!: (e: Error) => void;
    const late = new Promise<number>((_, reject) => (fail = reject));
    await expect(within(late, 10, 'x')).rejects.toBeInstanceOf(DeadlineError);
    fail(new Error('too late'));
    await new Promise((r) => setTimeout(r, 10));
  });
});
