import { describe, expect, it } from 'vitest';
import { Code, CriError } from '../errors.js';
import { engineMessage, fromDocker, isUnreachable, statusOf } from './errors.js';

/** An error as docker-modem builds it for a non-2xx answer of the Engine. */
function engineError(statusCode: number, reason: string, message: string): Error {
  const err = new Error(`(HTTP code ${statusCode}) ${reason} - ${message} `) as Error & { statusCode: number; reason: string; json: unknown };
  err.statusCode = statusCode;
  err.reason = reason;
  err.json = { message };
  return err;
}

/** An error as Node's socket layer raises it. */
function systemError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, errno: -1, syscall: 'connect', address: '/var/run/docker.sock' });
}

describe('fromDocker', () => {
  it.each<[string, unknown, Code, string]>([
    ['ECONNREFUSED', systemError('ECONNREFUSED', 'connect ECONNREFUSED /var/run/docker.sock'), Code.UNAVAILABLE, 'list containers: Docker Engine is unreachable (connect ECONNREFUSED /var/run/docker.sock)'],
    ['ENOENT on the socket', systemError('ENOENT', 'connect ENOENT /var/run/docker.sock'), Code.UNAVAILABLE, 'list containers: Docker Engine is unreachable (connect ENOENT /var/run/docker.sock)'],
    ['EACCES on the socket', systemError('EACCES', 'connect EACCES /var/run/docker.sock'), Code.UNAVAILABLE, 'list containers: Docker Engine is unreachable (connect EACCES /var/run/docker.sock)'],
    ['ECONNRESET', systemError('ECONNRESET', 'socket hang up'), Code.UNAVAILABLE, 'list containers: Docker Engine is unreachable (socket hang up)'],
    ['EPIPE', systemError('EPIPE', 'write EPIPE'), Code.UNAVAILABLE, 'list containers: Docker Engine is unreachable (write EPIPE)'],
    ['a 503', engineError(503, 'unexpected', 'daemon is shutting down'), Code.UNAVAILABLE, 'list containers: daemon is shutting down'],
    ['ESOCKETTIMEDOUT', systemError('ESOCKETTIMEDOUT', 'socket timed out'), Code.DEADLINE_EXCEEDED, 'list containers: Docker Engine did not answer in time'],
    ['a request timeout', new Error('Timeout of 120000ms exceeded'), Code.DEADLINE_EXCEEDED, 'list containers: Docker Engine did not answer in time'],
    ['a 400', engineError(400, 'bad parameter', 'invalid filter "foo"'), Code.INVALID_ARGUMENT, 'list containers: invalid filter "foo"'],
    ['a 401', engineError(401, 'unauthorized', 'authentication required'), Code.PERMISSION_DENIED, 'list containers: authentication required'],
    ['a 403', engineError(403, 'forbidden', 'operation not permitted'), Code.PERMISSION_DENIED, 'list containers: operation not permitted'],
    ['a 404', engineError(404, 'no such container', 'No such container: abc'), Code.NOT_FOUND, 'list containers: No such container: abc'],
    ['a 409', engineError(409, 'conflict', 'container is running'), Code.FAILED_PRECONDITION, 'list containers: container is running'],
    ['a 500', engineError(500, 'server error', 'something broke'), Code.INTERNAL, 'list containers: something broke'],
    ['a plain Error', new Error('boom'), Code.INTERNAL, 'list containers: boom'],
    ['a string', 'weird', Code.INTERNAL, 'list containers: weird'],
  ])('maps %s', (_name, err, code, message) => {
    const got = fromDocker(err, 'list containers');
    expect(got).toBeInstanceOf(CriError);
    expect(got.code).toBe(code);
    expect(got.message).toBe(message);
    expect(got.cause).toBe(err);
  });

  it('names the object in NOT_FOUND, with the Engine\'s own words', () => {
    const got = fromDocker(engineError(404, 'no such image', 'No such image: busybox:latest'), 'inspect image busybox:latest');
    expect(got.code).toBe(Code.NOT_FOUND);
    expect(got.message).toBe('inspect image busybox:latest: No such image: busybox:latest');
  });

  it('names the object in a conflict', () => {
    const got = fromDocker(
      engineError(409, 'conflict', 'unable to remove repository reference "busybox" (must force) - container 0123abcd is using its referenced image 4567ef'),
      'remove image busybox',
    );
    expect(got.code).toBe(Code.FAILED_PRECONDITION);
    expect(got.message).toBe('remove image busybox: unable to remove repository reference "busybox" (must force) - container 0123abcd is using its referenced image 4567ef');
  });

  it('passes a CriError through unchanged', () => {
    const original = new CriError(Code.ABORTED, 'already decided');
    expect(fromDocker(original, 'start container x')).toBe(original);
  });

  it('never yields UNKNOWN or OK', () => {
    for (const err of [undefined, null, {}, 42, engineError(418, 'unexpected', 'teapot')]) {
      const got = fromDocker(err, 'x');
      expect(got.code).not.toBe(Code.UNKNOWN);
      expect(got.code).not.toBe(Code.OK);
    }
  });
});

describe('engineMessage', () => {
  it.each<[string, unknown, string]>([
    ['prefers the JSON body', engineError(404, 'no such container', 'No such container: abc'), 'No such container: abc'],
    ['strips the dockerode prefix without a JSON body', new Error('(HTTP code 409) conflict - container is running '), 'container is running'],
    ['strips a multi-word reason', new Error('(HTTP code 404) no such container - No such container: abc'), 'No such container: abc'],
    ['keeps a plain message', new Error('socket hang up'), 'socket hang up'],
    ['falls back to the message when the body has none', Object.assign(new Error('(HTTP code 500) server error - boom'), { json: {} }), 'boom'],
    ['stringifies a non-error', 'text', 'text'],
  ])('%s', (_name, err, want) => {
    expect(engineMessage(err)).toBe(want);
  });
});

describe('isUnreachable and statusOf', () => {
  it.each<[unknown, boolean]>([
    [systemError('ECONNREFUSED', 'x'), true],
    [systemError('ETIMEDOUT', 'x'), true],
    [systemError('EHOSTUNREACH', 'x'), true],
    [systemError('ENOTSOCK', 'x'), true],
    [systemError('EEXIST', 'x'), false],
    [engineError(503, 'unexpected', 'x'), false],
    [undefined, false],
    [null, false],
  ])('isUnreachable(%s) is %s', (err, want) => {
    expect(isUnreachable(err)).toBe(want);
  });

  it('reads the HTTP status', () => {
    expect(statusOf(engineError(404, 'no such image', 'x'))).toBe(404);
    expect(statusOf(new Error('x'))).toBeUndefined();
    expect(statusOf(undefined)).toBeUndefined();
  });
});
