// The CRI ImageService through the real dockercri process, a real Docker Engine and the local
// test registries. Every test makes its own images (unique names, unique IDs) and removes them.
import * as grpc from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../src/errors.js';
import type { runtime } from '../src/gen/api.js';
import { imageServiceDefinition } from '../src/server/server.js';
import { BUSYBOX, grpcError, startDockercri, testEnv, uniq, type Dockercri, type TestEnv } from './harness.js';

const docker = (...args: string[]): string => execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** Runs a docker command whose failure does not matter (cleanup of what may already be gone). */
const dockerQuiet = (...args: string[]): void => {
  try {
    docker(...args);
  } catch {
    // already gone
  }
};

const exists = (ref: string): boolean => {
  try {
    docker('image', 'inspect', '--format', '{{.Id}}', ref);
    return true;
  } catch {
    return false;
  }
};

const inspect = (ref: string): { Id: string; RepoTags: string[]; RepoDigests: string[]; Size: number; Config: { User: string } } =>
  JSON.parse(docker('image', 'inspect', ref))[0];

const num = (v: unknown): number => Number(v);
const sortById = <T extends { id?: string | null }>(images: T[]): T[] => [...images].sort((a, b) => String(a.id).localeCompare(String(b.id)));
const ID = /^sha256:[a-f0-9]{64}$/;

/** The saved busybox image: one layer that every image made here shares, so a load is quick. */
interface Base {
  dir: string;
  layers: string[];
  config: Record<string, unknown> & { config: Record<string, unknown> };
}
let base: Base | undefined;

function baseImage(): Base {
  if (base) return base;
  const dir = mkdtempSync(join(tmpdir(), 'dockercri-images-'));
  const tarball = execFileSync('docker', ['save', BUSYBOX], { maxBuffer: 256 * 1024 * 1024 });
  execFileSync('tar', ['-C', dir, '-xf', '-'], { input: tarball });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))[0] as { Config: string; Layers: string[] };
  base = { dir, layers: manifest.Layers, config: JSON.parse(readFileSync(join(dir, manifest.Config), 'utf8')) };
  return base;
}

interface ImageWanted {
  tags: string[];
  user?: string;
}

/**
 * Loads images of their own (a unique label gives each a unique ID) with `docker load`, which
 * is one Engine call for any number of them. Resolves to their IDs, in order.
 */
function loadImages(wanted: ImageWanted[]): string[] {
  const b = baseImage();
  const dir = mkdtempSync(join(b.dir, 'load-'));
  const ids: string[] = [];
  const manifest = wanted.map((w, i) => {
    const config = structuredClone(b.config);
    config.config = { ...config.config, Labels: { ...(config.config.Labels as object), 'io.dockercri.test.unique': uniq(`img${i}`) } };
    if (w.user !== undefined) config.config.User = w.user;
    const bytes = Buffer.from(JSON.stringify(config));
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(dir, `${hex}.json`), bytes);
    ids.push(`sha256:${hex}`);
    return { Config: `${hex}.json`, RepoTags: w.tags, Layers: b.layers };
  });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  const layerDirs = [...new Set(b.layers.map((l) => l.split('/')[0] as string))];
  const tarball = execFileSync('tar', ['-cf', '-', '-C', dir, '.', '-C', b.dir, ...layerDirs], { maxBuffer: 256 * 1024 * 1024 });
  execFileSync('docker', ['load', '-q'], { input: tarball, stdio: ['pipe', 'pipe', 'pipe'] });
  rmSync(dir, { recursive: true, force: true });
  return ids;
}

const loadImage = (tags: string[], user?: string): string => loadImages([{ tags, user }])[0] as string;

interface Pushed {
  id: string;
  /** registry/path, without tag. */
  repo: string;
  /** The manifest digest the registry serves. */
  digest: string;
  creds?: { user: string; password: string };
}

