import { describe, expect, it } from 'vitest';
import { apiAtLeast, cdiEnabled, kernelAtLeast, recursiveReadOnlyGap, runtimeHandlers, type EngineFacts } from './engine-features.js';

// the features document runc 1.1 publishes, cut down to what matters here
const RUNC_FEATURES = JSON.stringify({ ociVersionMin: '1.0.0', ociVersionMax: '1.1.0', mountOptions: ['ro', 'rw', 'rbind', 'rro', 'rrw'] });
const OLD_RUNC_FEATURES = JSON.stringify({ ociVersionMin: '1.0.0', mountOptions: ['ro', 'rw', 'rbind'] });

/** Engine 25 on Linux 6.1 with runc 1.1 as default and a runtime without rro. */
const engine25 = (over: Partial<EngineFacts> = {}): EngineFacts => ({
  apiVersion: '1.44',
  runtimes: {
    runc: { 'org.opencontainers.runtime-spec.features': RUNC_FEATURES },
    'io.containerd.runc.v2': { 'org.opencontainers.runtime-spec.features': RUNC_FEATURES },
    kata: { 'org.opencontainers.runtime-spec.features': OLD_RUNC_FEATURES },
  },
  defaultRuntime: 'runc',
  cdiSpecDirs: [],
  kernelRelease: '6.1.0-18-amd64',
  ...over,
});

/** Engine 20.10: no runtime status, no CDI. */
const engine2010: EngineFacts = { apiVersion: '1.41', runtimes: { runc: {}, 'io.containerd.runc.v2': {} }, defaultRuntime: 'runc', cdiSpecDirs: [], kernelRelease: '6.1.0' };

describe('apiAtLeast', () => {
  it.each([
    ['1.44', '1.44', true],
    ['1.45', '1.44', true],
    ['1.41', '1.44', false],
    ['2.0', '1.44', true],
    ['1.9', '1.10', false],
  ])('%s >= %s is %s', (have, want, expected) => {
    expect(apiAtLeast(have, want)).toBe(expected);
  });
});

describe('kernelAtLeast', () => {
  it.each([
    ['5.12.0', true],
    ['5.11.22-generic', false],
    ['5.15.0-91-generic', true],
    ['6.0.1', true],
    ['4.19.0', false],
    ['6.18.44-fc-v657', true],
    ['garbage', false],
  ])('%s is at least 5.12: %s', (release, expected) => {
    expect(kernelAtLeast(release, 5, 12)).toBe(expected);
  });
});

describe('recursiveReadOnlyGap', () => {
  it('is undefined for a runtime offering rro on Engine 25 and Linux 5.12+', () => {
    expect(recursiveReadOnlyGap(engine25(), 'runc')).toBeUndefined();
  });

  it.each<[string, EngineFacts, string, RegExp]>([
    ['Engine 20.10', engine2010, 'runc', /API 1.44 .*speaks 1.41/],
    ['an old kernel', engine25({ kernelRelease: '5.10.0-28-amd64' }), 'runc', /Linux 5.12 .*5.10.0-28-amd64/],
    ['a runtime without rro', engine25(), 'kata', /"kata" does not offer the "rro" mount option/],
    ['a runtime without a features document', engine25({ runtimes: { runc: {} } }), 'runc', /"runc" does not offer/],
    ['an unreadable features document', engine25({ runtimes: { runc: { 'org.opencontainers.runtime-spec.features': '{not json' } } }), 'runc', /unreadable/],
    ['an unknown runtime', engine25(), 'gvisor', /no runtime "gvisor"/],
  ])('names the gap on %s', (_, facts, name, reason) => {
    expect(recursiveReadOnlyGap(facts, name)).toMatch(reason);
  });
});

describe('cdiEnabled', () => {
  it.each<[string, EngineFacts, boolean]>([
    ['Engine 25 with spec dirs', engine25({ cdiSpecDirs: ['/etc/cdi', '/var/run/cdi'] }), true],
    ['Engine 25 with CDI off', engine25(), false],
    ['Engine 20.10', engine2010, false],
    ['an old Engine claiming spec dirs', { ...engine2010, cdiSpecDirs: ['/etc/cdi'] }, false],
  ])('%s: %s', (_, facts, expected) => {
    expect(cdiEnabled(facts)).toBe(expected);
  });
});

describe('runtimeHandlers', () => {
  it('lists the default handler first, then each Docker runtime by name, with rro per runtime', () => {
    expect(runtimeHandlers(engine25())).toEqual([
      { name: '', features: { recursiveReadOnlyMounts: true, userNamespaces: false } },
      { name: 'io.containerd.runc.v2', features: { recursiveReadOnlyMounts: true, userNamespaces: false } },
      { name: 'kata', features: { recursiveReadOnlyMounts: false, userNamespaces: false } },
      { name: 'runc', features: { recursiveReadOnlyMounts: true, userNamespaces: false } },
    ]);
  });

  it('gives the default handler the features of the default runtime', () => {
    expect(runtimeHandlers(engine25({ defaultRuntime: 'kata' }))[0]).toEqual({ name: '', features: { recursiveReadOnlyMounts: false, userNamespaces: false } });
  });

  it('offers no rro on Engine 20.10', () => {
    expect(runtimeHandlers(engine2010).map((h) => [h.name, h.features?.recursiveReadOnlyMounts])).toEqual([
      ['', false],
      ['io.containerd.runc.v2', false],
      ['runc', false],
    ]);
  });
});
