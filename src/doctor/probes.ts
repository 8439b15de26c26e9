// The doctor's I/O: each probe gathers the facts for one check and never throws.
import * as grpc from '@grpc/grpc-js';
import { constants } from 'node:fs';
import { access, lstat, readdir, readFile, readlink, realpath, statfs } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { DockerClient } from '../docker/client.js';
import { runtime } from '../gen/api.js';
import { scanNetworkConfigs } from '../network/cni-config.js';
import { findPlugin } from '../network/cni-exec.js';
import { CAPABILITIES, readHostCapabilities } from '../security/capabilities.js';
import { someoneListens } from '../server/socket.js';
import type { CniScan, DiskFacts, DockerFacts, KubeletSettings, PluginLookup, SocketProbe } from './checks.js';
import { parseKubeletConfig } from './checks.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;
const VERSION_DEADLINE_MS = 3000;
/** dockercri runs this plugin for every pod's lo, whatever the network config says. */
const LOOPBACK_PLUGIN = 'loopback';

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export async function probeDocker(docker: DockerClient): Promise<DockerFacts> {
  try {
    const [version, info] = await Promise.all([docker.version(), docker.info()]);
    return { ok: true, version: version.version, apiVersion: version.apiVersion, cgroupDriver: info.cgroupDriver, dockerRootDir: info.dockerRootDir };
  } catch (err) {
    return { ok: false, error: message(err) };
  }
}

/** Whether Docker has the image; undefined when that cannot be told. */
export async function probeImage(docker: DockerClient, image: string): Promise<boolean | undefined> {
  try {
    return (await docker.inspectImage(image)) !== undefined;
  } catch {
    return undefined;
  }
}

/** The kubelet config's settings, or undefined when the file does not exist. */
export async function probeKubeletConfig(path: string): Promise<KubeletSettings | undefined> {
  try {
    return parseKubeletConfig(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}

export async function probeCniConfig(confDir: string): Promise<CniScan> {
  const scan = await scanNetworkConfigs(confDir);
  if (!scan.ok) return { ok: false, error: scan.code };
  return {
    ok: true,
    files: scan.candidates.map((c) => ('network' in c ? { file: c.file, network: { name: c.network.name, plugins: c.network.plugins.map((p) => p.type) } } : { file: c.file, problem: c.problem })),
  };
}

/** Looks up every plugin the network names, and loopback, in the bin dirs the way dockercri does. */
export async function probePlugins(types: readonly string[], binDirs: readonly string[]): Promise<PluginLookup> {
  const lookup: PluginLookup = new Map();
  for (const type of [...new Set([...types, LOOPBACK_PLUGIN])]) {
    const path = await findPlugin(type, binDirs);
    if (!path) {
      lookup.set(type, undefined);
      continue;
    }
    const executable = await access(path, constants.X_OK).then(
      () => true,
      () => false,
    );
    lookup.set(type, { path, executable });
  }
  return lookup;
}

/** The inode of the listening unix socket bound at `path`, from /proc/net/unix text. */
export function listeningInode(procNetUnix: string, path: string): string | undefined {
  for (const line of procNetUnix.split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f.slice(7).join(' ') !== path) continue;
    // __SO_ACCEPTCON marks a listening socket
    if ((parseInt(f[3] as string, 16) & 0x10000) !== 0) return f[6];
  }
  return undefined;
}

export interface SocketHolder {
  pid: number;
  args: string[];
  cwd: string;
}

/** A holder as one short line: pid and command, whitespace folded. */
export function describeHolder(h: SocketHolder): string {
  const command = h.args.join(' ').replace(/\s+/g, ' ').trim();
  return `pid ${h.pid}: ${command.length > 100 ? `${command.slice(0, 99)}…` : command}`;
}

/** The processes holding the listening socket at `path` open (root sees them all). */
async function socketHolders(path: string): Promise<SocketHolder[]> {
  const inode = listeningInode(await readFile('/proc/net/unix', 'utf8').catch(() => ''), path);
  if (!inode) return [];
  const target = `socket:[${inode}]`;
  const holders: SocketHolder[] = [];
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((p) => /^\d+$/.test(p));
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) !== target) continue;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '/');
      holders.push({ pid: Number(pid), args: cmdline.split('\0').filter((a) => a !== ''), cwd });
      break;
    }
  }
  return holders;
}

