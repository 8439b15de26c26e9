import { describe, expect, it } from 'vitest';
import { Code, CriError } from '../errors.js';
import { type ImageReference, MAX_REFERENCE_LENGTH, isImageId, parseReference, pullTarget } from './reference.js';

const HEX = '0123456789abcdef'.repeat(4);
const SHA = `sha256:${HEX}`;

function rejection(ref: string): CriError {
  try {
    parseReference(ref);
  } catch (err) {
    expect(err).toBeInstanceOf(CriError);
    return err as CriError;
  }
  throw new Error(`"${ref}" was accepted`);
}

describe('parseReference', () => {
  it.each<[string, ImageReference]>([
    ['busybox', { name: 'busybox', familiar: 'docker.io/library/busybox', tag: undefined, digest: undefined }],
    ['busybox:1.36', { name: 'busybox', familiar: 'docker.io/library/busybox', tag: '1.36', digest: undefined }],
    ['busybox:latest', { name: 'busybox', familiar: 'docker.io/library/busybox', tag: 'latest', digest: undefined }],
    ['library/busybox', { name: 'library/busybox', familiar: 'docker.io/library/busybox', tag: undefined, digest: undefined }],
    ['docker.io/busybox', { name: 'docker.io/busybox', familiar: 'docker.io/library/busybox', tag: undefined, digest: undefined }],
    ['docker.io/library/busybox:1', { name: 'docker.io/library/busybox', familiar: 'docker.io/library/busybox', tag: '1', digest: undefined }],
    ['index.docker.io/library/busybox', { name: 'index.docker.io/library/busybox', familiar: 'docker.io/library/busybox', tag: undefined, digest: undefined }],
    ['bitnami/redis:7', { name: 'bitnami/redis', familiar: 'docker.io/bitnami/redis', tag: '7', digest: undefined }],
    ['registry.k8s.io/pause:3.10', { name: 'registry.k8s.io/pause', familiar: 'registry.k8s.io/pause', tag: '3.10', digest: undefined }],
    ['quay.io/a/b/c:v1.0-rc_1', { name: 'quay.io/a/b/c', familiar: 'quay.io/a/b/c', tag: 'v1.0-rc_1', digest: undefined }],
    ['127.0.0.1:5000/x/y', { name: '127.0.0.1:5000/x/y', familiar: '127.0.0.1:5000/x/y', tag: undefined, digest: undefined }],
    ['127.0.0.1:5000/x/y:t', { name: '127.0.0.1:5000/x/y', familiar: '127.0.0.1:5000/x/y', tag: 't', digest: undefined }],
    ['localhost/app', { name: 'localhost/app', familiar: 'localhost/app', tag: undefined, digest: undefined }],
    ['localhost:5000/app:dev', { name: 'localhost:5000/app', familiar: 'localhost:5000/app', tag: 'dev', digest: undefined }],
    ['[::1]:5000/app', { name: '[::1]:5000/app', familiar: '[::1]:5000/app', tag: undefined, digest: undefined }],
    ['my-registry:5000/app', { name: 'my-registry:5000/app', familiar: 'my-registry:5000/app', tag: undefined, digest: undefined }],
    // an uppercase first part can only be a host, as in distribution/reference
    ['Registry/app', { name: 'Registry/app', familiar: 'Registry/app', tag: undefined, digest: undefined }],
    // without a slash "localhost" is an image name and ":5000" its tag, as Docker reads it
    ['localhost', { name: 'localhost', familiar: 'docker.io/library/localhost', tag: undefined, digest: undefined }],
    ['localhost:5000', { name: 'localhost', familiar: 'docker.io/library/localhost', tag: '5000', digest: undefined }],
    // a colon before the last slash is a port, never a tag
    ['busybox:1/2', { name: 'busybox:1/2', familiar: 'busybox:1/2', tag: undefined, digest: undefined }],
    ['example.com', { name: 'example.com', familiar: 'docker.io/library/example.com', tag: undefined, digest: undefined }],
    ['a_b__c-d--e/g', { name: 'a_b__c-d--e/g', familiar: 'docker.io/a_b__c-d--e/g', tag: undefined, digest: undefined }],
    [`busybox@${SHA}`, { name: 'busybox', familiar: 'docker.io/library/busybox', tag: undefined, digest: SHA }],
    [`busybox:1.36@${SHA}`, { name: 'busybox', familiar: 'docker.io/library/busybox', tag: '1.36', digest: SHA }],
    [`localhost:5000/app@${SHA}`, { name: 'localhost:5000/app', familiar: 'localhost:5000/app', tag: undefined, digest: SHA }],
    [`app@sha512:${HEX}${HEX}`, { name: 'app', familiar: 'docker.io/library/app', tag: undefined, digest: `sha512:${HEX}${HEX}` }],
    [`app:${'t'.repeat(128)}`, { name: 'app', familiar: 'docker.io/library/app', tag: 't'.repeat(128), digest: undefined }],
  ])('%s', (ref, want) => {
    expect(parseReference(ref)).toEqual(want);
  });

  it.each<[string, string, RegExp]>([
    ['empty', '', /: empty$/],
    ['uppercase name', 'BusyBox', /must be lowercase/],
    ['uppercase path part', 'docker.io/library/BusyBox', /must be lowercase/],
    ['uppercase after a host', 'quay.io/Org/app', /must be lowercase/],
    ['an empty path part', 'a//b', /must be lowercase/],
    ['a leading slash', '/busybox', /must be lowercase/],
    ['a trailing slash', 'busybox/', /must be lowercase/],
    ['a host only', 'quay.io/', /must be lowercase/],
    ['a leading separator', '-busybox', /must be lowercase/],
    ['a trailing separator', 'busybox-', /must be lowercase/],
    ['a double dot', 'a..b', /must be lowercase/],
    ['three underscores', 'a___b', /must be lowercase/],
    ['a space', 'busy box', /must be lowercase/],
    ['an empty tag', 'busybox:', /"" is not a valid tag/],
    ['a tag starting with a dot', 'busybox:.1', /".1" is not a valid tag/],
    ['a tag of 129 characters', `app:${'t'.repeat(129)}`, /is not a valid tag/],
    ['a host with an empty port', 'quay.io:/app', /"quay.io:" is not a registry host/],
    ['a host with a bad port', 'quay.io:x5/app:1', /is not a registry host/],
    ['an underscore in a host', 'a_b.io/g', /"a_b.io" is not a registry host/],
    ['a host ending in a dash', 'bad-.io/app', /"bad-.io" is not a registry host/],
    ['an empty digest', 'busybox@', /"" is not a digest/],
    ['a digest without algorithm', `busybox@${HEX}`, /is not a digest/],
    ['a short sha256 digest', 'busybox@sha256:abc', /"sha256:abc" is not a digest/],
    ['a sha256 digest of 63 digits', `busybox@sha256:${HEX.slice(1)}`, /64 lowercase hex digits/],
    ['a sha256 digest of 65 digits', `busybox@sha256:${HEX}0`, /64 lowercase hex digits/],
    ['an uppercase sha256 digest', `busybox@sha256:${HEX.toUpperCase()}`, /64 lowercase hex digits/],
    ['a non-hex sha256 digest', `busybox@sha256:${'g'.repeat(64)}`, /64 lowercase hex digits/],
    ['two digests', `busybox@${SHA}@${SHA}`, /is not a digest/],
    ['only a digest', `@${SHA}`, /must be lowercase/],
    ['a name of 256 characters', `org/${'a'.repeat(252)}`, /must not be more than 255 characters/],
    // "library/" counts: Docker normalizes first, then limits the path
    ['an official name of 248 characters', 'a'.repeat(248), /must not be more than 255 characters/],
    ['a reference longer than the limit', 'a'.repeat(MAX_REFERENCE_LENGTH + 1), /longer than 4096 characters/],
  ])('rejects %s', (_name, ref, why) => {
    const err = rejection(ref);
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.message).toMatch(why);
  });

  it('accepts names at the 255-character limit', () => {
    expect(parseReference(`org/${'a'.repeat(251)}`).familiar).toBe(`docker.io/org/${'a'.repeat(251)}`);
    expect(parseReference('a'.repeat(247)).familiar).toBe(`docker.io/library/${'a'.repeat(247)}`);
    expect(parseReference(`quay.io/${'a'.repeat(255)}`).name).toBe(`quay.io/${'a'.repeat(255)}`);
  });

  it('names the reference in its message, cut short when long', () => {
    expect(rejection('Busy').message).toMatch(/^invalid image reference "Busy": /);
    const long = `${'a'.repeat(300)}:?`;
    const message = rejection(long).message;
    expect(message).toContain(`"${'a'.repeat(200)}…"`);
    expect(message).not.toContain('a'.repeat(201));
  });
});

