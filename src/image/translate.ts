// Docker image objects → CRI Image messages. Pure: no I/O.
import type { runtime } from '../gen/api.js';
import { parseReference } from './reference.js';

export interface DockerImageLike {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Size?: number;
  Config?: { User?: string } | null;
}

/** The image's user as CRI wants it: a numeric uid, or else a name. */
export function imageUser(user: string | undefined): { uid?: number; username?: string } {
  const name = (user ?? '').split(':')[0] ?? '';
  if (name === '') return {};
  if (/^\d+$/.test(name)) return { uid: Number(name) };
  return { username: name };
}

const real = (refs: string[] | null | undefined): string[] => (refs ?? []).filter((r) => !r.startsWith('<none>'));

export function toCriImage(image: DockerImageLike, pinned: boolean): runtime.v1.IImage {
  const user = imageUser(image.Config?.User);
  const out: runtime.v1.IImage = {
    id: image.Id,
    repoTags: real(image.RepoTags),
    repoDigests: real(image.RepoDigests),
    size: image.Size ?? 0,
    spec: { image: image.Id },
    pinned,
  };
  if (user.uid !== undefined) out.uid = { value: user.uid };
  if (user.username !== undefined) out.username = user.username;
  return out;
}

/** Whether `ref` names the image by its ID (full, with or without "sha256:", or a unique prefix). */
export function refersToId(ref: string, imageId: string): boolean {
  const hex = imageId.replace(/^sha256:/, '');
  const r = ref.replace(/^sha256:/, '');
  return /^[a-f0-9]+$/.test(r) && r.length >= 1 && hex.startsWith(r);
}

/** A reference as one comparable string: "docker.io/library/pause:3.10" or "<name>@<digest>". */
function canonical(ref: string): string | undefined {
  try {
    const r = parseReference(ref);
    return r.digest ? `${r.familiar}@${r.digest}` : `${r.familiar}:${r.tag ?? 'latest'}`;
  } catch {
    return undefined;
  }
}

/**
 * Whether the image is the pod infra image, which kubelet's image GC must keep (CRI's `pinned`).
 * The flag may name it by tag or by digest, in short or full form ("pause:3.10",
 * "docker.io/library/pause:3.10", "registry.k8s.io/pause@sha256:…").
 */
export function isPinnedImage(image: Pick<DockerImageLike, 'RepoTags' | 'RepoDigests'>, podInfraImage: string): boolean {
  const wanted = canonical(podInfraImage);
  if (wanted === undefined) return false;
  return [...real(image.RepoTags), ...real(image.RepoDigests)].some((ref) => ref === podInfraImage || canonical(ref) === wanted);
}
