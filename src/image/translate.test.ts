import { describe, expect, it } from 'vitest';
import type { runtime } from '../gen/api.js';
import { type DockerImageLike, imageUser, isPinnedImage, refersToId, toCriImage } from './translate.js';

const HEX = '0123456789abcdef'.repeat(4);
const ID = `sha256:${HEX}`;

describe('imageUser', () => {
  it.each<[string | undefined, { uid?: number; username?: string }]>([
    [undefined, {}],
    ['', {}],
    ['0', { uid: 0 }],
    ['1000', { uid: 1000 }],
    ['1000:1000', { uid: 1000 }],
    ['65534:nogroup', { uid: 65534 }],
    ['nginx', { username: 'nginx' }],
    ['nginx:nginx', { username: 'nginx' }],
    ['www-data:33', { username: 'www-data' }],
    ['user1', { username: 'user1' }],
    [':1000', {}],
  ])('%j → %j', (user, want) => {
    expect(imageUser(user)).toEqual(want);
  });
});

describe('toCriImage', () => {
  const base: DockerImageLike = {
    Id: ID,
    RepoTags: ['busybox:latest', 'busybox:1.36'],
    RepoDigests: [`busybox@sha256:${'f'.repeat(64)}`],
    Size: 4_261_550,
  };

  it.each<[string, DockerImageLike, boolean, runtime.v1.IImage]>([
    [
      'a tagged image without a user',
      base,
      false,
      { id: ID, repoTags: ['busybox:latest', 'busybox:1.36'], repoDigests: [`busybox@sha256:${'f'.repeat(64)}`], size: 4_261_550, spec: { image: ID }, pinned: false },
    ],
    [
      'a pinned image with a numeric user',
      { ...base, Config: { User: '1000:1000' } },
      true,
      { id: ID, repoTags: ['busybox:latest', 'busybox:1.36'], repoDigests: [`busybox@sha256:${'f'.repeat(64)}`], size: 4_261_550, spec: { image: ID }, pinned: true, uid: { value: 1000 } },
    ],
    [
      'root as uid 0, not as "no user"',
      { ...base, Config: { User: '0' } },
      false,
      { id: ID, repoTags: ['busybox:latest', 'busybox:1.36'], repoDigests: [`busybox@sha256:${'f'.repeat(64)}`], size: 4_261_550, spec: { image: ID }, pinned: false, uid: { value: 0 } },
    ],
    [
      'a named user',
      { ...base, Config: { User: 'nginx' } },
      false,
      { id: ID, repoTags: ['busybox:latest', 'busybox:1.36'], repoDigests: [`busybox@sha256:${'f'.repeat(64)}`], size: 4_261_550, spec: { image: ID }, pinned: false, username: 'nginx' },
    ],
    [
      'a dangling image: <none> references dropped, nulls and a missing size',
      { Id: ID, RepoTags: ['<none>:<none>'], RepoDigests: ['<none>@<none>'], Config: null },
      false,
      { id: ID, repoTags: [], repoDigests: [], size: 0, spec: { image: ID }, pinned: false },
    ],
    [
      'null reference lists',
      { Id: ID, RepoTags: null, RepoDigests: null, Size: 1 },
      false,
      { id: ID, repoTags: [], repoDigests: [], size: 1, spec: { image: ID }, pinned: false },
    ],
    [
      'an image pulled only by digest',
      { Id: ID, RepoTags: [], RepoDigests: ['<none>@<none>', `quay.io/app@sha256:${'e'.repeat(64)}`], Size: 7 },
      false,
      { id: ID, repoTags: [], repoDigests: [`quay.io/app@sha256:${'e'.repeat(64)}`], size: 7, spec: { image: ID }, pinned: false },
    ],
  ])('%s', (_name, image, pinned, want) => {
    expect(toCriImage(image, pinned)).toEqual(want);
  });
});

describe('refersToId', () => {
  it.each<[string, boolean]>([
    [ID, true],
    [HEX, true],
    [HEX.slice(0, 12), true],
    [`sha256:${HEX.slice(0, 12)}`, true],
    ['0', true],
    [HEX.slice(1, 13), false],
    [`${HEX}0`, false],
    [HEX.slice(0, 12).toUpperCase(), false],
    ['', false],
    ['sha256:', false],
    ['busybox', false],
    ['busybox:latest', false],
    [`busybox@${ID}`, false],
    ['sha512:0123', false],
  ])('%j → %s', (ref, want) => {
    expect(refersToId(ref, ID)).toBe(want);
  });

  it('accepts an image ID given without its prefix', () => {
    expect(refersToId(HEX.slice(0, 6), HEX)).toBe(true);
    expect(refersToId(`sha256:${HEX.slice(0, 6)}`, HEX)).toBe(true);
  });
});

describe('isPinnedImage', () => {
  const DIGEST = `sha256:${'a'.repeat(64)}`;
  const pause = { RepoTags: ['registry.k8s.io/pause:3.10'], RepoDigests: [`registry.k8s.io/pause@${DIGEST}`] };
  const hubPause = { RepoTags: ['pause:3.10', 'mirror.local/pause:3.10'], RepoDigests: [] };
  it.each<[string, Pick<DockerImageLike, 'RepoTags' | 'RepoDigests'>, string, boolean]>([
    ['the flag as the tag reads', pause, 'registry.k8s.io/pause:3.10', true],
    ['the flag by digest', pause, `registry.k8s.io/pause@${DIGEST}`, true],
    ['another tag of the same repository', pause, 'registry.k8s.io/pause:3.9', false],
    ['another registry', pause, 'mirror.local/pause:3.10', false],
    ['a Docker Hub image named in full', hubPause, 'docker.io/library/pause:3.10', true],
    ['a Docker Hub image named with docker.io/ only', hubPause, 'docker.io/pause:3.10', true],
    ['a Docker Hub image named short', hubPause, 'pause:3.10', true],
    ['no tag in the flag means latest', { RepoTags: ['pause:latest'], RepoDigests: [] }, 'pause', true],
    ['no tag in the flag is not another tag', hubPause, 'pause', false],
    ['an untagged image', { RepoTags: ['<none>:<none>'], RepoDigests: [] }, 'pause:3.10', false],
    ['no tags at all', { RepoTags: null, RepoDigests: null }, 'pause:3.10', false],
    ['a flag that is no reference', pause, 'Not A Reference', false],
  ])('%s: %s', (_, image, flag, expected) => {
    expect(isPinnedImage(image, flag)).toBe(expected);
  });
});