describe('pullTarget', () => {
  it.each<[string, { name: string; tagOrDigest: string }]>([
    ['busybox', { name: 'busybox', tagOrDigest: 'latest' }],
    ['busybox:1.36', { name: 'busybox', tagOrDigest: '1.36' }],
    [`busybox@${SHA}`, { name: 'busybox', tagOrDigest: SHA }],
    [`busybox:1.36@${SHA}`, { name: 'busybox', tagOrDigest: SHA }],
    ['localhost:5000/app', { name: 'localhost:5000/app', tagOrDigest: 'latest' }],
    ['docker.io/library/busybox:1', { name: 'docker.io/library/busybox', tagOrDigest: '1' }],
  ])('%s', (ref, want) => {
    expect(pullTarget(parseReference(ref))).toEqual(want);
  });
});

describe('isImageId', () => {
  it.each<[string, boolean]>([
    [HEX, true],
    [SHA, true],
    [HEX.slice(1), false],
    [`${HEX}0`, false],
    [`sha256:${HEX.slice(0, 12)}`, false],
    [HEX.slice(0, 12), false],
    [HEX.toUpperCase(), false],
    [`sha512:${HEX}`, false],
    [`sha256:sha256:${HEX}`, false],
    [`busybox@${SHA}`, false],
    ['busybox', false],
    ['', false],
  ])('%s → %s', (ref, want) => {
    expect(isImageId(ref)).toBe(want);
  });
});
