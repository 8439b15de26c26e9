// Finding the node's default CNI network the way kubelet runtimes do: the first file, in
// lexical order, among *.conf, *.conflist and *.json in the conf dir that holds a usable config.
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';

export interface CniPluginConf {
  type: string;
  [key: string]: unknown;
}

export interface CniNetwork {
  name: string;
  cniVersion: string;
  plugins: CniPluginConf[];
  /** The file it came from. */
  file: string;
  /** The network config list as JSON, with single-plugin files wrapped into a list. */
  raw: Record<string, unknown>;
}

export type CniLoad = { ok: true; network: CniNetwork } | { ok: false; reason: string; message: string };

const EXTENSIONS = new Set(['.conf', '.conflist', '.json']);
const MAX_CONF_BYTES = 1 << 20;

/** Parses one config file's text; a string says why it is unusable. */
export function parseNetworkConfig(file: string, text: string): CniNetwork | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'not a JSON object';
  const obj = doc as Record<string, unknown>;
  let list: Record<string, unknown>;
  if (extname(file) === '.conflist') {
    list = obj;
  } else if (Array.isArray(obj.plugins)) {
    list = obj;
  } else {
    if (typeof obj.type !== 'string' || obj.type === '') return 'a single network config needs a "type"';
    const { name, cniVersion, ...plugin } = obj;
    list = { name, cniVersion, plugins: [{ ...plugin, cniVersion }] };
  }
  if (typeof list.name !== 'string' || list.name === '') return 'no "name"';
  if (!Array.isArray(list.plugins) || list.plugins.length === 0) return 'no plugins';
  for (const [i, p] of list.plugins.entries()) {
    if (typeof p !== 'object' || p === null || typeof (p as CniPluginConf).type !== 'string' || (p as CniPluginConf).type === '') {
      return `plugin ${i} has no "type"`;
    }
  }
  const cniVersion = typeof list.cniVersion === 'string' && list.cniVersion !== '' ? list.cniVersion : '0.2.0';
  return { name: list.name, cniVersion, plugins: list.plugins as CniPluginConf[], file, raw: { ...list, cniVersion } };
}

/** One candidate file of the conf dir: the network it holds, or why it is unusable. */
export type ConfigCandidate = { name: string; file: string; network: CniNetwork } | { name: string; file: string; problem: string };

/** The candidate file names of `confDir` in the order they are tried, or the errno code of a failed read. */
async function candidateNames(confDir: string): Promise<string[] | { code: string }> {
  try {
    return (await readdir(confDir)).filter((n) => EXTENSIONS.has(extname(n))).sort();
  } catch (err) {
    return { code: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
}

async function readCandidate(confDir: string, name: string): Promise<ConfigCandidate> {
  const file = join(confDir, name);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { name, file, problem: (err as NodeJS.ErrnoException).code ?? 'unreadable' };
  }
  if (text.length > MAX_CONF_BYTES) return { name, file, problem: 'larger than 1 MiB' };
  const parsed = parseNetworkConfig(file, text);
  return typeof parsed === 'string' ? { name, file, problem: parsed } : { name, file, network: parsed };
}

/** Every candidate file of `confDir` in lexical order with its outcome (for `dockercri doctor`). */
export async function scanNetworkConfigs(confDir: string): Promise<{ ok: true; candidates: ConfigCandidate[] } | { ok: false; code: string }> {
  const names = await candidateNames(confDir);
  if (!Array.isArray(names)) return { ok: false, code: names.code };
  const candidates: ConfigCandidate[] = [];
  for (const name of names) candidates.push(await readCandidate(confDir, name));
  return { ok: true, candidates };
}

/** Loads the default network from `confDir`, or says why there is none. */
export async function loadDefaultNetwork(confDir: string): Promise<CniLoad> {
  const names = await candidateNames(confDir);
  if (!Array.isArray(names)) {
    return { ok: false, reason: 'NetworkPluginNotReady', message: `cni config uninitialized: cannot read ${confDir} (${names.code})` };
  }
  const problems: string[] = [];
  for (const name of names) {
    const candidate = await readCandidate(confDir, name);
    if ('network' in candidate) return { ok: true, network: candidate.network };
    problems.push(`${name}: ${candidate.problem}`);
  }
  const detail = problems.length > 0 ? ` (${problems.join('; ')})` : '';
  return { ok: false, reason: 'NetworkPluginNotReady', message: `cni config uninitialized: no valid network config in ${confDir}${detail}` };
}
