import { describe, expect, it } from 'vitest';
import { runtime } from '../gen/api.js';
import type { ContainerInspect } from '../docker/client.js';
import type { CgroupDetail, CgroupSample, InterfaceCounters } from './cgroup.js';
import {
  BASE_LABEL_KEYS,
  METRIC_DESCRIPTORS,
  cgroupMetrics,
  containerMetrics,
  containerSubject,
  labelValues,
  podMetrics,
  podSubject,
  type CgroupReading,
  type MetricSubject,
} from './metrics.js';

const { COUNTER, GAUGE } = runtime.v1.MetricType;
const S = 1_000_000_000n;

const sample = (over: Partial<CgroupSample['memory']> = {}): CgroupSample => ({
  cpuUsageNs: 2n * S + 999_999_999n,
  memory: { usage: 5000n, workingSet: 4000n, rss: 3000n, pageFaults: 70n, majorPageFaults: 2n, limit: 1n << 30n, ...over },
  swap: { usage: 100n },
  pids: 3n,
});
const detail = (over: Partial<CgroupDetail> = {}): CgroupDetail => ({
  cpuUserNs: 1n * S + 5n,
  cpuSystemNs: S - 1n,
  cfsPeriods: 40n,
  cfsThrottledPeriods: 4n,
  cfsThrottledNs: 3n * S,
  cache: 1000n,
  mappedFile: 200n,
  ...over,
});
const AT = 1_700_000_000n * S + 123n;
const NOW = AT + 5n * S;
const reading = (s = sample(), d = detail()): CgroupReading => ({ sample: s, detail: d, atNs: AT });
const iface = (name: string, n: bigint): InterfaceCounters => ({ name, rxBytes: n, rxPackets: n + 1n, rxErrors: n + 2n, rxDropped: n + 3n, txBytes: n + 4n, txPackets: n + 5n, txErrors: n + 6n, txDropped: n + 7n });

const pod: MetricSubject = { container: '', id: 'sandbox1', image: '', name: '', namespace: 'ns', pod: 'web' };
const ctr: MetricSubject = { container: 'app', id: 'ctr1', image: 'busybox:1.36', name: 'k8s_app_web_ns_uid_0', namespace: 'ns', pod: 'web' };

const byName = new Map(METRIC_DESCRIPTORS.map((d) => [d.name, d]));
const num = (m: runtime.v1.IMetric | undefined): bigint => BigInt(String(m?.value?.value ?? -1));
const find = (ms: runtime.v1.IMetric[], name: string, ...extra: string[]): runtime.v1.IMetric | undefined =>
  ms.find((m) => m.name === name && (extra.length === 0 || JSON.stringify(m.labelValues?.slice(BASE_LABEL_KEYS.length)) === JSON.stringify(extra)));

/** What kubelet's CRI collector needs: a descriptor per name, and as many values as keys. */
function expectWellFormed(ms: runtime.v1.IMetric[]): void {
  for (const m of ms) {
    const d = byName.get(m.name ?? '');
    expect(d, `descriptor of ${m.name}`).toBeDefined();
    expect(m.labelValues?.length, `labels of ${m.name}`).toBe(d?.labelKeys?.length);
  }
  // a repeated name and label set would make the Prometheus registry reject the scrape
  const keys = ms.map((m) => `${m.name}|${(m.labelValues ?? []).join('|')}`);
  expect(new Set(keys).size).toBe(keys.length);
}