/** The names dockercri runs under: the installed command, and the bundle `npm run build` writes (run by its #! line). */
const DOCKERCRI_NAMES = new Set(['dockercri', 'dockercri.js']);

/** Whether a holder is a dockercri: the installed command, a built copy, or the same program as this one. */
export async function isDockercri(holder: SocketHolder, selfScript: string | undefined): Promise<boolean> {
  if (basename(holder.args[0] ?? '') === 'dockercri') return true;
  // node's own options may come before the script; the script is the first argument not starting with "-"
  const script = holder.args.slice(1).find((a) => !a.startsWith('-'));
  if (script === undefined) return false;
  if (DOCKERCRI_NAMES.has(basename(script))) return true;
  if (!selfScript) return false;
  return (await realpath(resolve(holder.cwd, script)).catch(() => undefined)) === selfScript;
}

function criVersion(path: string): Promise<runtime.v1.VersionResponse> {
  const client = new grpc.Client(`unix://${path}`, grpc.credentials.createInsecure());
  return new Promise<runtime.v1.VersionResponse>((resolve, reject) => {
    client.makeUnaryRequest(
      '/runtime.v1.RuntimeService/Version',
      (req: runtime.v1.VersionRequest) => Buffer.from(runtime.v1.VersionRequest.encode(req).finish()),
      (buf: Buffer) => runtime.v1.VersionResponse.decode(buf),
      runtime.v1.VersionRequest.create({ version: 'v1' }),
      new grpc.Metadata(),
      { deadline: Date.now() + VERSION_DEADLINE_MS },
      (err, res) => (err || !res ? reject(err ?? new Error('empty answer')) : resolve(res)),
    );
  }).finally(() => client.close());
}

export async function probeSocket(path: string, selfScript: string | undefined): Promise<SocketProbe> {
  let st;
  try {
    st = await lstat(path);
  } catch {
    return { state: 'free' };
  }
  if (!st.isSocket()) return { state: 'not-socket' };
  if (!(await someoneListens(path))) return { state: 'stale' };
  const holders = await socketHolders(path);
  // with socket activation systemd holds it too; the service is the one to name
  const named = holders.find((h) => h.pid !== 1) ?? holders[0];
  const holder = named ? describeHolder(named) : undefined;
  let ours = false;
  for (const h of holders) if (await isDockercri(h, selfScript)) ours = true;
  try {
    const v = await criVersion(path);
    return { state: 'live', ...(holder ? { holder } : {}), version: { runtimeName: v.runtimeName, runtimeVersion: v.runtimeVersion }, ours: ours && v.runtimeName === 'docker' };
  } catch (err) {
    const e = err as grpc.ServiceError;
    const why = e.code === grpc.status.DEADLINE_EXCEEDED ? `no gRPC answer within ${VERSION_DEADLINE_MS / 1000} s` : `${grpc.status[e.code] ?? 'error'}: ${e.details || message(err)}`;
    return { state: 'live', ...(holder ? { holder } : {}), versionError: why, ours: false };
  }
}

export function probeCapabilities(): { hasSysResource: boolean; missing: string[] } {
  const caps = readHostCapabilities();
  return { hasSysResource: caps.hasSysResource, missing: CAPABILITIES.filter((c) => !caps.effective.includes(c)) };
}

export async function probeCgroupVersion(): Promise<1 | 2> {
  try {
    return (await statfs('/sys/fs/cgroup')).type === CGROUP2_SUPER_MAGIC ? 2 : 1;
  } catch {
    return 1;
  }
}

export async function probeDisk(dir: string): Promise<DiskFacts> {
  try {
    const s = await statfs(dir);
    return { ok: true, totalBytes: s.blocks * s.bsize, availableBytes: s.bavail * s.bsize, totalInodes: s.files, freeInodes: s.ffree };
  } catch (err) {
    return { ok: false, error: (err as NodeJS.ErrnoException).code ?? message(err) };
  }
}
