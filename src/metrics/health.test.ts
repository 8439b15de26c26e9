import { describe, expect, it } from 'vitest';
import { HealthCheck } from './health.js';

function probe(opts: { serving?: boolean; ping?: () => Promise<void> } = {}) {
  const state = { serving: opts.serving ?? true, pings: 0, now: 0 };
  const check = new HealthCheck(
    {
      grpcServing: () => state.serving,
      pingDocker: () => {
        state.pings++;
        return (opts.ping ?? (() => Promise.resolve()))();
      },
    },
    { pingTimeoutMs: 20, cacheMs: 1000, now: () => state.now },
  );
  return { check, state };
}

describe('HealthCheck', () => {
  it('is healthy while the gRPC server serves and Docker answers', async () => {
    expect(await probe().check.check()).toEqual({ healthy: true });
  });

  it('names the gRPC server when it does not serve, without asking Docker', async () => {
    const { check, state } = probe({ serving: false });
    expect(await check.check()).toEqual({ healthy: false, reason: 'grpc server not serving' });
    expect(state.pings).toBe(0);
  });

  it('gives the first line of Docker\'s error as the reason', async () => {
    const { check } = probe({ ping: () => Promise.reject(new Error('ping Docker Engine: Docker Engine is unreachable (connect ENOENT /x.sock)\nmore')) });
    expect(await check.check()).toEqual({ healthy: false, reason: 'docker: ping Docker Engine: Docker Engine is unreachable (connect ENOENT /x.sock)' });
  });

  it('counts a ping that never answers as no answer', async () => {
    const { check } = probe({ ping: () => new Promise(() => undefined) });
    expect(await check.check()).toEqual({ healthy: false, reason: 'docker: no answer to a ping within 0.02 s' });
  });

  it('reuses a ping\'s outcome for cacheMs, then pings again', async () => {
    let up = true;
    const { check, state } = probe({ ping: () => (up ? Promise.resolve() : Promise.reject(new Error('down'))) });
    expect((await check.check()).healthy).toBe(true);
    up = false;
    state.now = 999;
    expect((await check.check()).healthy).toBe(true);
    expect(state.pings).toBe(1);
    state.now = 1000;
    expect(await check.check()).toEqual({ healthy: false, reason: 'docker: down' });
    expect(state.pings).toBe(2);
  });

  it('shares one ping among checks that arrive together', async () => {
    const { check, state } = probe();
    const results = await Promise.all([check.check(), check.check(), check.check()]);
    expect(results.every((r) => r.healthy)).toBe(true);
    expect(state.pings).toBe(1);
  });

  it('never sends a second ping while one that timed out still hangs', async () => {
    let answer: () => void = () => undefined;
    let first = true;
    const hangOnce = (): Promise<void> => {
      if (!first) return Promise.resolve();
      first = false;
      return new Promise<void>((resolve) => (answer = resolve));
    };
    const { check, state } = probe({ ping: hangOnce });
    expect((await check.check()).healthy).toBe(false);
    state.now = 5000;
    expect((await check.check()).healthy).toBe(false);
    expect(state.pings).toBe(1);
    answer();
    await new Promise((r) => setImmediate(r));
    state.now = 10_000;
    expect(await check.check()).toEqual({ healthy: true });
    expect(state.pings).toBe(2);
  });
});