describe('METRIC_DESCRIPTORS', () => {
  it('has unique names, each with cAdvisor\'s base label keys first', () => {
    expect(byName.size).toBe(METRIC_DESCRIPTORS.length);
    for (const d of METRIC_DESCRIPTORS) {
      expect(d.labelKeys?.slice(0, BASE_LABEL_KEYS.length)).toEqual([...BASE_LABEL_KEYS]);
      expect(d.help).not.toBe('');
      expect(d.name).toMatch(/^container_[a-z_]+$/);
    }
  });

  it('lists the cAdvisor series kubelet\'s /metrics/cadvisor is used for', () => {
    for (const name of [
      'container_cpu_usage_seconds_total',
      'container_cpu_user_seconds_total',
      'container_cpu_system_seconds_total',
      'container_cpu_cfs_periods_total',
      'container_cpu_cfs_throttled_periods_total',
      'container_cpu_cfs_throttled_seconds_total',
      'container_memory_usage_bytes',
      'container_memory_working_set_bytes',
      'container_memory_rss',
      'container_memory_cache',
      'container_memory_swap',
      'container_memory_failcnt',
      'container_memory_mapped_file',
      'container_memory_max_usage_bytes',
      'container_memory_failures_total',
      'container_oom_events_total',
      'container_spec_memory_limit_bytes',
      'container_fs_usage_bytes',
      'container_processes',
      'container_last_seen',
      'container_start_time_seconds',
      'container_network_receive_bytes_total',
      'container_network_transmit_bytes_total',
      'container_network_receive_errors_total',
      'container_network_transmit_errors_total',
      'container_network_receive_packets_total',
      'container_network_transmit_packets_total',
      'container_network_receive_packets_dropped_total',
      'container_network_transmit_packets_dropped_total',
    ]) {
      expect(byName.has(name), name).toBe(true);
    }
  });

  it('adds interface to network series, device to filesystem series, failure_type and scope to failures', () => {
    const extra = (name: string): string[] => (byName.get(name)?.labelKeys ?? []).slice(BASE_LABEL_KEYS.length);
    for (const d of METRIC_DESCRIPTORS.filter((x) => x.name?.startsWith('container_network_'))) expect(extra(d.name ?? '')).toEqual(['interface']);
    expect(extra('container_fs_usage_bytes')).toEqual(['device']);
    expect(extra('container_memory_failures_total')).toEqual(['failure_type', 'scope']);
    expect(extra('container_cpu_usage_seconds_total')).toEqual([]);
  });
});

describe('labelValues', () => {
  it('follows BASE_LABEL_KEYS order, then the extras', () => {
    expect(labelValues(ctr, 'eth0')).toEqual(['app', 'ctr1', 'busybox:1.36', 'k8s_app_web_ns_uid_0', 'ns', 'web', 'eth0']);
    expect(BASE_LABEL_KEYS).toEqual(['container', 'id', 'image', 'name', 'namespace', 'pod']);
  });
});

