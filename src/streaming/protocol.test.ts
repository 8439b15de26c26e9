import { describe, expect, it } from 'vitest';
import { errorStreamMessage, hasResize, negotiate, ResizeDecoder, SPDY_REMOTE_COMMAND_PROTOCOLS } from './protocol.js';
import { TokenRegistry } from './tokens.js';
import { parseBindAddr } from './server.js';

describe('negotiate', () => {
  it.each([
    [['v4.channel.k8s.io', 'v3.channel.k8s.io'], 'v4.channel.k8s.io'],
    ['v3.channel.k8s.io, v2.channel.k8s.io', 'v3.channel.k8s.io'],
    [['v9.channel.k8s.io', 'channel.k8s.io'], 'channel.k8s.io'],
    [undefined, ''],
    [['v9.channel.k8s.io'], undefined],
  ])('%j → %j', (offered, chosen) => {
    expect(negotiate(offered as string | string[] | undefined, SPDY_REMOTE_COMMAND_PROTOCOLS)).toBe(chosen);
  });
  it('resize exists from v3 on', () => {
    expect([hasResize('v4.channel.k8s.io'), hasResize('v3.channel.k8s.io'), hasResize('v2.channel.k8s.io'), hasResize('channel.k8s.io')]).toEqual([true, true, false, false]);
  });
});

describe('errorStreamMessage', () => {
  it('v4: Success, or Failure with NonZeroExitCode and the ExitCode cause', () => {
    expect(JSON.parse(errorStreamMessage({ exitCode: 0 }, 'v4.channel.k8s.io')!.toString())).toEqual({ metadata: {}, status: 'Success' });
    const f = JSON.parse(errorStreamMessage({ exitCode: 3 }, 'v5.channel.k8s.io')!.toString());
    expect(f).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
  });
  it('before v4: nothing on success, the message on failure', () => {
    expect(errorStreamMessage({ exitCode: 0 }, 'v3.channel.k8s.io')).toBeUndefined();
    expect(errorStreamMessage({ exitCode: 2 }, 'channel.k8s.io')!.toString()).toMatch(/exit code 2/);
    expect(errorStreamMessage({ error: 'boom' }, 'v2.channel.k8s.io')!.toString()).toBe('boom');
  });
});

describe('ResizeDecoder', () => {
  it('reads Go json.Encoder output cut anywhere and skips junk', () => {
    const d = new ResizeDecoder();
    expect(d.push('{"Width":80,"Hei')).toEqual([]);
    expect(d.push('ght":24}\n{"Width":100,"Height":30}\n{"x":1}\n')).toEqual([
      { width: 80, height: 24 },
      { width: 100, height: 30 },
    ]);
  });
});

describe('TokenRegistry', () => {
  const req = { kind: 'portforward' as const, sandboxDockerId: 'abc', ports: [] };
  it('tokens are long, random, single use', () => {
    const t = new TokenRegistry();
    const a = t.issue(req);
    const b = t.issue(req);
    expect(a).not.toBe(b);
    expect(Buffer.from(a, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(t.consume(a)).toEqual(req);
    expect(t.consume(a)).toBeUndefined();
    expect(t.consume('nope')).toBeUndefined();
  });
  it('tokens expire', () => {
    let now = 1000;
    const t = new TokenRegistry(60_000, () => now);
    const a = t.issue(req);
    now += 60_000;
    expect(t.consume(a)).toBeUndefined();
    const b = t.issue(req);
    now += 30_000;
    t.issue(req);
    expect(t.size).toBe(2);
    expect(t.consume(b)).toEqual(req);
  });
});

describe('parseBindAddr', () => {
  it.each([
    ['', { host: '127.0.0.1', port: 0 }],
    ['10.0.0.1', { host: '10.0.0.1', port: 0 }],
    ['127.0.0.1:10010', { host: '127.0.0.1', port: 10010 }],
    ['[::1]:99', { host: '::1', port: 99 }],
    ['::1', { host: '::1', port: 0 }],
  ])('%s', (addr, want) => expect(parseBindAddr(addr)).toEqual(want));
});
