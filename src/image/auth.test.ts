import { describe, expect, it } from 'vitest';
import { Code, CriError } from '../errors.js';
import type { RegistryAuth } from '../docker/client.js';
import type { runtime } from '../gen/api.js';
import { MAX_CREDENTIAL_LENGTH, toRegistryAuth } from './auth.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const REGISTRY = 'registry.example.com';

describe('toRegistryAuth', () => {
  it.each<[string, runtime.v1.IAuthConfig | null | undefined, RegistryAuth | undefined]>([
    ['no auth', undefined, undefined],
    ['null auth', null, undefined],
    ['an empty auth', {}, undefined],
    ['only empty strings', { username: '', password: '', auth: '', identityToken: '', registryToken: '' }, undefined],
    ['only a server address', { serverAddress: 'other.example.com' }, undefined],
    ['username and password', { username: 'u', password: 'p' }, { username: 'u', password: 'p', serveraddress: REGISTRY }],
    ['only a username', { username: 'u' }, { username: 'u', serveraddress: REGISTRY }],
    ['the server address given', { username: 'u', password: 'p', serverAddress: 'mirror.example.com' }, { username: 'u', password: 'p', serveraddress: 'mirror.example.com' }],
    ['auth as base64 user:pass', { auth: b64('alice:s3cret') }, { username: 'alice', password: 's3cret', serveraddress: REGISTRY }],
    ['auth wins over username and password', { username: 'u', password: 'p', auth: b64('alice:s3cret') }, { username: 'alice', password: 's3cret', serveraddress: REGISTRY }],
    ['a password holding colons', { auth: b64('alice:a:b:c') }, { username: 'alice', password: 'a:b:c', serveraddress: REGISTRY }],
    ['an empty password in auth', { auth: b64('alice:') }, { username: 'alice', serveraddress: REGISTRY }],
    ['non-ASCII credentials', { auth: b64('jürgen:pässwörd') }, { username: 'jürgen', password: 'pässwörd', serveraddress: REGISTRY }],
    ['URL-safe base64', { auth: Buffer.from('a:>>>?').toString('base64url') }, { username: 'a', password: '>>>?', serveraddress: REGISTRY }],
    ['an identity token', { identityToken: 'refresh-token' }, { identitytoken: 'refresh-token', serveraddress: REGISTRY }],
    ['a registry token', { registryToken: 'bearer-token' }, { registrytoken: 'bearer-token', serveraddress: REGISTRY }],
    [
      'everything at once',
      { username: 'u', password: 'p', identityToken: 'i', registryToken: 'r', serverAddress: 's' },
      { username: 'u', password: 'p', identitytoken: 'i', registrytoken: 'r', serveraddress: 's' },
    ],
  ])('%s', (_name, auth, want) => {
    expect(toRegistryAuth(auth, REGISTRY)).toEqual(want);
  });

  it.each<[string, string]>([
    ['not base64', 'not base64!'],
    ['no colon', b64('alice')],
    ['an empty username', b64(':secret')],
    ['only a colon', b64(':')],
    ['whitespace in the base64', `${b64('alice:s3cret')} `],
  ])('rejects auth with %s', (_name, auth) => {
    let caught: unknown;
    try {
      toRegistryAuth({ auth }, REGISTRY);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CriError);
    expect((caught as CriError).code).toBe(Code.INVALID_ARGUMENT);
    expect((caught as CriError).message).toMatch(/auth\.auth must be base64 of "username:password"/);
    // the secret must never be echoed back
    expect((caught as CriError).message).not.toContain(auth);
  });

  it.each(['username', 'password', 'auth', 'serverAddress', 'identityToken', 'registryToken'] as const)('rejects an oversized %s without echoing it', (field) => {
    const huge = 'x'.repeat(MAX_CREDENTIAL_LENGTH + 1);
    let caught: unknown;
    try {
      toRegistryAuth({ username: 'u', password: 'p', [field]: huge }, REGISTRY);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CriError);
    expect((caught as CriError).code).toBe(Code.INVALID_ARGUMENT);
    expect((caught as CriError).message).toBe(`auth.${field} is longer than ${MAX_CREDENTIAL_LENGTH} characters`);
  });

  it('accepts credentials of the largest allowed size', () => {
    const big = 'p'.repeat(MAX_CREDENTIAL_LENGTH);
    expect(toRegistryAuth({ username: 'u', password: big }, REGISTRY)).toEqual({ username: 'u', password: big, serveraddress: REGISTRY });
  });
});
