// Cgroup paths and file contents → one resource sample. Pure: the service reads the files.
import { posix } from 'node:path';

export type CgroupVersion = 1 | 2;
export type CgroupDriver = 'cgroupfs' | 'systemd';

/** One reading of a cgroup; bigints because cumulative counters outgrow 2^53. */
export interface CgroupSample {
  cpuUsageNs: bigint;
  memory: {
    usage: bigint;
    workingSet: bigint;
    rss: bigint;
    pageFaults: bigint;
    majorPageFaults: bigint;
    /** undefined when the cgroup has no memory limit */
    limit?: bigint;
  };
  swap: { usage: bigint; limit?: bigint };
  pids: bigint;
}

/** Files of each version that sampleV1/sampleV2 need, relative to the cgroup directory of their controller. */
export const V1_FILES = {
  cpuacct: ['cpuacct.usage'],
  memory: ['memory.usage_in_bytes', 'memory.limit_in_bytes', 'memory.stat', 'memory.memsw.usage_in_bytes', 'memory.memsw.limit_in_bytes'],
  pids: ['pids.current'],
} as const;
export const V2_FILES = ['cpu.stat', 'memory.current', 'memory.max', 'memory.stat', 'memory.swap.current', 'memory.swap.max', 'pids.current'] as const;

/**
 * The finer figures only the metrics rpcs report (cAdvisor's names), read from extra files so the
 * stats rpcs that kubelet polls every second read no more than they need.
 */
export interface CgroupDetail {
  cpuUserNs: bigint;
  cpuSystemNs: bigint;
  cfsPeriods: bigint;
  cfsThrottledPeriods: bigint;
  cfsThrottledNs: bigint;
  /** page cache */
  cache: bigint;
  mappedFile: bigint;
  /** times usage hit the limit (v1 only) */
  failcnt?: bigint;
  /** the highest usage recorded (v1 max_usage_in_bytes, v2 memory.peak where the kernel has it) */
  maxUsage?: bigint;
  oomKills?: bigint;
}

/** Files read for a CgroupDetail on top of V1_FILES / V2_FILES. */
export const V1_DETAIL_FILES = {
  cpuacct: ['cpuacct.stat'],
  cpu: ['cpu.stat'],
  memory: ['memory.failcnt', 'memory.max_usage_in_bytes', 'memory.oom_control'],
} as const;
export const V2_DETAIL_FILES = ['memory.peak', 'memory.events'] as const;

/** cpuacct.stat counts in USER_HZ ticks, 100 a second on every Linux architecture Docker runs on. */
const NS_PER_TICK = 10_000_000n;

/** Limits at or above this are the kernel's "no limit" (v1 writes PAGE_COUNTER_MAX in bytes, 2^63 rounded to a page). */
const UNLIMITED = 1n << 60n;

/**
 * The cgroup of a Docker container, relative to a hierarchy's root. With cgroupfs Docker puts it at
 * <CgroupParent or /docker>/<id>; with systemd at the expanded slice path of CgroupParent (default
 * system.slice) plus docker-<id>.scope.
 */
export function containerCgroupPath(dockerId: string, cgroupParent: string | undefined, driver: CgroupDriver): string {
  if (driver === 'systemd') return posix.join(expandSlice(cgroupParent || 'system.slice'), `docker-${dockerId}.scope`);
  return posix.join('/', cgroupParent || '/docker', dockerId);
}

/** The pod-level cgroup kubelet made (the sandbox's CgroupParent), relative to a hierarchy's root; undefined when none was given. */
export function podCgroupPath(cgroupParent: string | undefined, driver: CgroupDriver): string | undefined {
  if (!cgroupParent) return undefined;
  return driver === 'systemd' ? expandSlice(cgroupParent) : posix.join('/', cgroupParent);
}

/** systemd's slice naming: "a-b-c.slice" lives at /a.slice/a-b.slice/a-b-c.slice. */
export function expandSlice(slice: string): string {
  const name = posix.basename(slice);
  if (!name.endsWith('.slice')) return posix.join('/', slice);
  if (name === '-.slice') return '/';
  const parts = name.slice(0, -'.slice'.length).split('-');
  let path = '';
  let prefix = '';
  for (const part of parts) {
    prefix = prefix === '' ? part : `${prefix}-${part}`;
    path += `/${prefix}.slice`;
  }
  return path;
}

