import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CriError, Code } from '../errors.js';
import {
  buildCheckpoint,
  checkpointChecksum,
  checkpointProtocol,
  checksumText,
  decodeCheckpoint,
  encodeCheckpoint,
  type CheckpointCorruptionReason,
  type CheckpointPortMapping,
} from './format.js';

// Written by cri-dockerd's own types and code (core.PodSandboxCheckpoint, store.NewChecksum with
// go-spew 1.1.1) compiled by Go; manifest.json holds each file's input and Go's verdicts.
const FIXTURES = new URL('../../test/fixtures/checkpoints/', import.meta.url);
const fixture = (file: string): Buffer => readFileSync(new URL(file, FIXTURES));

interface WriteCase {
  file: string;
  name: string;
  namespace: string;
  portMappings: CheckpointPortMapping[];
  hostNetwork: boolean;
  hashInput: string;
  checksum: number;
}
interface ReadCase {
  file: string;
  goAccepts: boolean;
  goError?: string;
}
const manifest = JSON.parse(fixture('manifest.json').toString('utf8')) as { writes: WriteCase[]; reads: ReadCase[] };

describe('checkpoints cri-dockerd wrote', () => {
  it.each(manifest.writes.map((c) => [c.file, c] as const))('%s: same bytes, same checksum', (_file, c) => {
    const checkpoint = buildCheckpoint({ name: c.name, namespace: c.namespace, portMappings: c.portMappings, hostNetwork: c.hostNetwork });
    expect(checksumText(checkpoint)).toBe(c.hashInput);
    expect(checkpointChecksum(checkpoint)).toBe(c.checksum);
    expect(encodeCheckpoint(checkpoint).equals(fixture(c.file))).toBe(true);
    expect(encodeCheckpoint(checkpoint).toString('utf8')).toBe(fixture(c.file).toString('utf8'));
  });

  it.each(manifest.writes.map((c) => [c.file, c] as const))('%s: decodes to what was written', (_file, c) => {
    expect(decodeCheckpoint(fixture(c.file))).toEqual({
      ok: true,
      checkpoint: { version: 'v1', name: c.name, namespace: c.namespace, portMappings: c.portMappings, hostNetwork: c.hostNetwork },
    });
  });
});

