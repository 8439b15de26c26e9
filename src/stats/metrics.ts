// Cgroup readings and inspect data → CRI Metric samples under cAdvisor's names and labels, the
// series kubelet serves on /metrics/cadvisor when PodAndContainerStatsFromCRI is on. Pure: no I/O.
import Long from 'long';
import { runtime } from '../gen/api.js';
import type { ContainerInspect } from '../docker/client.js';
import { containerMetadata } from '../container/status.js';
import { sandboxMetadata } from '../sandbox/translate.js';
import type { CgroupDetail, CgroupSample, InterfaceCounters } from './cgroup.js';
import type { LayerUsage } from './translate.js';

const { COUNTER, GAUGE } = runtime.v1.MetricType;

/**
 * Every series carries these labels, filled by the runtime: kubelet's CRI collector adds none of
 * its own, it pairs Metric.label_values with the descriptor's label_keys as they are. Pod-level
 * series leave container, image and name empty, as cAdvisor does for a pod's cgroup.
 */
export const BASE_LABEL_KEYS = ['container', 'id', 'image', 'name', 'namespace', 'pod'] as const;

/** The values of BASE_LABEL_KEYS for one container or pod. */
export interface MetricSubject {
  /** the CRI container name; empty for the pod */
  container: string;
  /** the CRI container or sandbox ID */
  id: string;
  /** the image as the container was created with it; empty for the pod */
  image: string;
  /** the Docker container name; empty for the pod */
  name: string;
  namespace: string;
  pod: string;
}

type Extra = 'interface' | 'device' | 'failure_type' | 'scope';
interface Def {
  name: string;
  help: string;
  extra?: readonly Extra[];
}

const defs = {
  cpuUsage: { name: 'container_cpu_usage_seconds_total', help: 'Cumulative cpu time consumed in seconds.' },
  cpuUser: { name: 'container_cpu_user_seconds_total', help: 'Cumulative user cpu time consumed in seconds.' },
  cpuSystem: { name: 'container_cpu_system_seconds_total', help: 'Cumulative system cpu time consumed in seconds.' },
  cfsPeriods: { name: 'container_cpu_cfs_periods_total', help: 'Number of elapsed enforcement period intervals.' },
  cfsThrottledPeriods: { name: 'container_cpu_cfs_throttled_periods_total', help: 'Number of throttled period intervals.' },
  cfsThrottledSeconds: { name: 'container_cpu_cfs_throttled_seconds_total', help: 'Total time duration the container has been throttled.' },
  memUsage: { name: 'container_memory_usage_bytes', help: 'Current memory usage in bytes, including all memory regardless of when it was accessed.' },
  memMaxUsage: { name: 'container_memory_max_usage_bytes', help: 'Maximum memory usage recorded in bytes.' },
  memWorkingSet: { name: 'container_memory_working_set_bytes', help: 'Current working set in bytes.' },
  memRss: { name: 'container_memory_rss', help: 'Size of RSS in bytes.' },
  memCache: { name: 'container_memory_cache', help: 'Number of bytes of page cache memory.' },
  memMappedFile: { name: 'container_memory_mapped_file', help: 'Size of memory mapped files in bytes.' },
  memSwap: { name: 'container_memory_swap', help: 'Container swap usage in bytes.' },
  memFailcnt: { name: 'container_memory_failcnt', help: 'Number of memory usage hits limits.' },
  memFailures: { name: 'container_memory_failures_total', help: 'Cumulative count of memory allocation failures.', extra: ['failure_type', 'scope'] },
  oomEvents: { name: 'container_oom_events_total', help: 'Count of out of memory events observed for the container.' },
  specMemoryLimit: { name: 'container_spec_memory_limit_bytes', help: 'Memory limit for the container.' },
  processes: { name: 'container_processes', help: 'Number of processes running inside the container.' },
  fsUsage: { name: 'container_fs_usage_bytes', help: 'Number of bytes that are consumed by the container on this filesystem.', extra: ['device'] },
  lastSeen: { name: 'container_last_seen', help: 'Last time a container was seen by the exporter.' },
  startTime: { name: 'container_start_time_seconds', help: 'Start time of the container since unix epoch in seconds.' },
  netRxBytes: { name: 'container_network_receive_bytes_total', help: 'Cumulative count of bytes received.', extra: ['interface'] },
  netRxPackets: { name: 'container_network_receive_packets_total', help: 'Cumulative count of packets received.', extra: ['interface'] },
  netRxErrors: { name: 'container_network_receive_errors_total', help: 'Cumulative count of errors encountered while receiving.', extra: ['interface'] },
  netRxDropped: { name: 'container_network_receive_packets_dropped_total', help: 'Cumulative count of packets dropped while receiving.', extra: ['interface'] },
  netTxBytes: { name: 'container_network_transmit_bytes_total', help: 'Cumulative count of bytes transmitted.', extra: ['interface'] },
  netTxPackets: { name: 'container_network_transmit_packets_total', help: 'Cumulative count of packets transmitted.', extra: ['interface'] },
  netTxErrors: { name: 'container_network_transmit_errors_total', help: 'Cumulative count of errors encountered while transmitting.', extra: ['interface'] },
  netTxDropped: { name: 'container_network_transmit_packets_dropped_total', help: 'Cumulative count of packets dropped while transmitting.', extra: ['interface'] },
} as const satisfies Record<string, Def>;

