// The names and labels cri-dockerd gives Docker objects, so either shim can manage what the
// other created. Pure: no I/O.
import { randomBytes } from 'node:crypto';

export const KUBE_PREFIX = 'k8s';
export const SANDBOX_CONTAINER_NAME = 'POD';
export const LABEL_TYPE = 'io.kubernetes.docker.type';
export const TYPE_SANDBOX = 'podsandbox';
export const TYPE_CONTAINER = 'container';
export const LABEL_SANDBOX_ID = 'io.kubernetes.sandbox.id';
export const LABEL_LOG_PATH = 'io.kubernetes.container.logpath';
export const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';
export const ANNOTATION_PREFIX = 'annotation.';

/** Labels the shim keeps for itself; they are never shown to kubelet. */
const INTERNAL = new Set([LABEL_TYPE, LABEL_SANDBOX_ID, LABEL_LOG_PATH]);

export interface SandboxNameParts {
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
}

export interface ContainerNameParts extends SandboxNameParts {
  containerName: string;
}

export const sandboxName = (m: SandboxNameParts): string => [KUBE_PREFIX, SANDBOX_CONTAINER_NAME, m.name, m.namespace, m.uid, m.attempt].join('_');

export const containerName = (c: ContainerNameParts): string => [KUBE_PREFIX, c.containerName, c.name, c.namespace, c.uid, c.attempt].join('_');

/**
 * A name made unique after a conflict that could not be resolved by removing the old container:
 * eight hex digits after "_", as cri-dockerd's randomizeName writes them.
 */
export const randomizedName = (name: string): string => `${name}_${randomBytes(4).toString('hex')}`;

/**
 * Reads the parts back from a Docker name ("/k8s_<container>_<pod>_<ns>_<uid>_<attempt>", with an
 * optional random suffix); undefined for names that are not the shim's.
 */
export function parseName(dockerName: string): ContainerNameParts | undefined {
  const parts = dockerName.replace(/^\//, '').split('_');
  if ((parts.length !== 6 && parts.length !== 7) || parts[0] !== KUBE_PREFIX) return undefined;
  const attempt = Number(parts[5]);
  if (!/^\d+$/.test(parts[5] as string) || attempt > 0xffffffff) return undefined;
  return { containerName: parts[1] as string, name: parts[2] as string, namespace: parts[3] as string, uid: parts[4] as string, attempt };
}

/** Docker labels for a CRI object: its labels as they are, its annotations under "annotation.". */
export function makeLabels(labels: Record<string, string> | null | undefined, annotations: Record<string, string> | null | undefined): Record<string, string> {
  const merged: Record<string, string> = { ...(labels ?? {}) };
  for (const [k, v] of Object.entries(annotations ?? {})) merged[ANNOTATION_PREFIX + k] = v;
  return merged;
}

/** A container's labels without those it only inherited from its image (same key and value). */
export function withoutInherited(labels: Record<string, string> | null | undefined, inherited: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) if (inherited[k] !== v) out[k] = v;
  return out;
}

/** Splits Docker labels back into CRI labels and annotations, dropping the shim's own. */
export function extractLabels(dockerLabels: Record<string, string> | null | undefined): { labels: Record<string, string>; annotations: Record<string, string> } {
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  const input = dockerLabels ?? {};
  for (const [k, v] of Object.entries(input)) {
    if (INTERNAL.has(k)) continue;
    // the shim adds the container-name label to sandboxes itself; kubelet never set it
    if (k === LABEL_CONTAINER_NAME && input[LABEL_TYPE] === TYPE_SANDBOX) continue;
    if (k.startsWith(ANNOTATION_PREFIX)) annotations[k.slice(ANNOTATION_PREFIX.length)] = v;
    else labels[k] = v;
  }
  return { labels, annotations };
}

/** Whether a name part can be used: the "_" separator would make the name unreadable. */
export const isNamePart = (s: string): boolean => s !== '' && !s.includes('_') && !s.includes('/') && s.length <= 253;