describe('decodeCheckpoint agrees with cri-dockerd on odd files', () => {
  // "unusable": cri-dockerd accepts the file, then crashes dereferencing the missing pointer
  const expected: Record<string, 'ok' | CheckpointCorruptionReason> = {
    'read-empty-port-list.json': 'checksum-mismatch',
    'read-empty.json': 'malformed',
    'read-missing-host-port.json': 'unusable',
    'read-no-checksum.json': 'checksum-mismatch',
    'read-no-data.json': 'ok',
    'read-not-json.json': 'malformed',
    'read-null-data.json': 'malformed',
    'read-null-first-port-mapping.json': 'unusable',
    'read-null-last-port-mapping.json': 'unusable',
    'read-other-version.json': 'ok',
    'read-port-as-string.json': 'malformed',
    'read-port-out-of-range.json': 'malformed',
    'read-pretty-printed.json': 'ok',
    'read-tampered-checksum.json': 'checksum-mismatch',
    'read-tampered-name.json': 'ok',
    'read-tampered-port.json': 'checksum-mismatch',
    'read-truncated.json': 'malformed',
    'read-uppercase-keys.json': 'ok',
  };

  it('covers every case Go judged', () => {
    expect(manifest.reads.map((c) => c.file).sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(manifest.reads.map((c) => [c.file, c] as const))('%s', (file, c) => {
    const decoded = decodeCheckpoint(fixture(file));
    const outcome = decoded.ok ? 'ok' : decoded.corruption.reason;
    expect(outcome).toBe(expected[file]);
    if (c.goAccepts) expect(['ok', 'unusable']).toContain(outcome);
    else expect(['malformed', 'checksum-mismatch']).toContain(outcome);
    if (c.goError === 'checkpoint is corrupted') expect(outcome).toBe('checksum-mismatch');
  });

  it('reads what a missing field leaves as Go zero values', () => {
    expect(decodeCheckpoint(fixture('read-no-data.json'))).toEqual({
      ok: true,
      checkpoint: { version: 'v1', name: 'p', namespace: 'n', portMappings: [], hostNetwork: false },
    });
    const upper = decodeCheckpoint(fixture('read-uppercase-keys.json'));
    expect(upper.ok && upper.checkpoint.name).toBe('web-0');
  });
});

describe('tampering and corruption', () => {
  const original = fixture('one-tcp-port.json').toString('utf8');

  it('detects a changed port, protocol, host IP or host network flag', () => {
    for (const tampered of [
      original.replace('"container_port":80', '"container_port":81'),
      original.replace('"protocol":"tcp"', '"protocol":"udp"'),
      original.replace('"host_port":8080}', '"host_port":8080,"host_ip":"10.0.0.1"}'),
      original.replace(']}', '],"host_network":true}'),
    ]) {
      expect(tampered).not.toBe(original);
      const decoded = decodeCheckpoint(tampered);
      expect(decoded.ok).toBe(false);
      expect(!decoded.ok && decoded.corruption.reason).toBe('checksum-mismatch');
    }
  });

  it('does not cover name, namespace or version, as in cri-dockerd', () => {
    const renamed = original.replace('"namespace":"shop"', '"namespace":"other"').replace('"version":"v1"', '"version":"v9"');
    const decoded = decodeCheckpoint(renamed);
    expect(decoded.ok && [decoded.checkpoint.namespace, decoded.checkpoint.version]).toEqual(['other', 'v9']);
  });

  it('reports corrupt JSON instead of throwing', () => {
    for (const bytes of [Buffer.from('{'), Buffer.from([0xff, 0xfe, 0x00, 0x7b]), Buffer.from('[]'), Buffer.from('"v1"'), Buffer.from('{"data":[]}')]) {
      const decoded = decodeCheckpoint(bytes);
      expect(decoded).toMatchObject({ ok: false, corruption: { reason: 'malformed' } });
    }
  });

  it('names both checksums when they differ', () => {
    const decoded = decodeCheckpoint(fixture('read-tampered-port.json'));
    expect(!decoded.ok && decoded.corruption.message).toMatch(/3712672205/);
  });

  it('rejects a protocol cri-dockerd never writes', () => {
    const data = { portMappings: [{ protocol: 'tcp' as const, containerPort: 1, hostPort: 2, hostIp: '' }], hostNetwork: false };
    const file = `{"version":"v1","name":"p","namespace":"n","data":{"port_mappings":[{"protocol":"TCP","container_port":1,"host_port":2}]},"checksum":${checkpointChecksum(data)}}`;
    expect(decodeCheckpoint(file)).toMatchObject({ ok: false });
  });
});

describe('encoding details', () => {
  const encodeName = (name: string): string =>
    encodeCheckpoint(buildCheckpoint({ name, namespace: '', portMappings: [], hostNetwork: false }))
      .toString('utf8')
      .split('"name":')[1]!
      .split(',"namespace"')[0]!;

  it('escapes \\b and \\f as Go 1.22 and later do', () => {
    expect(encodeName('a\bb\fc\u000bd')).toBe('"a\\bb\\fc\\u000bd"');
  });

  it('writes a lone surrogate as the replacement character', () => {
    expect(encodeName('x\ud800y')).toBe('"x\\ufffdy"');
  });
});

describe('buildCheckpoint', () => {
  it('copies the port mappings', () => {
    const portMappings = [{ protocol: 'udp' as const, containerPort: 53, hostPort: 53, hostIp: '' }];
    const checkpoint = buildCheckpoint({ name: 'p', namespace: 'n', portMappings, hostNetwork: false });
    portMappings[0]!.hostPort = 54;
    expect(checkpoint.portMappings[0]!.hostPort).toBe(53);
  });

  it.each([
    ['a port above int32', { protocol: 'tcp', containerPort: 2 ** 31, hostPort: 0, hostIp: '' }],
    ['a fractional port', { protocol: 'tcp', containerPort: 80.5, hostPort: 0, hostIp: '' }],
    ['an unknown protocol', { protocol: 'icmp', containerPort: 80, hostPort: 0, hostIp: '' }],
  ])('rejects %s as INVALID_ARGUMENT', (_what, pm) => {
    const build = (): unknown => buildCheckpoint({ name: 'p', namespace: 'n', portMappings: [pm as CheckpointPortMapping], hostNetwork: false });
    expect(build).toThrow(CriError);
    expect(build).toThrow(expect.objectContaining({ code: Code.INVALID_ARGUMENT }));
  });
});

describe('checkpointProtocol', () => {
  it('maps CRI protocols as cri-dockerd does, unknown as tcp', () => {
    expect([0, 1, 2, 7, undefined, null].map((p) => checkpointProtocol(p))).toEqual(['tcp', 'udp', 'sctp', 'tcp', 'tcp', 'tcp']);
  });
});