/** What ListMetricDescriptors answers: fixed for the life of the process, as kubelet reads it once. */
export const METRIC_DESCRIPTORS: readonly runtime.v1.IMetricDescriptor[] = Object.values(defs).map((d: Def) => ({
  name: d.name,
  help: d.help,
  labelKeys: [...BASE_LABEL_KEYS, ...(d.extra ?? [])],
}));

/** One cgroup read for the metrics rpcs, at one instant. */
export interface CgroupReading {
  sample: CgroupSample;
  detail: CgroupDetail;
  atNs: bigint;
}

export interface ContainerMetricsInput {
  subject: MetricSubject;
  /** undefined when the container has no cgroup (it stopped between listing and reading) */
  reading?: CgroupReading;
  /** the writable layer as the background walk last measured it */
  layer?: LayerUsage;
  /** State.StartedAt in Unix nanoseconds; 0 when unknown */
  startedAtNs: bigint;
  nowNs: bigint;
}

export interface PodMetricsInput {
  subject: MetricSubject;
  /** the pod-level cgroup, or the pod's containers added up */
  reading?: CgroupReading;
  /** the pod's network namespace counters; undefined for host-network pods */
  network?: { interfaces: readonly InterfaceCounters[]; atNs: bigint };
  startedAtNs: bigint;
  nowNs: bigint;
}

const NS_PER_S = 1_000_000_000n;
const long = (v: bigint): Long => Long.fromString(v.toString());
const u64 = (v: bigint): runtime.v1.IUInt64Value => ({ value: Long.fromString((v < 0n ? 0n : v).toString(), true) });

/** Label values in BASE_LABEL_KEYS order, then the descriptor's extra keys' values. */
export function labelValues(s: MetricSubject, ...extra: string[]): string[] {
  return [s.container, s.id, s.image, s.name, s.namespace, s.pod, ...extra];
}

function metric(def: Def, type: runtime.v1.MetricType, atNs: bigint, labels: string[], value: bigint): runtime.v1.IMetric {
  return { name: def.name, timestamp: long(atNs), metricType: type, labelValues: labels, value: u64(value) };
}

/**
 * CPU, memory and process series of one cgroup. The CRI carries integer values, so seconds are
 * whole seconds (containerd and CRI-O truncate the same way).
 */
