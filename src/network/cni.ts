// Pod networking through CNI plugins, as cri-dockerd does it with libcni: the "cni-loopback"
// network and then the node's default network list on ADD, the reverse on DEL, results cached in
// libcni's own format and place so either runtime can tear down what the other set up.
import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { Code, CriError, invalidArgument } from '../errors.js';
import type { Logger } from '../log.js';
import type { BandwidthCap } from './bandwidth.js';
import { cacheFilePath, findCacheEntries, removeCacheFile, writeCacheEntry, type CniCacheEntry } from './cni-cache.js';
import { loadDefaultNetwork, parseNetworkConfig, type CniLoad, type CniPluginConf } from './cni-config.js';
import { findPlugin, runPlugin } from './cni-exec.js';
import {
  DEFAULT_IFNAME,
  LOOPBACK_NETWORK,
  badCniArg,
  buildPluginConfig,
  declaredCapabilities,
  delTakesPrevResult,
  isTransientCniCode,
  isValidCniName,
  parsePluginFailure,
  parseResult,
  pluginEnv,
  podCapabilityArgs,
  podCniArgs,
  podIps,
  type CniAttachment,
  type CniCommand,
  type CniNetworkList,
  type CniResult,
  type DnsCap,
  type PodIdentity,
  type PortMappingCap,
} from './cni-translate.js';

export type { CniLoad } from './cni-config.js';
export type { DnsCap, PortMappingCap } from './cni-translate.js';

export interface PodNetworkRequest extends PodIdentity {
  /** e.g. /proc/<pause pid>/ns/net */
  netnsPath: string;
  portMappings: PortMappingCap[];
  dns?: DnsCap;
  /** From the pod's bandwidth annotations; absent when it has none. */
  bandwidth?: BandwidthCap;
}

export interface PodNetworkResult {
  /** Primary first; IPv4 before IPv6. */
  ips: string[];
  interfaceName: string;
}

/** What tearDown uses when no cached ADD exists (an ADD cut short by a crash, or never made). */
export type TearDownFallback = Pick<PodNetworkRequest, 'podName' | 'podNamespace' | 'podUid' | 'portMappings'>;

export interface CniManagerOptions {
  confDir: string;
  binDirs: string[];
  cacheDir: string;
  /** --network-plugin-mtu; 0 leaves the plugins' defaults. */
  mtu: number;
  log: Logger;
  /** Kill a plugin that has not finished after this long (default 60 s). */
  pluginTimeoutMs?: number;
  /** The node's pod CIDR(s), for plugins that declare the ipRanges capability. */
  podCidr?: () => string;
}

/** One network list to run, with the bytes that go into the cache. */
interface ListSpec {
  list: CniNetworkList;
  bytes: Buffer;
}

/** One network to DEL the sandbox from, and the cache file to drop afterwards. */
interface DelTarget {
  list: CniNetworkList;
  attachment: CniAttachment;
  prevResult?: CniResult | undefined;
  file?: string;
}

const LOOPBACK_SPEC: ListSpec = { list: LOOPBACK_NETWORK, bytes: Buffer.from(JSON.stringify(LOOPBACK_NETWORK)) };
const TORN_DOWN_MEMORY = 4096;

export class CniManager {
  private readonly confDir: string;
  private readonly binDirs: string[];
  private readonly cacheDir: string;
  private readonly mtu: number;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly podCidr: () => string;
  /** The tail of each sandbox's queue of ADD/DEL/cache reads; never rejects. */
  private readonly queues = new Map<string, Promise<void>>();
  private readonly results = new Map<string, PodNetworkResult>();
  /** Sandboxes torn down by this process, so a repeated StopPodSandbox runs no plugin. */
  private readonly tornDown = new Set<string>();