/** A file of one number ("max" as undefined). */
export function parseSingle(text: string | undefined): bigint | undefined {
  const t = (text ?? '').trim();
  if (!/^\d+$/.test(t)) return undefined;
  return BigInt(t);
}

/** A flat-keyed file ("key value" per line: memory.stat, cpu.stat). */
export function parseFlatKeyed(text: string | undefined): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) out.set(m[1] as string, BigInt(m[2] as string));
  }
  return out;
}

const limitOf = (v: bigint | undefined): bigint | undefined => (v === undefined || v >= UNLIMITED ? undefined : v);
const sub = (a: bigint, b: bigint): bigint => (a > b ? a - b : 0n);

/** A v1 sample from the contents of V1_FILES (missing files read as empty). */
export function sampleV1(files: Readonly<Record<string, string | undefined>>): CgroupSample {
  const stat = parseFlatKeyed(files['memory.stat']);
  const usage = parseSingle(files['memory.usage_in_bytes']) ?? 0n;
  const memLimit = limitOf(parseSingle(files['memory.limit_in_bytes']));
  // memsw counts memory plus swap: swap is the difference
  const memsw = parseSingle(files['memory.memsw.usage_in_bytes']);
  const memswLimit = limitOf(parseSingle(files['memory.memsw.limit_in_bytes']));
  return {
    cpuUsageNs: parseSingle(files['cpuacct.usage']) ?? 0n,
    memory: {
      usage,
      workingSet: sub(usage, stat.get('total_inactive_file') ?? 0n),
      rss: stat.get('total_rss') ?? 0n,
      pageFaults: stat.get('total_pgfault') ?? 0n,
      majorPageFaults: stat.get('total_pgmajfault') ?? 0n,
      limit: memLimit,
    },
    swap: { usage: memsw === undefined ? 0n : sub(memsw, usage), limit: memswLimit === undefined || memLimit === undefined ? undefined : sub(memswLimit, memLimit) },
    pids: parseSingle(files['pids.current']) ?? 0n,
  };
}

/** A v2 sample from the contents of V2_FILES. */
export function sampleV2(files: Readonly<Record<string, string | undefined>>): CgroupSample {
  const stat = parseFlatKeyed(files['memory.stat']);
  const cpu = parseFlatKeyed(files['cpu.stat']);
  const usage = parseSingle(files['memory.current']) ?? 0n;
  return {
    cpuUsageNs: (cpu.get('usage_usec') ?? 0n) * 1000n,
    memory: {
      usage,
      workingSet: sub(usage, stat.get('inactive_file') ?? 0n),
      rss: stat.get('anon') ?? 0n,
      pageFaults: stat.get('pgfault') ?? 0n,
      majorPageFaults: stat.get('pgmajfault') ?? 0n,
      limit: limitOf(parseSingle(files['memory.max'])),
    },
    swap: { usage: parseSingle(files['memory.swap.current']) ?? 0n, limit: limitOf(parseSingle(files['memory.swap.max'])) },
    pids: parseSingle(files['pids.current']) ?? 0n,
  };
}

/** The v1 detail from the contents of V1_FILES and V1_DETAIL_FILES. */
export function detailV1(files: Readonly<Record<string, string | undefined>>): CgroupDetail {
  const acct = parseFlatKeyed(files['cpuacct.stat']);
  const cpu = parseFlatKeyed(files['cpu.stat']);
  const stat = parseFlatKeyed(files['memory.stat']);
  return {
    cpuUserNs: (acct.get('user') ?? 0n) * NS_PER_TICK,
    cpuSystemNs: (acct.get('system') ?? 0n) * NS_PER_TICK,
    cfsPeriods: cpu.get('nr_periods') ?? 0n,
    cfsThrottledPeriods: cpu.get('nr_throttled') ?? 0n,
    cfsThrottledNs: cpu.get('throttled_time') ?? 0n,
    cache: stat.get('total_cache') ?? 0n,
    mappedFile: stat.get('total_mapped_file') ?? 0n,
    failcnt: parseSingle(files['memory.failcnt']),
    maxUsage: parseSingle(files['memory.max_usage_in_bytes']),
    oomKills: parseFlatKeyed(files['memory.oom_control']).get('oom_kill'),
  };
}

