import { describe, expect, it } from 'vitest';
import {
  type ContainerNameParts,
  containerName,
  extractLabels,
  isNamePart,
  makeLabels,
  parseName,
  randomizedName,
  sandboxName,
  withoutInherited,
} from './naming.js';

const UID = '9a1c5f0e-3b1d-4c7e-8f2a-6d5b4c3a2e1f';

describe('sandboxName', () => {
  it.each<[string, Parameters<typeof sandboxName>[0], string]>([
    ['a first attempt', { name: 'nginx-7c5ddbdf54-x2x9p', namespace: 'default', uid: UID, attempt: 0 }, `k8s_POD_nginx-7c5ddbdf54-x2x9p_default_${UID}_0`],
    ['a later attempt', { name: 'coredns-5d78c9869d-abcde', namespace: 'kube-system', uid: UID, attempt: 3 }, `k8s_POD_coredns-5d78c9869d-abcde_kube-system_${UID}_3`],
  ])('%s', (_name, parts, want) => {
    expect(sandboxName(parts)).toBe(want);
  });
});

describe('containerName', () => {
  it('puts the container name where a sandbox has POD', () => {
    expect(containerName({ containerName: 'app', name: 'web-0', namespace: 'shop', uid: UID, attempt: 2 })).toBe(`k8s_app_web-0_shop_${UID}_2`);
  });
});

describe('parseName', () => {
  it.each<[string, string, ContainerNameParts | undefined]>([
    ['a sandbox with the leading slash Docker reports', `/k8s_POD_web-0_shop_${UID}_1`, { containerName: 'POD', name: 'web-0', namespace: 'shop', uid: UID, attempt: 1 }],
    ['a sandbox without the slash', `k8s_POD_web-0_shop_${UID}_0`, { containerName: 'POD', name: 'web-0', namespace: 'shop', uid: UID, attempt: 0 }],
    ['a container', `/k8s_app_web-0_shop_${UID}_4`, { containerName: 'app', name: 'web-0', namespace: 'shop', uid: UID, attempt: 4 }],
    ['7 parts: a random suffix after a name conflict', `/k8s_app_web-0_shop_${UID}_4_2864434397`, { containerName: 'app', name: 'web-0', namespace: 'shop', uid: UID, attempt: 4 }],
    ['the largest uint32 attempt', `/k8s_POD_p_ns_${UID}_4294967295`, { containerName: 'POD', name: 'p', namespace: 'ns', uid: UID, attempt: 4294967295 }],
    ['an attempt beyond uint32', `/k8s_POD_p_ns_${UID}_4294967296`, undefined],
    ['a non-numeric attempt', `/k8s_POD_p_ns_${UID}_one`, undefined],
    ['a negative attempt', `/k8s_POD_p_ns_${UID}_-1`, undefined],
    ['an empty attempt', `/k8s_POD_p_ns_${UID}_`, undefined],
    ['a fractional attempt', `/k8s_POD_p_ns_${UID}_1.5`, undefined],
    ['5 parts', `/k8s_POD_p_ns_${UID}`, undefined],
    ['8 parts', `/k8s_POD_p_ns_${UID}_0_1_2`, undefined],
    ['another prefix', `/k9s_POD_p_ns_${UID}_0`, undefined],
    ['a plain Docker name', '/nostalgic_hopper', undefined],
    ['a compose name', '/shop-web-1', undefined],
    ['an empty name', '', undefined],
  ])('%s', (_name, dockerName, want) => {
    expect(parseName(dockerName)).toEqual(want);
  });

  it.each<ContainerNameParts>([
    { containerName: 'POD', name: 'nginx', namespace: 'default', uid: UID, attempt: 0 },
    { containerName: 'POD', name: 'a', namespace: 'b', uid: 'c', attempt: 17 },
    { containerName: 'sidecar', name: 'web.example.com', namespace: 'kube-system', uid: UID, attempt: 1 },
  ])('round trips %j through its name, with and without a random suffix', (parts) => {
    const name = parts.containerName === 'POD' ? sandboxName(parts) : containerName(parts);
    expect(parseName(name)).toEqual(parts);
    expect(parseName(`/${name}`)).toEqual(parts);
    const randomized = randomizedName(name);
    expect(randomized).toMatch(new RegExp(`^${name.replace(/\./g, '\\.')}_[0-9a-f]{8}$`));
    expect(parseName(randomized)).toEqual(parts);
  });
});

