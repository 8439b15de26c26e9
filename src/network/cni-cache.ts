// libcni's result cache, byte-compatible so a node can switch between cri-dockerd and dockercri
// with pods running: <cacheDir>/results/<networkName>-<containerId>-<ifName> holding libcni's
// cachedInfo (libcni/api.go) as JSON, field order and omitempty rules included.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { CniResult } from './cni-translate.js';

export const CACHE_KIND = 'cniCacheV1';

/** One cached attachment (libcni's cachedInfo). */
export interface CniCacheEntry {
  containerId: string;
  /** The network config list's bytes as ADD was given them (base64 in the file, as Go's []byte). */
  config: Buffer;
  ifName: string;
  networkName: string;
  /** Written by libcni since 1.2; older readers ignore it. */
  netns?: string;
  cniArgs?: [string, string][];
  capabilityArgs?: Record<string, unknown>;
  /** The final ADD result. */
  result?: CniResult;
}

export function cacheFilePath(cacheDir: string, networkName: string, containerId: string, ifName: string): string {
  return join(cacheDir, 'results', `${networkName}-${containerId}-${ifName}`);
}

/** The file's JSON: Go's field order, empty optional fields left out as `omitempty` does. */
export function encodeCacheEntry(entry: CniCacheEntry): string {
  const doc: Record<string, unknown> = {
    kind: CACHE_KIND,
    containerId: entry.containerId,
    config: entry.config.toString('base64'),
    ifName: entry.ifName,
    networkName: entry.networkName,
  };
  if (entry.netns) doc.netns = entry.netns;
  if (entry.cniArgs && entry.cniArgs.length > 0) doc.cniArgs = entry.cniArgs;
  if (entry.capabilityArgs && Object.keys(entry.capabilityArgs).length > 0) doc.capabilityArgs = entry.capabilityArgs;
  if (entry.result && Object.keys(entry.result).length > 0) doc.result = entry.result;
  return JSON.stringify(doc);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a cache file; a string says why it is not a usable cniCacheV1 entry. */
export function decodeCacheEntry(text: string): CniCacheEntry | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  if (!isObject(doc)) return 'not a JSON object';
  if (doc.kind !== CACHE_KIND) return `kind is ${JSON.stringify(doc.kind ?? null)}, not "${CACHE_KIND}"`;
  if (typeof doc.containerId !== 'string' || doc.containerId === '') return 'no "containerId"';
  if (typeof doc.networkName !== 'string' || doc.networkName === '') return 'no "networkName"';
  if (typeof doc.ifName !== 'string' || doc.ifName === '') return 'no "ifName"';
  if (doc.config !== null && doc.config !== undefined && typeof doc.config !== 'string') return '"config" is not base64 text';
  const entry: CniCacheEntry = {
    containerId: doc.containerId,
    config: Buffer.from(typeof doc.config === 'string' ? doc.config : '', 'base64'),
    ifName: doc.ifName,
    networkName: doc.networkName,
  };
  if (typeof doc.netns === 'string' && doc.netns !== '') entry.netns = doc.netns;
  if (Array.isArray(doc.cniArgs)) {
    const pairs = doc.cniArgs.filter((p): p is [string, string] => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string');
    if (pairs.length !== doc.cniArgs.length) return '"cniArgs" is not a list of [key, value] pairs';
    entry.cniArgs = pairs;
  }
  if (isObject(doc.capabilityArgs)) entry.capabilityArgs = doc.capabilityArgs;
  if (isObject(doc.result)) entry.result = doc.result;
  return entry;
}

/** Writes an entry atomically (temp file, fsync, rename), 0600 in a 0700 directory as libcni does. */
export async function writeCacheEntry(cacheDir: string, entry: CniCacheEntry): Promise<string> {
  const file = cacheFilePath(cacheDir, entry.networkName, entry.containerId, entry.ifName);
  const dir = join(cacheDir, 'results');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${entry.networkName}-${entry.containerId}-${entry.ifName}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(encodeCacheEntry(entry));
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return file;
}

export type CacheRead = { file: string; entry: CniCacheEntry } | { file: string; problem: string };

/** Reads one cache file; undefined when there is none. */
export async function readCacheFile(file: string): Promise<CacheRead | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { file, problem: `unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  const decoded = decodeCacheEntry(text);
  return typeof decoded === 'string' ? { file, problem: decoded } : { file, entry: decoded };
}

/**
 * Every cached attachment of a container on `ifName`, whatever network it was made on, sorted by
 * file name. Files that are not usable entries are returned with the problem, so the caller can
 * still remove them after its DEL.
 */
export async function findCacheEntries(cacheDir: string, containerId: string, ifName: string): Promise<CacheRead[]> {
  const dir = join(cacheDir, 'results');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const suffix = `-${containerId}-${ifName}`;
  const reads: CacheRead[] = [];
  for (const name of names.filter((n) => !n.startsWith('.') && n.endsWith(suffix) && n.length > suffix.length).sort()) {
    const read = await readCacheFile(join(dir, name));
    if (!read) continue;
    if ('entry' in read && (read.entry.containerId !== containerId || read.entry.ifName !== ifName)) continue;
    reads.push(read);
  }
  return reads;
}

/** Removes a cache file; one already gone is fine. */
export async function removeCacheFile(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
