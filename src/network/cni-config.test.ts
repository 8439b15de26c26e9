import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CniNetwork, loadDefaultNetwork, parseNetworkConfig, scanNetworkConfigs } from './cni-config.js';

const BRIDGE = { type: 'bridge', bridge: 'cni0', isGateway: true, ipam: { type: 'host-local', subnet: '10.22.0.0/16' } };
const CONFLIST = { cniVersion: '1.0.0', name: 'k8s-pod-network', plugins: [BRIDGE, { type: 'portmap', capabilities: { portMappings: true } }] };
const CONF = { cniVersion: '0.4.0', name: 'mynet', ...BRIDGE };

describe('parseNetworkConfig', () => {
  it('takes a .conflist as it is', () => {
    expect(parseNetworkConfig('/etc/cni/net.d/10-calico.conflist', JSON.stringify(CONFLIST))).toEqual<CniNetwork>({
      name: 'k8s-pod-network',
      cniVersion: '1.0.0',
      plugins: CONFLIST.plugins,
      file: '/etc/cni/net.d/10-calico.conflist',
      raw: CONFLIST,
    });
  });

  it('wraps a single-plugin .conf into a list', () => {
    const { name: _name, ...plugin } = CONF;
    expect(parseNetworkConfig('/n/10-bridge.conf', JSON.stringify(CONF))).toEqual<CniNetwork>({
      name: 'mynet',
      cniVersion: '0.4.0',
      plugins: [plugin],
      file: '/n/10-bridge.conf',
      raw: { name: 'mynet', cniVersion: '0.4.0', plugins: [plugin] },
    });
  });

  it('wraps a single-plugin .json like a .conf', () => {
    const net = parseNetworkConfig('/n/10-bridge.json', JSON.stringify(CONF));
    expect(net).toMatchObject({ name: 'mynet', plugins: [{ type: 'bridge', bridge: 'cni0' }] });
  });

  it('takes a list written in a .conf or .json file', () => {
    expect(parseNetworkConfig('/n/a.conf', JSON.stringify(CONFLIST))).toMatchObject({ name: 'k8s-pod-network', plugins: [{ type: 'bridge' }, { type: 'portmap' }] });
    expect(parseNetworkConfig('/n/a.json', JSON.stringify(CONFLIST))).toMatchObject({ name: 'k8s-pod-network', plugins: [{ type: 'bridge' }, { type: 'portmap' }] });
  });

  it('defaults the CNI version to 0.2.0, in the list and its raw form', () => {
    const { cniVersion: _v, ...unversioned } = CONFLIST;
    const net = parseNetworkConfig('/n/a.conflist', JSON.stringify(unversioned));
    expect(net).toMatchObject({ cniVersion: '0.2.0', raw: { cniVersion: '0.2.0' } });
    const single = parseNetworkConfig('/n/a.conf', JSON.stringify({ name: 'n', type: 'loopback' }));
    expect(single).toMatchObject({ cniVersion: '0.2.0', raw: { cniVersion: '0.2.0' } });
  });

  it.each<[string, string, string, string | RegExp]>([
    ['invalid JSON', 'a.conf', '{"name": ', /^not JSON \(.+\)$/],
    ['an empty file', 'a.conflist', '', /^not JSON/],
    ['a JSON array', 'a.conflist', '[]', 'not a JSON object'],
    ['a JSON string', 'a.conf', '"bridge"', 'not a JSON object'],
    ['JSON null', 'a.conf', 'null', 'not a JSON object'],
    ['a single config without type', 'a.conf', JSON.stringify({ cniVersion: '0.4.0', name: 'n' }), 'a single network config needs a "type"'],
    ['a single config with an empty type', 'a.json', JSON.stringify({ name: 'n', type: '' }), 'a single network config needs a "type"'],
    ['a single config without name', 'a.conf', JSON.stringify({ type: 'bridge' }), 'no "name"'],
    ['a list without name', 'a.conflist', JSON.stringify({ plugins: [BRIDGE] }), 'no "name"'],
    ['a list with an empty name', 'a.conflist', JSON.stringify({ name: '', plugins: [BRIDGE] }), 'no "name"'],
    ['a list without plugins', 'a.conflist', JSON.stringify({ name: 'n' }), 'no plugins'],
    ['a list with an empty plugin list', 'a.conflist', JSON.stringify({ name: 'n', plugins: [] }), 'no plugins'],
    ['a plugin without type', 'a.conflist', JSON.stringify({ name: 'n', plugins: [BRIDGE, { capabilities: {} }] }), 'plugin 1 has no "type"'],
    ['a plugin with an empty type', 'a.conflist', JSON.stringify({ name: 'n', plugins: [{ type: '' }] }), 'plugin 0 has no "type"'],
    ['a plugin that is not an object', 'a.conflist', JSON.stringify({ name: 'n', plugins: ['bridge'] }), 'plugin 0 has no "type"'],
    ['a null plugin', 'a.conflist', JSON.stringify({ name: 'n', plugins: [null] }), 'plugin 0 has no "type"'],
  ])('rejects %s', (_name, file, text, why) => {
    const got = parseNetworkConfig(`/n/${file}`, text);
    expect(typeof got).toBe('string');
    expect(got).toMatch(why);
  });
});

