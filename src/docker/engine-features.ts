// What the Engine and its runtimes can do, and how that reads as CRI runtime handlers. Pure: the
// Engine's info, its API version and the kernel release come in as facts.
import type { runtime } from '../gen/api.js';

/** The Engine facts the handler features depend on. */
export interface EngineFacts {
  /** The Engine's API version ("1.41"). */
  apiVersion: string;
  /** Docker runtime name → the status the Engine reports for it (API 1.44 and newer; else empty). */
  runtimes: Record<string, Record<string, string>>;
  defaultRuntime: string;
  /** Info.CDISpecDirs (API 1.44 and newer): empty when the Engine has CDI off. */
  cdiSpecDirs: readonly string[];
  /** os.release() of the host the Engine runs on. */
  kernelRelease: string;
}

/** Engine API versions that brought what the features below need. */
export const API_RUNTIME_FEATURES = '1.44';

/** The runtime status key under which the Engine publishes the OCI runtime's features document. */
const OCI_FEATURES = 'org.opencontainers.runtime-spec.features';

/** Whether an Engine API version ("1.41") is at least `min`. */
export function apiAtLeast(apiVersion: string, min: string): boolean {
  const have = apiVersion.split('.').map(Number);
  const want = min.split('.').map(Number);
  for (let i = 0; i < Math.max(have.length, want.length); i++) {
    const h = have[i] ?? 0;
    const w = want[i] ?? 0;
    if (h !== w) return h > w;
  }
  return true;
}

/** Whether a kernel release ("6.1.0-18-amd64") is at least major.minor. */
export function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [have, haveMinor] = [Number(m[1]), Number(m[2])];
  return have !== major ? have > major : haveMinor >= minor;
}

/**
 * Why recursive read-only mounts cannot be had with Docker runtime `name`; undefined when they
 * can. They need the Engine to take ReadOnlyForceRecursive (API 1.44, Engine 25), the kernel's
 * mount_setattr (5.12) and an OCI runtime that lists the "rro" mount option (runc 1.1, crun 1.4).
 */
export function recursiveReadOnlyGap(facts: EngineFacts, name: string): string | undefined {
  if (!apiAtLeast(facts.apiVersion, API_RUNTIME_FEATURES)) return `they need Docker Engine API ${API_RUNTIME_FEATURES} (Engine 25) or newer; this Engine speaks ${facts.apiVersion}`;
  if (!kernelAtLeast(facts.kernelRelease, 5, 12)) return `they need Linux 5.12 or newer; this host runs ${facts.kernelRelease}`;
  const status = facts.runtimes[name];
  if (!status) return `Docker has no runtime "${name}"`;
  let options: unknown;
  try {
    options = (JSON.parse(status[OCI_FEATURES] ?? 'null') as { mountOptions?: unknown } | null)?.mountOptions;
  } catch {
    return `Docker runtime "${name}" publishes an unreadable features document`;
  }
  if (!Array.isArray(options) || !options.includes('rro')) return `Docker runtime "${name}" does not offer the "rro" mount option`;
  return undefined;
}

/** Whether the Engine injects CDI devices: it says so by naming the spec directories it reads. */
export const cdiEnabled = (facts: EngineFacts): boolean => apiAtLeast(facts.apiVersion, API_RUNTIME_FEATURES) && facts.cdiSpecDirs.length > 0;

/**
 * StatusResponse.runtime_handlers: the default handler ("") first, then every Docker runtime by
 * name. User namespaces are never offered: Docker sets them per daemon, not per container.
 */
export function runtimeHandlers(facts: EngineFacts): runtime.v1.IRuntimeHandler[] {
  const features = (name: string): runtime.v1.IRuntimeHandlerFeatures => ({ recursiveReadOnlyMounts: recursiveReadOnlyGap(facts, name) === undefined, userNamespaces: false });
  const names = Object.keys(facts.runtimes).sort();
  return [{ name: '', features: features(facts.defaultRuntime) }, ...names.map((name) => ({ name, features: features(name) }))];
}
