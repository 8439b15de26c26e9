// Cgroup samples and inspect data → CRI stats messages. Pure: no I/O.
import Long from 'long';
import type { runtime } from '../gen/api.js';
import type { ContainerInspect } from '../docker/client.js';
import { LABEL_SANDBOX_ID, extractLabels, withoutInherited } from '../docker/naming.js';
import { containerMetadata } from '../container/status.js';
import { sandboxMetadata } from '../sandbox/translate.js';
import type { CgroupSample, InterfaceCounters } from './cgroup.js';

/** The interface kubelet reports as the pod's own (dockershim's and cri-dockerd's choice). */
export const DEFAULT_INTERFACE = 'eth0';

export const u64 = (v: bigint): runtime.v1.IUInt64Value => ({ value: Long.fromString(v.toString(), true) });
const i64 = (v: bigint): Long => Long.fromString(v.toString());

/** The size of a container's writable layer as the background walk last measured it. */
export interface LayerUsage {
  atNs: bigint;
  bytes: bigint;
  inodes: bigint;
  mountpoint: string;
}

export function cpuUsage(sample: CgroupSample, atNs: bigint, nanoCores: bigint | undefined): runtime.v1.ICpuUsage {
  const cpu: runtime.v1.ICpuUsage = { timestamp: i64(atNs), usageCoreNanoSeconds: u64(sample.cpuUsageNs) };
  if (nanoCores !== undefined) cpu.usageNanoCores = u64(nanoCores);
  return cpu;
}

export function memoryUsage(sample: CgroupSample, atNs: bigint): runtime.v1.IMemoryUsage {
  const m = sample.memory;
  const memory: runtime.v1.IMemoryUsage = {
    timestamp: i64(atNs),
    workingSetBytes: u64(m.workingSet),
    usageBytes: u64(m.usage),
    rssBytes: u64(m.rss),
    pageFaults: u64(m.pageFaults),
    majorPageFaults: u64(m.majorPageFaults),
  };
  if (m.limit !== undefined) memory.availableBytes = u64(m.limit > m.workingSet ? m.limit - m.workingSet : 0n);
  return memory;
}

export function swapUsage(sample: CgroupSample, atNs: bigint): runtime.v1.ISwapUsage {
  const swap: runtime.v1.ISwapUsage = { timestamp: i64(atNs), swapUsageBytes: u64(sample.swap.usage) };
  if (sample.swap.limit !== undefined) swap.swapAvailableBytes = u64(sample.swap.limit > sample.swap.usage ? sample.swap.limit - sample.swap.usage : 0n);
  return swap;
}

export function writableLayer(layer: LayerUsage): runtime.v1.IFilesystemUsage {
  return { timestamp: i64(layer.atNs), fsId: { mountpoint: layer.mountpoint }, usedBytes: u64(layer.bytes), inodesUsed: u64(layer.inodes) };
}

export function containerAttributes(inspect: ContainerInspect, imageLabels: Record<string, string>): runtime.v1.IContainerAttributes {
  const { labels, annotations } = extractLabels(withoutInherited(inspect.Config?.Labels, imageLabels));
  return { id: inspect.Id, metadata: containerMetadata(inspect), labels, annotations };
}

export function sandboxAttributes(inspect: ContainerInspect, imageLabels: Record<string, string>): runtime.v1.IPodSandboxAttributes {
  const { labels, annotations } = extractLabels(withoutInherited(inspect.Config?.Labels, imageLabels));
  return { id: inspect.Id, metadata: sandboxMetadata(inspect), labels, annotations };
}

/**
 * One container's stats: CPU, memory and swap only while it has a cgroup (it runs), the writable
 * layer once the background walk has measured it.
 */
export function containerStats(
  attributes: runtime.v1.IContainerAttributes,
  sample: { sample: CgroupSample; atNs: bigint; nanoCores: bigint | undefined } | undefined,
  layer: LayerUsage | undefined,
): runtime.v1.IContainerStats {
  const stats: runtime.v1.IContainerStats = { attributes };
  if (sample) {
    stats.cpu = cpuUsage(sample.sample, sample.atNs, sample.nanoCores);
    stats.memory = memoryUsage(sample.sample, sample.atNs);
    stats.swap = swapUsage(sample.sample, sample.atNs);
  }
  if (layer) stats.writableLayer = writableLayer(layer);
  return stats;
}

export function networkUsage(interfaces: readonly InterfaceCounters[], atNs: bigint): runtime.v1.INetworkUsage {
  const toCri = (i: InterfaceCounters): runtime.v1.INetworkInterfaceUsage => ({ name: i.name, rxBytes: u64(i.rxBytes), rxErrors: u64(i.rxErrors), txBytes: u64(i.txBytes), txErrors: u64(i.txErrors) });
  const own = interfaces.filter((i) => i.name !== 'lo');
  const net: runtime.v1.INetworkUsage = { timestamp: i64(atNs), interfaces: own.map(toCri) };
  const def = own.find((i) => i.name === DEFAULT_INTERFACE) ?? own[0];
  if (def) net.defaultInterface = toCri(def);
  return net;
}

/** Whether a container matches a ContainerStatsFilter (IDs by prefix, as ListContainers does). */
export function matchesStatsFilter(inspect: ContainerInspect, attributes: runtime.v1.IContainerAttributes, f: runtime.v1.IContainerStatsFilter | null | undefined): boolean {
  if (!f) return true;
  if (f.id && !inspect.Id.startsWith(f.id)) return false;
  if (f.podSandboxId && !(inspect.Config?.Labels?.[LABEL_SANDBOX_ID] ?? '').startsWith(f.podSandboxId)) return false;
  for (const [k, v] of Object.entries(f.labelSelector ?? {})) if (attributes.labels?.[k] !== v) return false;
  return true;
}

/** Whether a sandbox matches a PodSandboxStatsFilter. */
export function matchesSandboxStatsFilter(inspect: ContainerInspect, attributes: runtime.v1.IPodSandboxAttributes, f: runtime.v1.IPodSandboxStatsFilter | null | undefined): boolean {
  if (!f) return true;
  if (f.id && !inspect.Id.startsWith(f.id)) return false;
  for (const [k, v] of Object.entries(f.labelSelector ?? {})) if (attributes.labels?.[k] !== v) return false;
  return true;
}