  constructor(opts: CniManagerOptions) {
    this.confDir = opts.confDir;
    this.binDirs = opts.binDirs;
    this.cacheDir = opts.cacheDir;
    this.mtu = opts.mtu;
    this.log = opts.log;
    this.timeoutMs = opts.pluginTimeoutMs ?? 60_000;
    this.podCidr = opts.podCidr ?? (() => '');
  }

  loadNetwork(): Promise<CniLoad> {
    return loadDefaultNetwork(this.confDir);
  }

  /** ADDs the pod to cni-loopback and to the default network; on failure undoes what it did. */
  setUp(req: PodNetworkRequest): Promise<PodNetworkResult> {
    if (!isValidCniName(req.sandboxId)) return Promise.reject(invalidArgument(`set up pod network: invalid sandbox id ${JSON.stringify(req.sandboxId)}`));
    if (req.netnsPath === '') return Promise.reject(invalidArgument(`set up network of ${describePod(req)}: no network namespace path`));
    const bad = badCniArg(podCniArgs(req));
    if (bad) return Promise.reject(invalidArgument(`set up network of ${describePod(req)}: ${JSON.stringify(bad)} cannot be passed in CNI_ARGS`));
    return this.serialize(req.sandboxId, () => this.add(req));
  }

  /**
   * DELs the sandbox from every network its cache files name, with the cached config, args and
   * result; without a cache, from the current default network. Idempotent. `netnsPath` may be
   * missing or gone: plugins then get an empty CNI_NETNS and still release IPs and rules. Pass
   * it only while the pause process lives (a /proc/<pid> path of a reused pid is another netns).
   */
  tearDown(sandboxId: string, netnsPath?: string, fallback?: TearDownFallback): Promise<void> {
    if (!isValidCniName(sandboxId)) return Promise.reject(invalidArgument(`tear down pod network: invalid sandbox id ${JSON.stringify(sandboxId)}`));
    return this.serialize(sandboxId, () => this.del(sandboxId, netnsPath, fallback));
  }

  /**
   * The IPs of a set-up sandbox from the result cache, or undefined when it has none. Waits for
   * an ADD or DEL of the same sandbox in progress, so it never answers from a half-made state.
   */
  cachedResult(sandboxId: string): Promise<PodNetworkResult | undefined> {
    if (!isValidCniName(sandboxId)) return Promise.resolve(undefined);
    return this.serialize(sandboxId, async () => {
      const known = this.results.get(sandboxId);
      if (known) return known;
      const reads = await findCacheEntries(this.cacheDir, sandboxId, DEFAULT_IFNAME);
      for (const read of reads) {
        if ('entry' in read && read.entry.networkName !== LOOPBACK_NETWORK.name && read.entry.result) {
          const result = { ips: podIps(read.entry.result, DEFAULT_IFNAME), interfaceName: DEFAULT_IFNAME };
          this.results.set(sandboxId, result);
          return result;
        }
      }
      return undefined;
    });
  }

