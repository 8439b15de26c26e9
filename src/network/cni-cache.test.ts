import { mkdtemp, readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheFilePath, decodeCacheEntry, encodeCacheEntry, findCacheEntries, readCacheFile, removeCacheFile, writeCacheEntry, type CniCacheEntry } from './cni-cache.js';

const ID = '3f1a'.repeat(16);
const LIST = '{"cniVersion":"1.0.0","name":"podnet","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]}';

const entry = (over: Partial<CniCacheEntry> = {}): CniCacheEntry => ({
  containerId: ID,
  config: Buffer.from(LIST),
  ifName: 'eth0',
  networkName: 'podnet',
  netns: '/proc/42/ns/net',
  cniArgs: [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', 'default'],
  ],
  capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' }] },
  result: { cniVersion: '1.0.0', ips: [{ address: '10.88.0.5/16', interface: 2 }] },
  ...over,
});

describe('cache codec', () => {
  it('writes libcni cachedInfo: Go field order, config as base64', () => {
    const text = encodeCacheEntry(entry());
    const doc = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(['kind', 'containerId', 'config', 'ifName', 'networkName', 'netns', 'cniArgs', 'capabilityArgs', 'result']);
    expect(doc.kind).toBe('cniCacheV1');
    expect(Buffer.from(doc.config as string, 'base64').toString()).toBe(LIST);
    expect(doc.cniArgs).toEqual([
      ['IgnoreUnknown', '1'],
      ['K8S_POD_NAMESPACE', 'default'],
    ]);
  });

  it('leaves out empty optional fields, as omitempty does', () => {
    const doc = JSON.parse(encodeCacheEntry(entry({ netns: '', cniArgs: [], capabilityArgs: {}, result: {} }))) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(['kind', 'containerId', 'config', 'ifName', 'networkName']);
  });

  it('round-trips', () => {
    expect(decodeCacheEntry(encodeCacheEntry(entry()))).toEqual(entry());
  });

  it('reads a file cri-dockerd (libcni 1.1) wrote: no netns, config bytes with whitespace', () => {
    const config = Buffer.from('{\n  "cniVersion": "0.2.0",\n  "name": "cni-loopback",\n  "plugins":[{\n    "type": "loopback"\n  }]\n}');
    const text = JSON.stringify({
      kind: 'cniCacheV1',
      containerId: ID,
      config: config.toString('base64'),
      ifName: 'eth0',
      networkName: 'cni-loopback',
      cniArgs: [['IgnoreUnknown', '1']],
      capabilityArgs: { portMappings: [], ipRanges: [[{ subnet: '' }]] },
      result: { cniVersion: '0.2.0', dns: {} },
    });
    const decoded = decodeCacheEntry(text);
    expect(decoded).toMatchObject({ containerId: ID, networkName: 'cni-loopback', ifName: 'eth0', result: { cniVersion: '0.2.0', dns: {} } });
    expect((decoded as CniCacheEntry).config.equals(config)).toBe(true);
    expect((decoded as CniCacheEntry).netns).toBeUndefined();
  });

  it('says why a file is unusable', () => {
    expect(decodeCacheEntry('{')).toMatch(/^not JSON/);
    expect(decodeCacheEntry('[]')).toBe('not a JSON object');
    expect(decodeCacheEntry('{"cniVersion":"0.3.1","ips":[]}')).toBe('kind is null, not "cniCacheV1"');
    expect(decodeCacheEntry(JSON.stringify({ kind: 'cniCacheV1', containerId: ID, networkName: 'n' }))).toBe('no "ifName"');
    expect(decodeCacheEntry(JSON.stringify({ kind: 'cniCacheV1', containerId: ID, networkName: 'n', ifName: 'eth0', config: 5 }))).toBe('"config" is not base64 text');
    expect(decodeCacheEntry(JSON.stringify({ kind: 'cniCacheV1', containerId: ID, networkName: 'n', ifName: 'eth0', cniArgs: [['a']] }))).toBe('"cniArgs" is not a list of [key, value] pairs');
  });

  it('accepts a null config, as Go writes a nil []byte', () => {
    const decoded = decodeCacheEntry(JSON.stringify({ kind: 'cniCacheV1', containerId: ID, networkName: 'n', ifName: 'eth0', config: null }));
    expect((decoded as CniCacheEntry).config.length).toBe(0);
  });
});

describe('cache files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dcri-cni-cache-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('uses <cacheDir>/results/<network>-<container>-<ifname>, 0600 in 0700, no temp file left', async () => {
    const file = await writeCacheEntry(dir, entry());
    expect(file).toBe(join(dir, 'results', `podnet-${ID}-eth0`));
    expect(cacheFilePath(dir, 'podnet', ID, 'eth0')).toBe(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'results'))).mode & 0o777).toBe(0o700);
    expect(await readdir(join(dir, 'results'))).toEqual([`podnet-${ID}-eth0`]);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ kind: 'cniCacheV1', networkName: 'podnet' });
  });

  it('replaces an existing entry whole', async () => {
    await writeCacheEntry(dir, entry());
    await writeCacheEntry(dir, entry({ result: { cniVersion: '1.0.0', ips: [] } }));
    const read = await readCacheFile(cacheFilePath(dir, 'podnet', ID, 'eth0'));
    expect(read && 'entry' in read ? read.entry.result : undefined).toEqual({ cniVersion: '1.0.0', ips: [] });
  });

  it('finds every network of one container, skipping other containers, other ifnames and temp files', async () => {
    await writeCacheEntry(dir, entry());
    await writeCacheEntry(dir, entry({ networkName: 'cni-loopback' }));
    await writeCacheEntry(dir, entry({ containerId: 'b'.repeat(64) }));
    await writeCacheEntry(dir, entry({ ifName: 'net1' }));
    await writeFile(join(dir, 'results', `.podnet-${ID}-eth0.1.abcd.tmp`), 'partial');
    await writeFile(join(dir, 'results', `broken-${ID}-eth0`), 'not json');
    const found = await findCacheEntries(dir, ID, 'eth0');
    expect(found.map((f) => [f.file.slice(dir.length + 9), 'entry' in f ? 'ok' : f.problem])).toEqual([
      [`broken-${ID}-eth0`, expect.stringMatching(/^not JSON/)],
      [`cni-loopback-${ID}-eth0`, 'ok'],
      [`podnet-${ID}-eth0`, 'ok'],
    ]);
  });

  it('a file naming another container inside is not this container', async () => {
    await mkdir(join(dir, 'results'), { recursive: true });
    await writeFile(join(dir, 'results', `podnet-${ID}-eth0`), encodeCacheEntry(entry({ containerId: 'c'.repeat(64) })));
    expect(await findCacheEntries(dir, ID, 'eth0')).toEqual([]);
  });

  it('no results directory and removing a missing file are both fine', async () => {
    expect(await findCacheEntries(dir, ID, 'eth0')).toEqual([]);
    expect(await readCacheFile(join(dir, 'results', 'nope'))).toBeUndefined();
    await expect(removeCacheFile(join(dir, 'results', 'nope'))).resolves.toBeUndefined();
  });
});