describe('loadDefaultNetwork', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dockercri-cni-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const put = (name: string, content: unknown) => writeFile(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));

  it('picks the first file in lexical order', async () => {
    await put('20-second.conflist', { ...CONFLIST, name: 'second' });
    await put('10-first.conflist', { ...CONFLIST, name: 'first' });
    await put('99-last.conf', { ...CONF, name: 'last' });
    const got = await loadDefaultNetwork(dir);
    expect(got).toMatchObject({ ok: true, network: { name: 'first', file: join(dir, '10-first.conflist') } });
  });

  it('orders by code point, not numerically: "100" before "20"', async () => {
    await put('20-b.conf', { ...CONF, name: 'twenty' });
    await put('100-a.conf', { ...CONF, name: 'hundred' });
    expect(await loadDefaultNetwork(dir)).toMatchObject({ ok: true, network: { name: 'hundred' } });
  });

  it('wraps a .conf into a list', async () => {
    await put('10-bridge.conf', CONF);
    const got = await loadDefaultNetwork(dir);
    expect(got).toMatchObject({ ok: true, network: { name: 'mynet', raw: { name: 'mynet', cniVersion: '0.4.0', plugins: [{ type: 'bridge' }] } } });
  });

  it('reads .json files', async () => {
    await put('10-bridge.json', CONF);
    expect(await loadDefaultNetwork(dir)).toMatchObject({ ok: true, network: { name: 'mynet', file: join(dir, '10-bridge.json') } });
  });

  it('ignores files with other extensions', async () => {
    await put('00-old.conf.bak', { ...CONF, name: 'backup' });
    await put('01-notes.txt', 'hello');
    await put('05-noext', CONF);
    await put('10-real.conflist', CONFLIST);
    expect(await loadDefaultNetwork(dir)).toMatchObject({ ok: true, network: { name: 'k8s-pod-network' } });
  });

  it('skips unusable files, so a later good one wins', async () => {
    await put('00-broken.conflist', '{ not json');
    await put('05-untyped.conf', { name: 'n' });
    await mkdir(join(dir, '07-dir.conf'));
    await put('10-good.conflist', CONFLIST);
    expect(await loadDefaultNetwork(dir)).toMatchObject({ ok: true, network: { name: 'k8s-pod-network' } });
  });

  it('says why each file was skipped when none is usable', async () => {
    await put('00-broken.conflist', '{ not json');
    await put('05-untyped.conf', { name: 'n' });
    await put('06-noplugin-type.conflist', { name: 'n', plugins: [{}] });
    await mkdir(join(dir, '07-dir.conf'));
    const got = await loadDefaultNetwork(dir);
    expect(got.ok).toBe(false);
    if (got.ok) return;
    expect(got.reason).toBe('NetworkPluginNotReady');
    expect(got.message).toContain(`cni config uninitialized: no valid network config in ${dir}`);
    expect(got.message).toMatch(/00-broken\.conflist: not JSON \(/);
    expect(got.message).toContain('05-untyped.conf: a single network config needs a "type"');
    expect(got.message).toContain('06-noplugin-type.conflist: plugin 0 has no "type"');
    expect(got.message).toContain('07-dir.conf: EISDIR');
  });

  it('rejects a file larger than 1 MiB', async () => {
    await put('00-huge.conflist', JSON.stringify({ ...CONFLIST, pad: 'x'.repeat(1 << 20) }));
    const got = await loadDefaultNetwork(dir);
    expect(got).toMatchObject({ ok: false, message: expect.stringContaining('00-huge.conflist: larger than 1 MiB') });
  });

  it('reports an empty directory', async () => {
    const got = await loadDefaultNetwork(dir);
    expect(got).toEqual({ ok: false, reason: 'NetworkPluginNotReady', message: `cni config uninitialized: no valid network config in ${dir}` });
  });

  it('reports a missing directory with the errno', async () => {
    const missing = join(dir, 'net.d');
    const got = await loadDefaultNetwork(missing);
    expect(got).toEqual({ ok: false, reason: 'NetworkPluginNotReady', message: `cni config uninitialized: cannot read ${missing} (ENOENT)` });
  });

  it('scanNetworkConfigs gives every candidate in lexical order, past the first valid one', async () => {
    await put('20-good.conflist', CONFLIST);
    await put('10-broken.conflist', '{ not json');
    await put('30-also.conf', CONF);
    await put('README.md', 'not a candidate');
    const got = await scanNetworkConfigs(dir);
    expect(got.ok).toBe(true);
    if (!got.ok) return;
    expect(got.candidates.map((c) => [c.name, 'network' in c ? c.network.name : c.problem.slice(0, 8)])).toEqual([
      ['10-broken.conflist', 'not JSON'],
      ['20-good.conflist', 'k8s-pod-network'],
      ['30-also.conf', 'mynet'],
    ]);
    expect(await scanNetworkConfigs(join(dir, 'absent'))).toEqual({ ok: false, code: 'ENOENT' });
  });
});