describe('isNamePart', () => {
  it.each<[string, boolean]>([
    ['nginx', true],
    ['kube-system', true],
    ['a', true],
    ['x'.repeat(253), true],
    ['x'.repeat(254), false],
    ['', false],
    ['my_pod', false],
    ['a/b', false],
  ])('%j → %s', (part, want) => {
    expect(isNamePart(part)).toBe(want);
  });
});

describe('makeLabels', () => {
  it.each<[string, Record<string, string> | null | undefined, Record<string, string> | null | undefined, Record<string, string>]>([
    ['nothing', undefined, null, {}],
    ['labels as they are', { app: 'web', 'app.kubernetes.io/name': 'shop' }, {}, { app: 'web', 'app.kubernetes.io/name': 'shop' }],
    [
      'annotations under "annotation."',
      { app: 'web' },
      { 'kubernetes.io/config.source': 'api', 'kubernetes.io/config.seen': '2024-05-01T10:00:00.000000000Z' },
      { app: 'web', 'annotation.kubernetes.io/config.source': 'api', 'annotation.kubernetes.io/config.seen': '2024-05-01T10:00:00.000000000Z' },
    ],
    ['an annotation and a label with the same key stay apart', { team: 'a' }, { team: 'b' }, { team: 'a', 'annotation.team': 'b' }],
  ])('%s', (_name, labels, annotations, want) => {
    expect(makeLabels(labels, annotations)).toEqual(want);
  });

  it('does not change its inputs', () => {
    const labels = { app: 'web' };
    makeLabels(labels, { a: 'b' });
    expect(labels).toEqual({ app: 'web' });
  });
});

describe('extractLabels', () => {
  it.each<[string, Record<string, string> | null | undefined, { labels: Record<string, string>; annotations: Record<string, string> }]>([
    ['null labels', null, { labels: {}, annotations: {} }],
    [
      'a sandbox: internal labels and the container-name label dropped',
      {
        app: 'web',
        'io.kubernetes.pod.name': 'web-0',
        'io.kubernetes.docker.type': 'podsandbox',
        'io.kubernetes.container.name': 'POD',
        'annotation.kubernetes.io/config.source': 'api',
      },
      { labels: { app: 'web', 'io.kubernetes.pod.name': 'web-0' }, annotations: { 'kubernetes.io/config.source': 'api' } },
    ],
    [
      'a container: internal labels dropped, the container-name label kept',
      {
        'io.kubernetes.container.name': 'app',
        'io.kubernetes.docker.type': 'container',
        'io.kubernetes.sandbox.id': 'f'.repeat(64),
        'io.kubernetes.container.logpath': '/var/log/pods/shop_web-0_uid/app/0.log',
        'annotation.io.kubernetes.container.hash': 'a1b2c3',
      },
      { labels: { 'io.kubernetes.container.name': 'app' }, annotations: { 'io.kubernetes.container.hash': 'a1b2c3' } },
    ],
    ['a container-name label without a type label is kubelet\'s', { 'io.kubernetes.container.name': 'app' }, { labels: { 'io.kubernetes.container.name': 'app' }, annotations: {} }],
    ['an empty annotation key', { 'annotation.': 'v' }, { labels: {}, annotations: { '': 'v' } }],
  ])('%s', (_name, dockerLabels, want) => {
    expect(extractLabels(dockerLabels)).toEqual(want);
  });

  it('undoes makeLabels', () => {
    const labels = { app: 'web', tier: 'front' };
    const annotations = { 'kubernetes.io/config.seen': 'now', note: 'annotation.nested' };
    expect(extractLabels(makeLabels(labels, annotations))).toEqual({ labels, annotations });
  });
});

describe('withoutInherited', () => {
  it.each<[string, Record<string, string> | null | undefined, Record<string, string>, Record<string, string>]>([
    ['null labels', null, { maintainer: 'x' }, {}],
    ['nothing inherited', { app: 'web' }, {}, { app: 'web' }],
    [
      'image labels with the same value removed',
      { app: 'web', maintainer: 'NGINX Docker Maintainers', 'org.opencontainers.image.version': '1.27' },
      { maintainer: 'NGINX Docker Maintainers', 'org.opencontainers.image.version': '1.27' },
      { app: 'web' },
    ],
    ['a label kubelet overrode with another value kept', { maintainer: 'me' }, { maintainer: 'NGINX Docker Maintainers' }, { maintainer: 'me' }],
  ])('%s', (_name, labels, inherited, want) => {
    expect(withoutInherited(labels, inherited)).toEqual(want);
  });
});