describe('cgroupMetrics', () => {
  const ms = cgroupMetrics(ctr, reading(sample(), detail({ failcnt: 6n, maxUsage: 9000n, oomKills: 1n })));

  it('is well formed', () => expectWellFormed(ms));

  it('reports CPU in whole seconds (the CRI value is an integer), truncated', () => {
    expect(num(find(ms, 'container_cpu_usage_seconds_total'))).toBe(2n);
    expect(num(find(ms, 'container_cpu_user_seconds_total'))).toBe(1n);
    expect(num(find(ms, 'container_cpu_system_seconds_total'))).toBe(0n);
    expect(num(find(ms, 'container_cpu_cfs_throttled_seconds_total'))).toBe(3n);
    expect(num(find(ms, 'container_cpu_cfs_periods_total'))).toBe(40n);
    expect(num(find(ms, 'container_cpu_cfs_throttled_periods_total'))).toBe(4n);
  });

  it('reports memory in bytes', () => {
    expect(num(find(ms, 'container_memory_usage_bytes'))).toBe(5000n);
    expect(num(find(ms, 'container_memory_working_set_bytes'))).toBe(4000n);
    expect(num(find(ms, 'container_memory_rss'))).toBe(3000n);
    expect(num(find(ms, 'container_memory_cache'))).toBe(1000n);
    expect(num(find(ms, 'container_memory_mapped_file'))).toBe(200n);
    expect(num(find(ms, 'container_memory_swap'))).toBe(100n);
    expect(num(find(ms, 'container_memory_max_usage_bytes'))).toBe(9000n);
    expect(num(find(ms, 'container_memory_failcnt'))).toBe(6n);
    expect(num(find(ms, 'container_oom_events_total'))).toBe(1n);
    expect(num(find(ms, 'container_spec_memory_limit_bytes'))).toBe(1n << 30n);
    expect(num(find(ms, 'container_processes'))).toBe(3n);
  });

  it('reports page faults as memory failures of the whole subtree', () => {
    expect(num(find(ms, 'container_memory_failures_total', 'pgfault', 'hierarchy'))).toBe(70n);
    expect(num(find(ms, 'container_memory_failures_total', 'pgmajfault', 'hierarchy'))).toBe(2n);
  });

  it('types counters and gauges as cAdvisor does', () => {
    const type = (name: string): number | null | undefined => find(ms, name)?.metricType;
    for (const n of ['container_cpu_usage_seconds_total', 'container_cpu_cfs_periods_total', 'container_memory_failcnt', 'container_oom_events_total', 'container_memory_failures_total']) expect(type(n), n).toBe(COUNTER);
    for (const n of ['container_memory_usage_bytes', 'container_memory_working_set_bytes', 'container_spec_memory_limit_bytes', 'container_processes', 'container_memory_max_usage_bytes']) expect(type(n), n).toBe(GAUGE);
  });

  it('stamps every sample with the reading\'s time in nanoseconds and labels it with the subject', () => {
    for (const m of ms) {
      expect(String(m.timestamp)).toBe(AT.toString());
      expect(m.labelValues?.slice(0, BASE_LABEL_KEYS.length)).toEqual(labelValues(ctr));
    }
  });

  it('reports no limit as 0 and leaves out what the kernel did not give', () => {
    const bare = cgroupMetrics(ctr, reading(sample({ limit: undefined }), detail()));
    expect(num(find(bare, 'container_spec_memory_limit_bytes'))).toBe(0n);
    for (const n of ['container_memory_failcnt', 'container_memory_max_usage_bytes', 'container_oom_events_total']) expect(find(bare, n), n).toBeUndefined();
  });

  it('carries counters beyond 2^53 exactly', () => {
    const big = cgroupMetrics(ctr, reading({ ...sample(), memory: { ...sample().memory, usage: 18446744073709551615n } }));
    expect(find(big, 'container_memory_usage_bytes')?.value?.value?.toString()).toBe('18446744073709551615');
  });
});

describe('containerMetrics', () => {
  const layer = { atNs: AT - 7n * S, bytes: 4096n, inodes: 12n, mountpoint: '/var/lib/docker/overlay2/abc/diff' };
  const full = containerMetrics({ subject: ctr, reading: reading(), layer, startedAtNs: 1_600_000_000n * S + 5n, nowNs: NOW });

  it('is well formed', () => expectWellFormed(full));

  it('says when it was seen and started, in seconds', () => {
    expect(num(find(full, 'container_last_seen'))).toBe(NOW / S);
    expect(num(find(full, 'container_start_time_seconds'))).toBe(1_600_000_000n);
    expect(String(find(full, 'container_last_seen')?.timestamp)).toBe(NOW.toString());
  });

  it('reports the writable layer with its directory as the device, stamped when it was measured', () => {
    const fs = find(full, 'container_fs_usage_bytes', layer.mountpoint);
    expect(num(fs)).toBe(4096n);
    expect(String(fs?.timestamp)).toBe(layer.atNs.toString());
    expect(fs?.metricType).toBe(GAUGE);
  });

  it('has only presence series without a cgroup or layer, and no start time when unknown', () => {
    const bare = containerMetrics({ subject: ctr, startedAtNs: 0n, nowNs: NOW });
    expect(bare.map((m) => m.name)).toEqual(['container_last_seen']);
  });

  it('never reports network series: those are the pod\'s', () => {
    expect(full.some((m) => m.name?.startsWith('container_network_'))).toBe(false);
  });
});