  private async add(req: PodNetworkRequest): Promise<PodNetworkResult> {
    const who = describePod(req);
    const load = await this.loadNetwork();
    if (!load.ok) throw new CriError(Code.UNAVAILABLE, `set up network of ${who}: network plugin is not ready: ${load.message}`);
    const network = load.network;
    if (!isValidCniName(network.name)) {
      throw new CriError(Code.FAILED_PRECONDITION, `set up network of ${who}: network name ${JSON.stringify(network.name)} in ${network.file} has characters CNI does not allow`);
    }
    const podCidr = this.podCidr();
    if (podCidr === '' && network.plugins.some((p) => declaredCapabilities(p).includes('ipRanges'))) {
      throw new CriError(Code.UNAVAILABLE, `set up network of ${who}: network "${network.name}" needs ipRanges but no pod CIDR is set`);
    }
    const attachment: CniAttachment = {
      containerId: req.sandboxId,
      netns: req.netnsPath,
      ifName: DEFAULT_IFNAME,
      cniArgs: podCniArgs(req),
      capabilityArgs: podCapabilityArgs(req.portMappings, req.dns, podCidr, req.bandwidth),
    };
    this.tornDown.delete(req.sandboxId);
    this.results.delete(req.sandboxId);
    const log = this.log.child({ sandboxId: req.sandboxId, pod: `${req.podNamespace}/${req.podName}` });
    const started = performance.now();
    await this.addList(LOOPBACK_SPEC, attachment, who, log);
    let result: CniResult;
    try {
      result = await this.addList({ list: network, bytes: Buffer.from(JSON.stringify(network.raw)) }, attachment, who, log);
    } catch (err) {
      await this.undo(LOOPBACK_SPEC, LOOPBACK_SPEC.list.plugins, attachment, undefined, who, log, true);
      throw err;
    }
    const ips = podIps(result, DEFAULT_IFNAME);
    if (ips.length === 0) log.warn({ network: network.name, result }, 'CNI result names no IP for the pod interface');
    log.info({ network: network.name, ips, ms: Math.round(performance.now() - started) }, 'pod network set up');
    const podResult = { ips, interfaceName: DEFAULT_IFNAME };
    this.results.set(req.sandboxId, podResult);
    return podResult;
  }

  /** ADD through a list, chaining prevResult; caches the final result. Undoes itself on failure. */
  private async addList(spec: ListSpec, attachment: CniAttachment, who: string, log: Logger): Promise<CniResult> {
    const { list } = spec;
    const ran: CniPluginConf[] = [];
    let prev: CniResult | undefined;
    for (const plugin of list.plugins) {
      try {
        const path = await this.pluginPath(plugin, list, 'ADD', who);
        ran.push(plugin);
        prev = await this.invoke('ADD', path, list, plugin, attachment, prev, who, log);
      } catch (err) {
        await this.undo(spec, ran, attachment, prev, who, log, false);
        throw err;
      }
    }
    const result = prev ?? { cniVersion: list.cniVersion };
    const entry: CniCacheEntry = {
      containerId: attachment.containerId,
      config: spec.bytes,
      ifName: attachment.ifName,
      networkName: list.name,
      netns: attachment.netns,
      cniArgs: attachment.cniArgs,
      capabilityArgs: attachment.capabilityArgs,
      result,
    };
    try {
      await writeCacheEntry(this.cacheDir, entry);
    } catch (err) {
      await this.undo(spec, ran, attachment, result, who, log, false);
      throw new CriError(Code.INTERNAL, `set up network of ${who}: network "${list.name}": cannot write the CNI result cache in ${this.cacheDir}: ${(err as Error).message}`, err);
    }
    return result;
  }

  /**
   * Best-effort DEL of `plugins` (in reverse) after a failed ADD, so no IP or rule is left behind;
   * failures are logged, the ADD's error is what the caller sees. `withCache` also drops the
   * list's cache file, for a list whose ADD had completed.
   */
  private async undo(spec: ListSpec, plugins: CniPluginConf[], attachment: CniAttachment, prevResult: CniResult | undefined, who: string, log: Logger, withCache: boolean): Promise<void> {
    const prev = delTakesPrevResult(spec.list.cniVersion) ? prevResult : undefined;
    for (const plugin of [...plugins].reverse()) {
      try {
        const path = await this.pluginPath(plugin, spec.list, 'DEL', who);
        await this.invoke('DEL', path, spec.list, plugin, attachment, prev, who, log);
      } catch (err) {
        log.warn({ network: spec.list.name, plugin: plugin.type, err: (err as Error).message }, 'cleanup after a failed CNI ADD failed');
      }
    }
    if (withCache) {
      await removeCacheFile(cacheFilePath(this.cacheDir, spec.list.name, attachment.containerId, attachment.ifName)).catch((err: Error) => {
        log.warn({ network: spec.list.name, err: err.message }, 'cannot remove CNI cache file');
      });
    }
  }

