import { describe, expect, it } from 'vitest';
import { ActivationError, forgetActivationEnv, listenTarget } from './listener.js';

describe('listenTarget', () => {
  it.each([
    ['unix:///var/run/cri-dockerd.sock', '/var/run/cri-dockerd.sock'],
    ['/run/x.sock', '/run/x.sock'],
  ])('%s is a path', (endpoint, path) => {
    expect(listenTarget(endpoint, {}, 1)).toEqual({ kind: 'path', path });
  });

  it.each([
    ['fd://', { LISTEN_PID: '42', LISTEN_FDS: '1' }, 3, 'fd 3'],
    ['fd://', { LISTEN_FDS: '2', LISTEN_FDNAMES: 'cri:other' }, 3, 'cri'],
    ['fd://1', { LISTEN_PID: '42', LISTEN_FDS: '2', LISTEN_FDNAMES: 'cri:other' }, 4, 'other'],
    ['fd://other', { LISTEN_PID: '42', LISTEN_FDS: '2', LISTEN_FDNAMES: 'cri:other' }, 4, 'other'],
  ])('%s with %j is fd %i', (endpoint, env, fd, name) => {
    expect(listenTarget(endpoint, env, 42)).toEqual({ kind: 'fd', fd, name });
  });

  it.each([
    ['no socket passed', 'fd://', {}, /passed no socket/],
    ['LISTEN_FDS=0', 'fd://', { LISTEN_FDS: '0' }, /passed no socket/],
    ['LISTEN_FDS nonsense', 'fd://', { LISTEN_FDS: 'x' }, /passed no socket/],
    ['sockets for another process', 'fd://', { LISTEN_PID: '7', LISTEN_FDS: '1' }, /for process 7, not this one \(42\)/],
    ['an index past the passed sockets', 'fd://2', { LISTEN_FDS: '2' }, /passed 2 socket\(s\); there is no number 2/],
    ['an unknown name', 'fd://cri', { LISTEN_FDS: '1', LISTEN_FDNAMES: 'other' }, /no passed socket is named "cri"/],
  ])('refuses %s', (_what, endpoint, env, message) => {
    expect(() => listenTarget(endpoint, env, 42)).toThrow(ActivationError);
    expect(() => listenTarget(endpoint, env, 42)).toThrow(message);
  });
});

describe('forgetActivationEnv', () => {
  it('removes the variables children must not inherit, and only those', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: '1', LISTEN_FDS: '1', LISTEN_FDNAMES: 'cri', PATH: '/bin' };
    forgetActivationEnv(env);
    expect(env).toEqual({ PATH: '/bin' });
  });
});
