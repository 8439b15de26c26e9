import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Code } from '../errors.js';
import { buildCheckpoint, encodeCheckpoint } from './format.js';
import { CheckpointStore } from './store.js';

const SANDBOX_A = 'a'.repeat(64);
const SANDBOX_B = '0123456789abcdef'.repeat(4);
const webPod = buildCheckpoint({
  name: 'web-0',
  namespace: 'shop',
  portMappings: [{ protocol: 'tcp', containerPort: 80, hostPort: 8080, hostIp: '' }],
  hostNetwork: false,
});
const proxyPod = buildCheckpoint({ name: 'kube-proxy-9zq4m', namespace: 'kube-system', portMappings: [], hostNetwork: true });

let root: string;
let store: CheckpointStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'dockercri-checkpoint-'));
  store = new CheckpointStore(root);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('CheckpointStore', () => {
  it('writes <root>/sandbox/<sandboxId>, mode 0600, as cri-dockerd does', async () => {
    await store.write(SANDBOX_A, webPod);
    expect(store.directory).toBe(join(root, 'sandbox'));
    const path = join(root, 'sandbox', SANDBOX_A);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(store.directory)).isDirectory()).toBe(true);
    const goWrote = await readFile(new URL('../../test/fixtures/checkpoints/one-tcp-port.json', import.meta.url));
    expect((await readFile(path)).equals(goWrote)).toBe(true);
    expect(await readdir(store.directory)).toEqual([SANDBOX_A]);
  });

  it('reads back what it wrote', async () => {
    await store.write(SANDBOX_A, webPod);
    expect(await store.read(SANDBOX_A)).toEqual({ ok: true, checkpoint: webPod });
  });

  it('reads a file cri-dockerd wrote', async () => {
    await mkdir(store.directory, { recursive: true });
    await writeFile(join(store.directory, SANDBOX_B), await readFile(new URL('../../test/fixtures/checkpoints/several-ports.json', import.meta.url)));
    const read = await store.read(SANDBOX_B);
    expect(read?.ok && read.checkpoint.portMappings.map((pm) => pm.protocol)).toEqual(['tcp', 'udp', 'sctp', 'tcp', 'udp']);
  });

  it('replaces a checkpoint and leaves no temporary file', async () => {
    await store.write(SANDBOX_A, webPod);
    await store.write(SANDBOX_A, proxyPod);
    expect(await store.read(SANDBOX_A)).toEqual({ ok: true, checkpoint: proxyPod });
    expect(await readdir(store.directory)).toEqual([SANDBOX_A]);
  });

  it('ends with one whole file after concurrent writes', async () => {
    const pods = Array.from({ length: 20 }, (_, i) => buildCheckpoint({ name: `pod-${i}`, namespace: 'n', portMappings: [], hostNetwork: false }));
    await Promise.all(pods.map((pod) => store.write(SANDBOX_A, pod)));
    const read = await store.read(SANDBOX_A);
    expect(read?.ok && pods.some((pod) => pod.name === read.checkpoint.name)).toBe(true);
    expect(await readdir(store.directory)).toEqual([SANDBOX_A]);
  });

  it('removes its temporary file when the rename fails', async () => {
    await mkdir(join(store.directory, SANDBOX_A, 'occupied'), { recursive: true });
    await expect(store.write(SANDBOX_A, webPod)).rejects.toThrow();
    expect(await readdir(store.directory)).toEqual([SANDBOX_A]);
  });

  it('reads undefined for a sandbox without a checkpoint, also before the directory exists', async () => {
    expect(await store.read(SANDBOX_A)).toBeUndefined();
    await store.write(SANDBOX_B, webPod);
    expect(await store.read(SANDBOX_A)).toBeUndefined();
  });

  it('reports a corrupt file instead of throwing', async () => {
    await mkdir(store.directory, { recursive: true });
    await writeFile(join(store.directory, SANDBOX_A), '{"version":"v1",');
    expect(await store.read(SANDBOX_A)).toMatchObject({ ok: false, corruption: { reason: 'malformed' } });
    const tampered = encodeCheckpoint(webPod).toString('utf8').replace('8080', '8081');
    await writeFile(join(store.directory, SANDBOX_A), tampered);
    expect(await store.read(SANDBOX_A)).toMatchObject({ ok: false, corruption: { reason: 'checksum-mismatch' } });
  });

  it('removes idempotently', async () => {
    await store.remove(SANDBOX_A);
    await store.write(SANDBOX_A, webPod);
    await store.remove(SANDBOX_A);
    await store.remove(SANDBOX_A);
    expect(await store.read(SANDBOX_A)).toBeUndefined();
    expect(await store.list()).toEqual([]);
  });

  it('lists sandbox IDs, sorted, without temporary or foreign files', async () => {
    expect(await store.list()).toEqual([]);
    await store.write(SANDBOX_B, webPod);
    await store.write(SANDBOX_A, proxyPod);
    await writeFile(join(store.directory, `.${SANDBOX_A}.1234`), 'partial');
    await writeFile(join(store.directory, 'README'), 'not a checkpoint');
    await writeFile(join(store.directory, 'A'.repeat(64)), 'not a sandbox id');
    expect(await store.list()).toEqual([SANDBOX_B, SANDBOX_A].sort());
  });

  it.each([
    ['path traversal', '../../etc/passwd'],
    ['traversal padded to 64', `../${'a'.repeat(61)}`],
    ['upper case', 'A'.repeat(64)],
    ['too short', 'a'.repeat(63)],
    ['too long', 'a'.repeat(65)],
    ['empty', ''],
    ['a temporary name', `.${'a'.repeat(63)}`],
  ])('rejects a sandbox id that is %s as INVALID_ARGUMENT', async (_what, sandboxId) => {
    const invalid = expect.objectContaining({ code: Code.INVALID_ARGUMENT });
    await expect(store.write(sandboxId, webPod)).rejects.toThrow(invalid);
    await expect(store.read(sandboxId)).rejects.toThrow(invalid);
    await expect(store.remove(sandboxId)).rejects.toThrow(invalid);
    expect(await readdir(root)).toEqual([]);
  });
});