/** The v2 detail from the contents of V2_FILES and V2_DETAIL_FILES. */
export function detailV2(files: Readonly<Record<string, string | undefined>>): CgroupDetail {
  const cpu = parseFlatKeyed(files['cpu.stat']);
  const stat = parseFlatKeyed(files['memory.stat']);
  return {
    cpuUserNs: (cpu.get('user_usec') ?? 0n) * 1000n,
    cpuSystemNs: (cpu.get('system_usec') ?? 0n) * 1000n,
    cfsPeriods: cpu.get('nr_periods') ?? 0n,
    cfsThrottledPeriods: cpu.get('nr_throttled') ?? 0n,
    cfsThrottledNs: (cpu.get('throttled_usec') ?? 0n) * 1000n,
    cache: stat.get('file') ?? 0n,
    mappedFile: stat.get('file_mapped') ?? 0n,
    maxUsage: parseSingle(files['memory.peak']),
    oomKills: parseFlatKeyed(files['memory.events']).get('oom_kill'),
  };
}

/** The sum of several cgroups' details; figures some of them lack are left out. */
export function sumDetails(details: readonly CgroupDetail[]): CgroupDetail {
  const total = (pick: (d: CgroupDetail) => bigint): bigint => details.reduce((acc, d) => acc + pick(d), 0n);
  const totalIfAll = (pick: (d: CgroupDetail) => bigint | undefined): bigint | undefined =>
    details.length > 0 && details.every((d) => pick(d) !== undefined) ? details.reduce((acc, d) => acc + (pick(d) as bigint), 0n) : undefined;
  return {
    cpuUserNs: total((d) => d.cpuUserNs),
    cpuSystemNs: total((d) => d.cpuSystemNs),
    cfsPeriods: total((d) => d.cfsPeriods),
    cfsThrottledPeriods: total((d) => d.cfsThrottledPeriods),
    cfsThrottledNs: total((d) => d.cfsThrottledNs),
    cache: total((d) => d.cache),
    mappedFile: total((d) => d.mappedFile),
    failcnt: totalIfAll((d) => d.failcnt),
    oomKills: totalIfAll((d) => d.oomKills),
  };
}

/** The sum of several cgroups' samples (a pod without a pod-level cgroup); limits are not summed. */
export function sumSamples(samples: readonly CgroupSample[]): CgroupSample {
  const out: CgroupSample = { cpuUsageNs: 0n, memory: { usage: 0n, workingSet: 0n, rss: 0n, pageFaults: 0n, majorPageFaults: 0n }, swap: { usage: 0n }, pids: 0n };
  for (const s of samples) {
    out.cpuUsageNs += s.cpuUsageNs;
    out.memory.usage += s.memory.usage;
    out.memory.workingSet += s.memory.workingSet;
    out.memory.rss += s.memory.rss;
    out.memory.pageFaults += s.memory.pageFaults;
    out.memory.majorPageFaults += s.memory.majorPageFaults;
    out.swap.usage += s.swap.usage;
    out.pids += s.pids;
  }
  return out;
}

/** One interface's counters from /proc/<pid>/net/dev. */
export interface InterfaceCounters {
  name: string;
  rxBytes: bigint;
  rxPackets: bigint;
  rxErrors: bigint;
  rxDropped: bigint;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  txDropped: bigint;
}

/** /proc/<pid>/net/dev: two header lines, then "name: rx(8 fields) tx(8 fields)". */
export function parseNetDev(text: string): InterfaceCounters[] {
  const out: InterfaceCounters[] = [];
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = (m[2] as string).trim().split(/\s+/);
    if (f.length < 16 || f.some((x) => !/^\d+$/.test(x))) continue;
    const n = f.map(BigInt);
    out.push({ name: m[1] as string, rxBytes: n[0]!, rxPackets: n[1]!, rxErrors: n[2]!, rxDropped: n[3]!, txBytes: n[8]!, txPackets: n[9]!, txErrors: n[10]!, txDropped: n[11]! });
  }
  return out;
}

/**
 * CPU rate in nanocores between two cumulative readings (containerd's way: the last sample is
 * kept per container); undefined without an earlier sample or when the counter went back.
 */
export function nanoCores(prev: { cpuUsageNs: bigint; atNs: bigint } | undefined, cur: { cpuUsageNs: bigint; atNs: bigint }): bigint | undefined {
  if (!prev || cur.atNs <= prev.atNs || cur.cpuUsageNs < prev.cpuUsageNs) return undefined;
  return ((cur.cpuUsageNs - prev.cpuUsageNs) * 1_000_000_000n) / (cur.atNs - prev.atNs);
}