/** Pushes an image of its own to a registry under `tags`, then removes it locally so a pull really pulls. */
function pushImage(registry: string, tags: string[], creds?: { user: string; password: string }): Pushed {
  const repo = `${registry}/${uniq('dockercri-images')}/img`;
  const id = loadImage(tags.map((t) => `${repo}:${t}`));
  const config = mkdtempSync(join(tmpdir(), 'dockercri-docker-config-'));
  // a throwaway client config: the login never lands in the user's ~/.docker/config.json
  const env = { ...process.env, DOCKER_CONFIG: config };
  try {
    if (creds) execFileSync('docker', ['login', '-u', creds.user, '--password-stdin', registry], { input: creds.password, env, stdio: ['pipe', 'pipe', 'pipe'] });
    for (const tag of tags) execFileSync('docker', ['push', '-q', `${repo}:${tag}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  } finally {
    rmSync(config, { recursive: true, force: true });
  }
  const digest = (inspect(id).RepoDigests[0] ?? '').split('@')[1] ?? '';
  expect(digest).toMatch(ID);
  docker('rmi', '-f', id);
  return { id, repo, digest, creds };
}

/** Deletes a pushed manifest from its registry (both run with deletes enabled). */
async function unpush(p: Pushed): Promise<void> {
  const slash = p.repo.indexOf('/');
  const headers: Record<string, string> = p.creds ? { authorization: `Basic ${Buffer.from(`${p.creds.user}:${p.creds.password}`).toString('base64')}` } : {};
  await fetch(`http://${p.repo.slice(0, slash)}/v2/${p.repo.slice(slash + 1)}/manifests/${p.digest}`, { method: 'DELETE', headers }).catch(() => undefined);
}

let env: TestEnv;
let cri: Dockercri;

beforeAll(async () => {
  env = testEnv();
  cri = await startDockercri();
});

afterAll(async () => {
  await cri?.stop();
  if (base) rmSync(base.dir, { recursive: true, force: true });
});

const status = (image: string, verbose = false) => cri.images.ImageStatus({ image: { image }, verbose });
const streamImages = (request: Record<string, unknown>) => cri.images.StreamImages(request) as Promise<runtime.v1.IStreamImagesResponse[]>;

describe('ListImages', () => {
  let repo: string;
  let id: string;
  beforeAll(() => {
    repo = uniq('dockercri-images/list');
    id = loadImage([`${repo}:a`, `${repo}:b`], '4242');
  });
  afterAll(() => dockerQuiet('rmi', '-f', id));

  it('lists every image with its tags, size, user and pinned flag', async () => {
    const images = (await cri.images.ListImages({})).images ?? [];
    const mine = images.find((i) => i.id === id);
    expect(mine).toBeDefined();
    expect([...(mine!.repoTags ?? [])].sort()).toEqual([`${repo}:a`, `${repo}:b`]);
    expect(mine!.repoDigests ?? []).toEqual([]);
    expect(num(mine!.size)).toBe(inspect(id).Size);
    expect(num(mine!.uid?.value)).toBe(4242);
    expect(mine!.username ?? '').toBe('');
    expect(mine!.spec?.image).toBe(id);
    expect(mine!.pinned ?? false).toBe(false);

    const byTag = (tag: string) => images.find((i) => (i.repoTags ?? []).includes(tag));
    expect(num(byTag('dockercri-test/busybox-user:latest')?.uid?.value)).toBe(1000);
    expect(byTag('dockercri-test/busybox-username:latest')?.username).toBe('www');
    expect(byTag('dockercri-test/busybox-username:latest')?.uid ?? null).toBeNull();
    expect(byTag(env.pauseImage)?.pinned).toBe(true);
    expect(byTag(BUSYBOX)).toBeDefined();
    expect(byTag(BUSYBOX)!.pinned ?? false).toBe(false);
    // every ID is a full one and no image is listed twice
    for (const i of images) expect(i.id).toMatch(ID);
    expect(new Set(images.map((i) => i.id)).size).toBe(images.length);
    expect(images.some((i) => (i.repoTags ?? []).some((t) => t.startsWith('<none>')))).toBe(false);
  });

  it('filters by name, name:tag, full ID, bare ID and short ID', async () => {
    for (const filter of [`${repo}:a`, `${repo}:b`, id, id.slice(7), id.slice(7, 19)]) {
      const images = (await cri.images.ListImages({ filter: { image: { image: filter } } })).images ?? [];
      expect(images.map((i) => i.id), filter).toEqual([id]);
      expect([...(images[0]!.repoTags ?? [])].sort()).toEqual([`${repo}:a`, `${repo}:b`]);
    }
  });

  it('gives [] for a filter naming an absent image', async () => {
    for (const filter of [`${repo}:absent`, repo /* no :latest tag exists */, `sha256:${'0'.repeat(64)}`, uniq('no-such-image')]) {
      const { images } = await cri.images.ListImages({ filter: { image: { image: filter } } });
      expect(images ?? [], filter).toEqual([]);
    }
  });
});

describe('StreamImages', () => {
  let repo: string;
  let ids: string[];
  beforeAll(() => {
    repo = uniq('dockercri-images/stream');
    // more images than one batch holds, so the stream must send several messages
    ids = loadImages(Array.from({ length: 300 }, (_, i) => ({ tags: [`${repo}:t${i}`] })));
  });
  afterAll(() => dockerQuiet('rmi', '-f', ...ids));

  it('streams the same images as ListImages, in several non-empty batches', async () => {
    // Other test files tag, untag and remove images meanwhile, and a change can come and go
    // between two lists (a tag added and removed again), so the whole set is compared only
    // until one attempt sees no change; this file's own 300 images must match every time.
    const own = new Set(ids);
    const mine = (images: runtime.v1.IImage[]) => sortById(images.filter((i) => own.has(i.id ?? '')));
    const same = (a: runtime.v1.IImage[], b: runtime.v1.IImage[]) => JSON.stringify(sortById(a)) === JSON.stringify(sortById(b));
    for (let attempt = 0; ; attempt++) {
      const before = (await cri.images.ListImages({})).images ?? [];
      const batches = await streamImages({});
      const after = (await cri.images.ListImages({})).images ?? [];
      expect(batches.length).toBeGreaterThanOrEqual(2);
      for (const b of batches) expect((b.images ?? []).length).toBeGreaterThan(0);
      const streamed = batches.flatMap((b) => b.images ?? []);
      for (const id of ids) expect(streamed.filter((i) => i.id === id)).toHaveLength(1);
      expect(mine(streamed)).toEqual(mine(before));
      if (!(same(before, after) && same(streamed, before)) && attempt < 10) continue;
      expect(sortById(streamed)).toEqual(sortById(before));
      break;
    }
  });

  it('applies the filter as ListImages does', async () => {
    const id = ids[7] as string;
    const batches = await streamImages({ filter: { image: { image: `${repo}:t7` } } });
    expect(batches.flatMap((b) => b.images ?? [])).toEqual((await cri.images.ListImages({ filter: { image: { image: id } } })).images);
    expect(batches.flatMap((b) => (b.images ?? []).map((i) => i.id))).toEqual([id]);
    const none = await streamImages({ filter: { image: { image: `${repo}:absent` } } });
    expect(none.flatMap((b) => b.images ?? [])).toEqual([]);
  });
});

describe('ImageStatus', () => {
  let repo: string;
  let id: string;
  beforeAll(() => {
    repo = uniq('dockercri-images/status');
    id = loadImage([`${repo}:latest`, `${repo}:v1`]);
  });
  afterAll(() => dockerQuiet('rmi', '-f', id));

  it('finds the image by full ID, bare ID, short ID, name, name:tag', async () => {
    for (const ref of [id, id.slice(7), id.slice(7, 19), repo, `${repo}:latest`, `${repo}:v1`]) {
      const res = await status(ref);
      expect(res.image?.id, ref).toBe(id);
      expect([...(res.image?.repoTags ?? [])].sort()).toEqual([`${repo}:latest`, `${repo}:v1`]);
      expect(res.image?.spec?.image).toBe(id);
      expect(res.info ?? {}).toEqual({});
    }
  });

  it('defaults a bare name to :latest', async () => {
    const other = uniq('dockercri-images/status-tagonly');
    const otherId = loadImage([`${other}:v1`]);
    try {
      expect((await status(`${other}:v1`)).image?.id).toBe(otherId);
      const res = await status(other);
      expect(res.image ?? null).toBeNull();
    } finally {
      dockerQuiet('rmi', '-f', otherId);
    }
  });

  it('answers an empty response, not an error, for an absent image', async () => {
    for (const ref of [`${repo}:absent`, uniq('dockercri-images/absent'), `sha256:${'e'.repeat(64)}`, 'f'.repeat(64), `${repo}@sha256:${'a'.repeat(64)}`]) {
      const res = await status(ref, true);
      expect(res.image ?? null, ref).toBeNull();
      expect(res.info ?? {}).toEqual({});
    }
  });

  it('adds the Engine facts as JSON when verbose', async () => {
    const res = await status(`${repo}:v1`, true);
    expect(res.image?.id).toBe(id);
    const info = JSON.parse(res.info?.info ?? 'null');
    expect(info.id).toBe(id);
    expect([...info.repoTags].sort()).toEqual([`${repo}:latest`, `${repo}:v1`]);
    expect(info.size).toBe(inspect(id).Size);
    expect(info.os).toBe('linux');
    expect(info.config.Labels['io.dockercri.test.unique']).toMatch(/^img0-/);
    expect(info.rootfs.Layers).toEqual((baseImage().config.rootfs as { diff_ids: string[] }).diff_ids);
    expect(info.graphDriver.Name).toBe(docker('info', '--format', '{{.Driver}}'));
  });

  it('reports a numeric USER as uid and a named USER as username', async () => {
    const numeric = await status('dockercri-test/busybox-user:latest');
    expect(num(numeric.image?.uid?.value)).toBe(1000);
    expect(numeric.image?.username ?? '').toBe('');
    const named = await status('dockercri-test/busybox-username:latest');
    expect(named.image?.username).toBe('www');
    expect(named.image?.uid ?? null).toBeNull();
    // uid:gid keeps the uid; no USER at all gives neither
    const withGroup = loadImage([`${uniq('dockercri-images/status-user')}:latest`], '65534:65534');
    try {
      expect(num((await status(withGroup)).image?.uid?.value)).toBe(65534);
      const none = await status(id);
      expect(none.image?.uid ?? null).toBeNull();
      expect(none.image?.username ?? '').toBe('');
    } finally {
      dockerQuiet('rmi', '-f', withGroup);
    }
  });

  it('marks the pod infra image pinned and others not', async () => {
    expect((await status(env.pauseImage)).image?.pinned).toBe(true);
    expect((await status(id)).image?.pinned ?? false).toBe(false);
  });
});

describe('PullImage from the plain registry', () => {
  let pushed: Pushed;
  beforeAll(() => {
    pushed = pushImage(env.plainRegistry, ['latest', 'v1']);
  });
  afterAll(async () => {
    dockerQuiet('rmi', '-f', pushed.id);
    await unpush(pushed);
  });

  const clean = (): void => {
    dockerQuiet('rmi', '-f', pushed.id);
    expect(exists(pushed.id)).toBe(false);
  };

  it('pulls by tag and answers the image ID as imageRef', async () => {
    clean();
    try {
      const res = await cri.images.PullImage({ image: { image: `${pushed.repo}:v1` } });
      expect(res.imageRef).toBe(pushed.id);
      const local = inspect(pushed.id);
      // only the tag asked for, plus the digest reference the pull records
      expect(local.RepoTags).toEqual([`${pushed.repo}:v1`]);
      expect(local.RepoDigests).toEqual([`${pushed.repo}@${pushed.digest}`]);
      // pulling what is already there is the same answer
      expect((await cri.images.PullImage({ image: { image: `${pushed.repo}:v1` } })).imageRef).toBe(pushed.id);
    } finally {
      clean();
    }
  });

  it('pulls :latest when the reference has no tag', async () => {
    clean();
    try {
      const res = await cri.images.PullImage({ image: { image: pushed.repo } });
      expect(res.imageRef).toBe(pushed.id);
      expect(inspect(pushed.id).RepoTags).toEqual([`${pushed.repo}:latest`]);
    } finally {
      clean();
    }
  });

  it('pulls by digest, and ImageStatus then finds it by name@digest', async () => {
    clean();
    try {
      const ref = `${pushed.repo}@${pushed.digest}`;
      const res = await cri.images.PullImage({ image: { image: ref } });
      expect(res.imageRef).toBe(pushed.id);
      const st = await status(ref);
      expect(st.image?.id).toBe(pushed.id);
      expect(st.image?.repoTags ?? []).toEqual([]);
      expect(st.image?.repoDigests).toEqual([ref]);
    } finally {
      clean();
    }
  });

  it('records the registry digest: ImageStatus by name@digest after a pull by tag', async () => {
    clean();
    try {
      await cri.images.PullImage({ image: { image: `${pushed.repo}:latest` } });
      const byTag = await status(`${pushed.repo}:latest`);
      expect(byTag.image?.repoDigests).toEqual([`${pushed.repo}@${pushed.digest}`]);
      const byDigest = await status(`${pushed.repo}@${pushed.digest}`);
      expect(byDigest.image?.id).toBe(pushed.id);
      expect(byDigest.image?.repoTags).toEqual([`${pushed.repo}:latest`]);
    } finally {
      clean();
    }
  });

  it('fails NOT_FOUND for a tag or repository the registry does not have', async () => {
    for (const ref of [`${pushed.repo}:no-such-tag`, `${env.plainRegistry}/${uniq('dockercri-images')}/absent:1`, `${pushed.repo}@sha256:${'a'.repeat(64)}`]) {
      const err = await grpcError(cri.images.PullImage({ image: { image: ref } }));
      expect(err.code, ref).toBe(Code.NOT_FOUND);
      expect(err.details).toContain(ref);
    }
    expect(exists(pushed.id)).toBe(false);
  });
});

describe('PullImage from the registry with authentication', () => {
  let pushed: Pushed;
  let ref: string;
  beforeAll(() => {
    pushed = pushImage(env.authRegistry, ['latest'], { user: env.authUser, password: env.authPassword });
    ref = `${pushed.repo}:latest`;
  });
  afterAll(async () => {
    dockerQuiet('rmi', '-f', pushed.id);
    await unpush(pushed);
  });

  const clean = (): void => {
    dockerQuiet('rmi', '-f', pushed.id);
    expect(exists(pushed.id)).toBe(false);
  };

  it('pulls with username and password', async () => {
    clean();
    try {
      const res = await cri.images.PullImage({ image: { image: ref }, auth: { username: env.authUser, password: env.authPassword } });
      expect(res.imageRef).toBe(pushed.id);
      expect(inspect(pushed.id).RepoTags).toEqual([ref]);
    } finally {
      clean();
    }
  });

  it('pulls with auth as base64 of user:password', async () => {
    clean();
    try {
      const auth = Buffer.from(`${env.authUser}:${env.authPassword}`).toString('base64');
      const res = await cri.images.PullImage({ image: { image: ref }, auth: { auth } });
      expect(res.imageRef).toBe(pushed.id);
      expect(inspect(pushed.id).RepoTags).toEqual([ref]);
    } finally {
      clean();
    }
  });

  it('fails UNAUTHENTICATED with a wrong password, without echoing it', async () => {
    clean();
    const err = await grpcError(cri.images.PullImage({ image: { image: ref }, auth: { username: env.authUser, password: 'wrong-password-123' } }));
    expect(err.code).toBe(Code.UNAUTHENTICATED);
    expect(err.details).toContain('authentication failed');
    expect(err.details).toContain(pushed.repo);
    expect(err.details).not.toContain('wrong-password-123');
    expect(exists(pushed.id)).toBe(false);
  });

  it('fails without credentials, and pulls nothing', async () => {
    clean();
    const err = await grpcError(cri.images.PullImage({ image: { image: ref } }));
    expect(err.code).toBe(Code.UNAUTHENTICATED);
    expect(err.details).toContain('authentication failed');
    expect(exists(pushed.id)).toBe(false);
  });

  it('rejects auth that is not base64 of user:password as INVALID_ARGUMENT', async () => {
    for (const auth of ['not base64!', Buffer.from('no-colon').toString('base64')]) {
      const err = await grpcError(cri.images.PullImage({ image: { image: ref }, auth: { auth } }));
      expect(err.code).toBe(Code.INVALID_ARGUMENT);
      expect(err.details).toContain('auth.auth must be base64');
    }
    expect(exists(pushed.id)).toBe(false);
  });
});

describe('PullImage progress deadline', () => {
  it('cancels a pull that makes no progress, with DEADLINE_EXCEEDED naming the deadline', async () => {
    const sockets: Socket[] = [];
    // a "registry" that accepts connections and never answers
    const server = createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const slow = await startDockercri({ args: ['--image-pull-progress-deadline=1s'] });
    try {
      const ref = `127.0.0.1:${port}/stall/img:1`;
      const started = Date.now();
      const err = await grpcError(slow.images.PullImage({ image: { image: ref } }, { deadlineMs: 60_000 }));
      const elapsed = Date.now() - started;
      expect(err.code).toBe(Code.DEADLINE_EXCEEDED);
      expect(err.details).toContain(ref);
      expect(err.details).toContain('no progress for 1s');
      expect(err.details).toContain('--image-pull-progress-deadline');
      expect(elapsed).toBeLessThan(30_000);
      // the Engine did reach the stalled registry: the deadline, not a refusal, ended the pull
      expect(sockets.length).toBeGreaterThan(0);
      expect((await slow.runtime.Version({})).runtimeName).toBe('docker');
    } finally {
      await slow.stop();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('RemoveImage', () => {
  it('by tag of a multi-tag image removes only that tag', async () => {
    const repo = uniq('dockercri-images/rm-tag');
    const id = loadImage([`${repo}:one`, `${repo}:two`]);
    try {
      await cri.images.RemoveImage({ image: { image: `${repo}:one` } });
      expect(exists(`${repo}:one`)).toBe(false);
      expect(inspect(id).RepoTags).toEqual([`${repo}:two`]);
      expect((await status(`${repo}:one`)).image ?? null).toBeNull();
      expect((await status(`${repo}:two`)).image?.repoTags).toEqual([`${repo}:two`]);
    } finally {
      dockerQuiet('rmi', '-f', id);
    }
  });

  it('by a name without tag removes :latest', async () => {
    const repo = uniq('dockercri-images/rm-latest');
    const id = loadImage([`${repo}:latest`, `${repo}:keep`]);
    try {
      await cri.images.RemoveImage({ image: { image: repo } });
      expect(inspect(id).RepoTags).toEqual([`${repo}:keep`]);
    } finally {
      dockerQuiet('rmi', '-f', id);
    }
  });

  it.each([
    ['full ID', (id: string) => id],
    ['bare ID', (id: string) => id.slice(7)],
    ['short ID', (id: string) => id.slice(7, 19)],
  ])('by %s removes the image with all its tags', async (_name, refOf) => {
    const repo = uniq('dockercri-images/rm-id');
    const otherRepo = uniq('dockercri-images/rm-id-other');
    const id = loadImage([`${repo}:one`, `${repo}:two`, `${otherRepo}:three`]);
    try {
      await cri.images.RemoveImage({ image: { image: refOf(id) } });
      expect(exists(id)).toBe(false);
      for (const tag of [`${repo}:one`, `${repo}:two`, `${otherRepo}:three`]) expect(exists(tag)).toBe(false);
      expect((await status(id)).image ?? null).toBeNull();
      expect((await cri.images.ListImages({})).images?.some((i) => i.id === id)).toBe(false);
    } finally {
      dockerQuiet('rmi', '-f', id);
    }
  });

  it('is idempotent: removing twice, or what never existed, succeeds', async () => {
    const repo = uniq('dockercri-images/rm-twice');
    const id = loadImage([`${repo}:only`]);
    try {
      expect(await cri.images.RemoveImage({ image: { image: `${repo}:only` } })).toEqual({});
      expect(exists(id)).toBe(false);
      expect(await cri.images.RemoveImage({ image: { image: `${repo}:only` } })).toEqual({});
      expect(await cri.images.RemoveImage({ image: { image: id } })).toEqual({});
      expect(await cri.images.RemoveImage({ image: { image: id } })).toEqual({});
      expect(await cri.images.RemoveImage({ image: { image: uniq('dockercri-images/never') } })).toEqual({});
    } finally {
      dockerQuiet('rmi', '-f', id);
    }
  });

  describe('by digest reference', () => {
    let pushed: Pushed;
    beforeAll(() => {
      pushed = pushImage(env.plainRegistry, ['latest']);
    });
    afterAll(async () => {
      dockerQuiet('rmi', '-f', pushed.id);
      await unpush(pushed);
    });

    it('removes an image pulled by digest', async () => {
      const ref = `${pushed.repo}@${pushed.digest}`;
      try {
        expect((await cri.images.PullImage({ image: { image: ref } })).imageRef).toBe(pushed.id);
        await cri.images.RemoveImage({ image: { image: ref } });
        expect(exists(pushed.id)).toBe(false);
        expect((await status(ref)).image ?? null).toBeNull();
        expect(await cri.images.RemoveImage({ image: { image: ref } })).toEqual({});
      } finally {
        dockerQuiet('rmi', '-f', pushed.id);
      }
    });

    it('removes only the digest reference of an image that also has a tag', async () => {
      const ref = `${pushed.repo}@${pushed.digest}`;
      try {
        await cri.images.PullImage({ image: { image: `${pushed.repo}:latest` } });
        await cri.images.RemoveImage({ image: { image: ref } });
        expect((await status(ref)).image ?? null).toBeNull();
        expect(inspect(pushed.id).RepoTags).toEqual([`${pushed.repo}:latest`]);
        expect(inspect(pushed.id).RepoDigests).toEqual([]);
      } finally {
        dockerQuiet('rmi', '-f', pushed.id);
      }
    });
  });
});

describe('ImageFsInfo', () => {
  it("reports Docker's storage directory with usage and a fresh timestamp", async () => {
    const root = docker('info', '--format', '{{.DockerRootDir}}');
    const driver = docker('info', '--format', '{{.Driver}}');
    const res = await cri.images.ImageFsInfo({});
    expect(res.imageFilesystems).toHaveLength(1);
    const fs = res.imageFilesystems![0]!;
    expect(fs.fsId?.mountpoint).toBe(join(root, driver));
    expect(fs.fsId?.mountpoint?.startsWith(`${root}/`)).toBe(true);
    expect(num(fs.usedBytes?.value)).toBeGreaterThan(0);
    expect(num(fs.inodesUsed?.value)).toBeGreaterThan(0);
    const takenMs = num(fs.timestamp) / 1e6;
    expect(takenMs).toBeLessThanOrEqual(Date.now() + 1000);
    expect(takenMs).toBeGreaterThan(Date.now() - 5 * 60_000);
    expect(res.containerFilesystems).toHaveLength(1);
    expect(res.containerFilesystems![0]!.fsId?.mountpoint).toBe(fs.fsId?.mountpoint);
    expect(num(res.containerFilesystems![0]!.usedBytes?.value)).toBeGreaterThan(0);
  });
});

describe('bad input', () => {
  const GARBAGE = ['UPPER/Case', 'a b', '::', 'x@sha256:zz', 'a'.repeat(5000), ' ', 'busybox:latest ', 'busybox:', '@sha256:' + 'a'.repeat(64), 'a//b'];
  const MIB = 'x'.repeat(1024 * 1024);
  const reasonable = (details: string): void => {
    // a clear message that does not echo a huge input back
    expect(details.length).toBeGreaterThan(10);
    expect(details.length).toBeLessThan(1000);
  };

  it('rejects a missing or empty image spec on every rpc that takes one', async () => {
    for (const request of [{}, { image: {} }, { image: { image: '' } }, { image: { image: '   ' } }]) {
      for (const rpc of ['PullImage', 'ImageStatus', 'RemoveImage'] as const) {
        const err = await grpcError(cri.images[rpc](request));
        expect(err.code, `${rpc} ${JSON.stringify(request)}`).toBe(Code.INVALID_ARGUMENT);
        expect(err.details).toContain(`${rpc}: image.image is required`);
      }
    }
  });

  it('rejects garbage references on every rpc, pulling nothing', async () => {
    for (const ref of GARBAGE) {
      const calls = {
        PullImage: () => cri.images.PullImage({ image: { image: ref } }),
        ImageStatus: () => cri.images.ImageStatus({ image: { image: ref } }),
        RemoveImage: () => cri.images.RemoveImage({ image: { image: ref } }),
        ListImages: () => cri.images.ListImages({ filter: { image: { image: ref } } }),
        StreamImages: () => streamImages({ filter: { image: { image: ref } } }),
      };
      for (const [rpc, call] of Object.entries(calls)) {
        const err = await grpcError(call());
        expect(err.code, `${rpc} ${JSON.stringify(ref.slice(0, 20))}`).toBe(Code.INVALID_ARGUMENT);
        reasonable(err.details);
        // rejected by dockercri's own parser, before anything reached the Engine
        expect(err.details).toMatch(/invalid image reference|image reference longer than|image\.image is required/);
      }
    }
    const names = ((await cri.images.ListImages({})).images ?? []).flatMap((i) => [...(i.repoTags ?? []), ...(i.repoDigests ?? [])]);
    for (const fragment of ['upper/case', 'a b', 'x@sha256:zz', 'a'.repeat(256), 'a//b']) expect(names.filter((n) => n.includes(fragment))).toEqual([]);
  });

  it('answers oversized fields with a clear error', async () => {
    const huge = `${env.plainRegistry}/${MIB.slice(0, 300_000)}`;
    for (const [rpc, call] of [
      ['PullImage', () => cri.images.PullImage({ image: { image: MIB } })],
      ['PullImage', () => cri.images.PullImage({ image: { image: huge } })],
      ['ImageStatus', () => cri.images.ImageStatus({ image: { image: MIB } })],
      ['RemoveImage', () => cri.images.RemoveImage({ image: { image: MIB } })],
      ['ListImages', () => cri.images.ListImages({ filter: { image: { image: MIB } } })],
      ['StreamImages', () => streamImages({ filter: { image: { image: MIB } } })],
    ] as const) {
      const err = await grpcError(call());
      expect(err.code, rpc).toBe(Code.INVALID_ARGUMENT);
      expect(err.details).toMatch(/longer than 4096 characters/);
      reasonable(err.details);
    }
    // credentials travel in one HTTP header to the Engine; huge ones are refused up front
    const ref = `${env.authRegistry}/${uniq('dockercri-images')}/img:latest`;
    for (const [field, auth] of [
      ['username', { username: MIB, password: 'p' }],
      ['password', { username: 'u', password: MIB }],
      ['auth', { auth: MIB }],
      ['registryToken', { registryToken: MIB }],
      ['identityToken', { identityToken: MIB }],
      ['serverAddress', { username: 'u', serverAddress: MIB }],
    ] as const) {
      const err = await grpcError(cri.images.PullImage({ image: { image: ref }, auth }));
      expect(err.code, field).toBe(Code.INVALID_ARGUMENT);
      expect(err.details).toBe(`auth.${field} is longer than 65536 characters`);
    }
    // a field the rpc does not use does not get in the way
    const ok = await cri.images.ImageStatus({ image: { image: BUSYBOX, annotations: { big: MIB }, userSpecifiedImage: MIB } });
    expect(ok.image?.repoTags).toContain(BUSYBOX);
    // beyond the server's message limit grpc itself refuses the call
    const tooBig = await grpcError(cri.images.ImageStatus({ image: { image: 'x'.repeat(17 * 1024 * 1024) } }));
    expect(tooBig.code).toBe(Code.RESOURCE_EXHAUSTED);
  });

  it('answers INVALID_ARGUMENT to a request that does not decode', async () => {
    // the real paths, with a serializer that sends bytes no protobuf message decodes from
    const garbled = Object.fromEntries(
      Object.entries(imageServiceDefinition).map(([name, def]) => [name, { ...def, requestSerialize: () => Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]) }]),
    );
    const Ctor = grpc.makeGenericClientConstructor(garbled as grpc.ServiceDefinition, 'garbled');
    const client = new Ctor(`unix://${cri.socket}`, grpc.credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => unknown>;
    try {
      for (const rpc of ['PullImage', 'ImageStatus', 'RemoveImage', 'ListImages', 'ImageFsInfo']) {
        const err = await new Promise<grpc.ServiceError | null>((resolve) =>
          client[rpc]!.call(client, {}, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (e: grpc.ServiceError | null) => resolve(e)),
        );
        expect(err?.code, rpc).toBe(Code.INVALID_ARGUMENT);
        expect(err?.details).toContain(`${rpc}: malformed request`);
      }
    } finally {
      (client as unknown as grpc.Client).close();
    }
  });

  it('leaves the process alive and answering', async () => {
    expect(cri.proc.exitCode).toBeNull();
    expect(cri.proc.signalCode).toBeNull();
    expect((await cri.runtime.Version({ version: 'v1' })).runtimeName).toBe('docker');
    expect((await status(BUSYBOX)).image?.repoTags).toContain(BUSYBOX);
    expect(cri.log()).not.toMatch(/uncaught|unhandled/i);
  });
});
