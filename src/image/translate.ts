// Docker image objects → CRI Image messages. Pure: no I/O.
import type { runtime } from '../gen/api.js';

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