  private async del(sandboxId: string, netnsPath: string | undefined, fallback: TearDownFallback | undefined): Promise<void> {
    if (this.tornDown.has(sandboxId)) return;
    const netns = netnsPath && (await exists(netnsPath)) ? netnsPath : '';
    const fallbackArgs: [string, string][] = fallback
      ? podCniArgs({ sandboxId, ...fallback })
      : [
          ['IgnoreUnknown', '1'],
          ['K8S_POD_INFRA_CONTAINER_ID', sandboxId],
        ];
    const log = this.log.child({ sandboxId, ...(fallback ? { pod: `${fallback.podNamespace}/${fallback.podName}` } : {}) });
    const started = performance.now();

    const targets: DelTarget[] = [];
    const unusable: string[] = [];
    for (const read of await findCacheEntries(this.cacheDir, sandboxId, DEFAULT_IFNAME)) {
      if ('problem' in read) {
        log.warn({ file: read.file, problem: read.problem }, 'ignoring an unusable CNI cache file');
        unusable.push(read.file);
        continue;
      }
      const { entry } = read;
      const parsed = parseNetworkConfig('', entry.config.toString('utf8'));
      if (typeof parsed === 'string') {
        log.warn({ file: read.file, problem: `cached config: ${parsed}` }, 'ignoring an unusable CNI cache file');
        unusable.push(read.file);
        continue;
      }
      const list: CniNetworkList = { name: entry.networkName, cniVersion: parsed.cniVersion, plugins: parsed.plugins };
      targets.push({
        list,
        attachment: { containerId: sandboxId, netns, ifName: entry.ifName, cniArgs: entry.cniArgs ?? fallbackArgs, capabilityArgs: entry.capabilityArgs ?? {} },
        prevResult: delTakesPrevResult(list.cniVersion) ? entry.result : undefined,
        file: read.file,
      });
    }
    if (!targets.some((t) => t.list.name !== LOOPBACK_NETWORK.name)) {
      const load = await this.loadNetwork();
      if (load.ok) {
        const capabilityArgs = fallback ? podCapabilityArgs(fallback.portMappings, undefined, this.podCidr()) : {};
        targets.push({ list: load.network, attachment: { containerId: sandboxId, netns, ifName: DEFAULT_IFNAME, cniArgs: fallbackArgs, capabilityArgs } });
      } else {
        log.debug({ reason: load.message }, 'no CNI cache and no network config: nothing to tear down');
      }
    }
    // the default network first and its errors fatal; cni-loopback last and best effort, as in cri-dockerd
    targets.sort((a, b) => Number(a.list.name === LOOPBACK_NETWORK.name) - Number(b.list.name === LOOPBACK_NETWORK.name));
    for (const target of targets) {
      const who = describeFromArgs(sandboxId, target.attachment.cniArgs);
      const loopback = target.list.name === LOOPBACK_NETWORK.name;
      try {
        for (const plugin of [...target.list.plugins].reverse()) {
          const path = await this.pluginPath(plugin, target.list, 'DEL', who);
          await this.invoke('DEL', path, target.list, plugin, target.attachment, target.prevResult, who, log);
        }
      } catch (err) {
        if (!loopback) throw err;
        log.warn({ err: (err as Error).message }, 'CNI DEL of the loopback network failed');
      }
      if (target.file) await this.removeCache(target.file, who);
    }
    for (const file of unusable) await this.removeCache(file, `sandbox ${short(sandboxId)}`);
    this.results.delete(sandboxId);
    this.tornDown.add(sandboxId);
    if (this.tornDown.size > TORN_DOWN_MEMORY) this.tornDown.delete(this.tornDown.values().next().value as string);
    log.info({ networks: targets.map((t) => t.list.name), netns: netns || undefined, ms: Math.round(performance.now() - started) }, 'pod network torn down');
  }

