// Docker image references: [domain[:port]/]path[:tag][@algorithm:hex], parsed without I/O.
import { invalidArgument } from '../errors.js';

export interface ImageReference {
  /** The name as given, without tag or digest ("busybox", "127.0.0.1:5000/x/y"). */
  name: string;
  /** The fully qualified name ("docker.io/library/busybox"). */
  familiar: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const ID = /^(?:sha256:)?[a-f0-9]{64}$/;
export const MAX_REFERENCE_LENGTH = 4096;
const MAX_PATH_LENGTH = 255;

/** True for a full image ID, with or without its "sha256:" prefix. */
export const isImageId = (ref: string): boolean => ID.test(ref);

/** Parses a reference or throws INVALID_ARGUMENT saying what is wrong with it. */
export function parseReference(ref: string): ImageReference {
  const bad = (why: string) => invalidArgument(`invalid image reference "${ref.length > 200 ? ref.slice(0, 200) + '…' : ref}": ${why}`);
  if (ref === '') throw bad('empty');
  if (ref.length > MAX_REFERENCE_LENGTH) throw bad(`longer than ${MAX_REFERENCE_LENGTH} characters`);
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(`"${digest}" is not a digest`);
    if (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest)) throw bad('a sha256 digest has 64 lowercase hex digits');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  if (colon !== -1) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`"${tag}" is not a valid tag`);
  }
  const parts = rest.split('/');
  let domain: string | undefined;
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0] as string) || (parts.length > 1 && (parts[0] as string) !== (parts[0] as string).toLowerCase())) {
    domain = parts.shift() as string;
    if (!DOMAIN.test(domain)) throw bad(`"${domain}" is not a registry host`);
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    throw bad('the name must be lowercase letters, digits and separators (. _ __ -) in /-separated parts');
  }
  const path = parts.join('/');
  const dockerHub = domain === undefined || domain === 'docker.io' || domain === 'index.docker.io';
  // Docker limits the repository path as normalized: "library/" counts for an official image.
  const remote = dockerHub && parts.length === 1 ? `library/${path}` : path;
  if (remote.length > MAX_PATH_LENGTH) throw bad(`the repository name must not be more than ${MAX_PATH_LENGTH} characters`);
  const familiar = `${dockerHub ? 'docker.io' : domain}/${remote}`;
  return { name: domain === undefined ? path : `${domain}/${path}`, familiar, tag, digest };
}

/** What to pull for a reference: a digest wins over a tag, and no tag means "latest". */
export function pullTarget(ref: ImageReference): { name: string; tagOrDigest: string } {
  return { name: ref.name, tagOrDigest: ref.digest ?? ref.tag ?? 'latest' };
}