export function cgroupMetrics(subject: MetricSubject, r: CgroupReading): runtime.v1.IMetric[] {
  const base = labelValues(subject);
  const { sample: s, detail: d, atNs } = r;
  const m = (def: Def, type: runtime.v1.MetricType, value: bigint): runtime.v1.IMetric => metric(def, type, atNs, base, value);
  const out = [
    m(defs.cpuUsage, COUNTER, s.cpuUsageNs / NS_PER_S),
    m(defs.cpuUser, COUNTER, d.cpuUserNs / NS_PER_S),
    m(defs.cpuSystem, COUNTER, d.cpuSystemNs / NS_PER_S),
    m(defs.cfsPeriods, COUNTER, d.cfsPeriods),
    m(defs.cfsThrottledPeriods, COUNTER, d.cfsThrottledPeriods),
    m(defs.cfsThrottledSeconds, COUNTER, d.cfsThrottledNs / NS_PER_S),
    m(defs.memUsage, GAUGE, s.memory.usage),
    m(defs.memWorkingSet, GAUGE, s.memory.workingSet),
    m(defs.memRss, GAUGE, s.memory.rss),
    m(defs.memCache, GAUGE, d.cache),
    m(defs.memMappedFile, GAUGE, d.mappedFile),
    m(defs.memSwap, GAUGE, s.swap.usage),
    // the counts are of the whole subtree (total_pgfault), hence the scope
    metric(defs.memFailures, COUNTER, atNs, labelValues(subject, 'pgfault', 'hierarchy'), s.memory.pageFaults),
    metric(defs.memFailures, COUNTER, atNs, labelValues(subject, 'pgmajfault', 'hierarchy'), s.memory.majorPageFaults),
    // cAdvisor reports no limit as 0
    m(defs.specMemoryLimit, GAUGE, s.memory.limit ?? 0n),
    m(defs.processes, GAUGE, s.pids),
  ];
  if (d.maxUsage !== undefined) out.push(m(defs.memMaxUsage, GAUGE, d.maxUsage));
  if (d.failcnt !== undefined) out.push(m(defs.memFailcnt, COUNTER, d.failcnt));
  if (d.oomKills !== undefined) out.push(m(defs.oomEvents, COUNTER, d.oomKills));
  return out;
}

function presence(subject: MetricSubject, startedAtNs: bigint, nowNs: bigint): runtime.v1.IMetric[] {
  const base = labelValues(subject);
  const out = [metric(defs.lastSeen, GAUGE, nowNs, base, nowNs / NS_PER_S)];
  if (startedAtNs > 0n) out.push(metric(defs.startTime, GAUGE, nowNs, base, startedAtNs / NS_PER_S));
  return out;
}

/**
 * The series of one running container. The writable layer is its filesystem usage, with the
 * layer's directory as the device (Docker gives no block device per container).
 */
export function containerMetrics(input: ContainerMetricsInput): runtime.v1.IMetric[] {
  const out = presence(input.subject, input.startedAtNs, input.nowNs);
  if (input.reading) out.push(...cgroupMetrics(input.subject, input.reading));
  const layer = input.layer;
  if (layer) {
    out.push(metric(defs.fsUsage, GAUGE, layer.atNs, labelValues(input.subject, layer.mountpoint), layer.bytes));
  }
  return out;
}

/** The series of one interface of the pod's network namespace. */
export function interfaceMetrics(subject: MetricSubject, i: InterfaceCounters, atNs: bigint): runtime.v1.IMetric[] {
  const labels = labelValues(subject, i.name);
  return [
    metric(defs.netRxBytes, COUNTER, atNs, labels, i.rxBytes),
    metric(defs.netRxPackets, COUNTER, atNs, labels, i.rxPackets),
    metric(defs.netRxErrors, COUNTER, atNs, labels, i.rxErrors),
    metric(defs.netRxDropped, COUNTER, atNs, labels, i.rxDropped),
    metric(defs.netTxBytes, COUNTER, atNs, labels, i.txBytes),
    metric(defs.netTxPackets, COUNTER, atNs, labels, i.txPackets),
    metric(defs.netTxErrors, COUNTER, atNs, labels, i.txErrors),
    metric(defs.netTxDropped, COUNTER, atNs, labels, i.txDropped),
  ];
}

/** The pod-level series: its cgroup, and its network per interface (loopback left out, as cAdvisor does). */
export function podMetrics(input: PodMetricsInput): runtime.v1.IMetric[] {
  const out = presence(input.subject, input.startedAtNs, input.nowNs);
  if (input.reading) out.push(...cgroupMetrics(input.subject, input.reading));
  const net = input.network;
  if (net) for (const i of net.interfaces) if (i.name !== 'lo') out.push(...interfaceMetrics(input.subject, i, net.atNs));
  return out;
}

/** The labels of a sandbox's pod-level series. */
export function podSubject(sandbox: ContainerInspect): MetricSubject {
  const meta = sandboxMetadata(sandbox);
  return { container: '', id: sandbox.Id, image: '', name: '', namespace: meta.namespace ?? '', pod: meta.name ?? '' };
}

/** The labels of a container's series; pod and namespace are its sandbox's. */
export function containerSubject(container: ContainerInspect, pod: MetricSubject): MetricSubject {
  return {
    container: containerMetadata(container).name ?? '',
    id: container.Id,
    image: container.Config?.Image ?? '',
    name: container.Name.replace(/^\//, ''),
    namespace: pod.namespace,
    pod: pod.pod,
  };
}