  private async removeCache(file: string, who: string): Promise<void> {
    try {
      await removeCacheFile(file);
    } catch (err) {
      throw new CriError(Code.INTERNAL, `tear down network of ${who}: cannot remove CNI cache file ${file}: ${(err as Error).message}`, err);
    }
  }

  private async pluginPath(plugin: CniPluginConf, list: CniNetworkList, command: CniCommand, who: string): Promise<string> {
    const path = await findPlugin(plugin.type, this.binDirs);
    if (path) return path;
    const dirs = this.binDirs.length > 0 ? this.binDirs.join(', ') : '(no CNI bin dir configured)';
    throw new CriError(Code.UNAVAILABLE, `network "${list.name}": CNI plugin "${plugin.type}" needed for ${command} of ${who} is in none of ${dirs}`);
  }

  /** Runs one plugin; the parsed result for ADD, undefined for DEL. Every failure is a CriError naming plugin and pod. */
  private async invoke(
    command: CniCommand,
    path: string,
    list: CniNetworkList,
    plugin: CniPluginConf,
    attachment: CniAttachment,
    prevResult: CniResult | undefined,
    who: string,
    log: Logger,
  ): Promise<CniResult | undefined> {
    const conf = buildPluginConfig({ list, plugin, prevResult, capabilityArgs: attachment.capabilityArgs, mtu: this.mtu });
    const started = performance.now();
    const run = await runPlugin(path, pluginEnv(command, attachment, this.binDirs), JSON.stringify(conf), this.timeoutMs);
    const ms = Math.round(performance.now() - started);
    log.debug({ network: list.name, plugin: plugin.type, command, ms, exitCode: run.exitCode, ...(run.stderr ? { stderr: run.stderr.slice(0, 4096) } : {}) }, 'CNI plugin ran');
    const what = `network "${list.name}": CNI plugin "${plugin.type}" failed on ${command} of ${who}`;
    if (run.spawnError) throw new CriError(Code.INTERNAL, `${what}: cannot run ${path}: ${run.spawnError.code ?? run.spawnError.message}`, run.spawnError);
    if (run.timedOut) throw new CriError(Code.DEADLINE_EXCEEDED, `${what}: no answer within ${this.timeoutMs / 1000} s, killed`);
    if (run.exitCode !== 0) {
      const status = run.signal ? `killed by ${run.signal}` : `exit status ${run.exitCode}`;
      const failure = parsePluginFailure(run.stdout, run.stderr, status);
      const code = failure.code !== undefined ? ` (CNI error code ${failure.code})` : '';
      throw new CriError(isTransientCniCode(failure.code) ? Code.UNAVAILABLE : Code.INTERNAL, `${what}: ${failure.message}${code}`);
    }
    if (command === 'DEL') return undefined;
    const result = parseResult(run.stdout, list.cniVersion);
    if (typeof result === 'string') throw new CriError(Code.INTERNAL, `${what}: ${result}`);
    return result;
  }

  /** Runs `fn` after every earlier call for the same sandbox has settled. */
  private serialize<T>(sandboxId: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(sandboxId) ?? Promise.resolve()).then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(sandboxId, tail);
    void tail.then(() => {
      if (this.queues.get(sandboxId) === tail) this.queues.delete(sandboxId);
    });
    return run;
  }
}

const short = (sandboxId: string): string => sandboxId.slice(0, 12);

function describePod(pod: PodIdentity): string {
  return `pod ${pod.podNamespace}/${pod.podName} (sandbox ${short(pod.sandboxId)})`;
}

function describeFromArgs(sandboxId: string, args: [string, string][]): string {
  const get = (key: string): string | undefined => args.find(([k]) => k === key)?.[1];
  const ns = get('K8S_POD_NAMESPACE');
  const name = get('K8S_POD_NAME');
  return ns && name ? `pod ${ns}/${name} (sandbox ${short(sandboxId)})` : `sandbox ${short(sandboxId)}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