describe('podMetrics', () => {
  const net = { interfaces: [iface('lo', 1000n), iface('eth0', 10n), iface('net1', 50n)], atNs: AT + 1n };
  const ms = podMetrics({ subject: pod, reading: reading(), network: net, startedAtNs: 1_600_000_000n * S, nowNs: NOW });

  it('is well formed', () => expectWellFormed(ms));

  it('reports each interface but loopback, with the interface label', () => {
    const rx = ms.filter((m) => m.name === 'container_network_receive_bytes_total');
    expect(rx.map((m) => m.labelValues?.at(-1))).toEqual(['eth0', 'net1']);
    const eth0 = (name: string): bigint => num(find(ms, name, 'eth0'));
    expect([
      eth0('container_network_receive_bytes_total'),
      eth0('container_network_receive_packets_total'),
      eth0('container_network_receive_errors_total'),
      eth0('container_network_receive_packets_dropped_total'),
      eth0('container_network_transmit_bytes_total'),
      eth0('container_network_transmit_packets_total'),
      eth0('container_network_transmit_errors_total'),
      eth0('container_network_transmit_packets_dropped_total'),
    ]).toEqual([10n, 11n, 12n, 13n, 14n, 15n, 16n, 17n]);
    for (const m of ms.filter((x) => x.name?.startsWith('container_network_'))) {
      expect(m.metricType).toBe(COUNTER);
      expect(String(m.timestamp)).toBe(net.atNs.toString());
    }
  });

  it('reports the pod\'s cgroup with empty container, image and name', () => {
    expect(num(find(ms, 'container_memory_working_set_bytes'))).toBe(4000n);
    expect(find(ms, 'container_cpu_usage_seconds_total')?.labelValues).toEqual(['', 'sandbox1', '', '', 'ns', 'web']);
  });

  it('has no network series for a host-network pod, and no cgroup series without a reading', () => {
    const bare = podMetrics({ subject: pod, startedAtNs: 0n, nowNs: NOW });
    expect(bare.map((m) => m.name)).toEqual(['container_last_seen']);
  });

  it('never collides with its containers\' series', () => {
    const together = [...ms, ...containerMetrics({ subject: ctr, reading: reading(), startedAtNs: 1n * S, nowNs: NOW })];
    expectWellFormed(together);
  });
});

describe('subjects from Docker inspect data', () => {
  const sandbox = { Id: 's'.repeat(64), Name: '/k8s_POD_web_ns_uid-1_2', Config: { Image: 'registry.k8s.io/pause:3.10', Labels: {} } } as unknown as ContainerInspect;
  const container = { Id: 'c'.repeat(64), Name: '/k8s_app_web_ns_uid-1_0', Config: { Image: 'busybox:1.36', Labels: {} } } as unknown as ContainerInspect;

  it('names the pod from the sandbox and leaves the container fields empty', () => {
    expect(podSubject(sandbox)).toEqual({ container: '', id: 's'.repeat(64), image: '', name: '', namespace: 'ns', pod: 'web' });
  });

  it('names a container by its CRI name, Docker name and image, under its sandbox\'s pod', () => {
    expect(containerSubject(container, podSubject(sandbox))).toEqual({
      container: 'app',
      id: 'c'.repeat(64),
      image: 'busybox:1.36',
      name: 'k8s_app_web_ns_uid-1_0',
      namespace: 'ns',
      pod: 'web',
    });
  });

  it('copes with containers not named by the CRI scheme', () => {
    const odd = { Id: 'd'.repeat(64), Name: '/random', Config: {} } as unknown as ContainerInspect;
    expect(podSubject(odd)).toMatchObject({ pod: 'random', namespace: '' });
    expect(containerSubject(odd, pod)).toMatchObject({ container: 'random', image: '', name: 'random' });
  });
});
