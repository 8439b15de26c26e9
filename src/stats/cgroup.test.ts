import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { V1_DETAIL_FILES, V1_FILES, V2_FILES, containerCgroupPath, detailV1, detailV2, expandSlice, nanoCores, parseFlatKeyed, parseNetDev, parseSingle, podCgroupPath, sampleV1, sampleV2, sumDetails, sumSamples } from './cgroup.js';

const fixture = (path: string): string => readFileSync(new URL(`./fixtures/${path}`, import.meta.url), 'utf8');
const v1Files = Object.fromEntries([...Object.values(V1_FILES), ...Object.values(V1_DETAIL_FILES)].flat().map((f) => [f, (() => { try { return fixture(`v1/${f}`); } catch { return undefined; } })()]));
const v2Files = Object.fromEntries(V2_FILES.map((f) => [f, fixture(`v2/${f}`)]));

describe('cgroup paths', () => {
  const id = 'abc123';
  it.each([
    ['cgroupfs', undefined, '/docker/abc123'],
    ['cgroupfs', '', '/docker/abc123'],
    ['cgroupfs', '/kubepods/burstable/pod1', '/kubepods/burstable/pod1/abc123'],
    ['cgroupfs', 'kubepods/pod1', '/kubepods/pod1/abc123'],
    ['systemd', undefined, '/system.slice/docker-abc123.scope'],
    ['systemd', 'kubepods-burstable-pod1.slice', '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/docker-abc123.scope'],
  ] as const)('%s with parent %j → %s', (driver, parent, want) => {
    expect(containerCgroupPath(id, parent, driver)).toBe(want);
  });

  it('expands slices as systemd does', () => {
    expect(expandSlice('kubepods.slice')).toBe('/kubepods.slice');
    expect(expandSlice('-.slice')).toBe('/');
    expect(expandSlice('/kubepods.slice/kubepods-besteffort.slice')).toBe('/kubepods.slice/kubepods-besteffort.slice');
  });

  it('has a pod cgroup only when kubelet gave a parent', () => {
    expect(podCgroupPath('', 'cgroupfs')).toBeUndefined();
    expect(podCgroupPath('/kubepods/pod1', 'cgroupfs')).toBe('/kubepods/pod1');
    expect(podCgroupPath('kubepods-pod1.slice', 'systemd')).toBe('/kubepods.slice/kubepods-pod1.slice');
  });
});

describe('parsers', () => {
  it('reads single values and "max"', () => {
    expect(parseSingle('123\n')).toBe(123n);
    expect(parseSingle('max\n')).toBeUndefined();
    expect(parseSingle(undefined)).toBeUndefined();
  });

  it('reads flat-keyed files and skips junk', () => {
    const m = parseFlatKeyed('a 1\nb 18446744073709551615\n\nbroken\n');
    expect([...m]).toEqual([['a', 1n], ['b', 18446744073709551615n]]);
  });
});

describe('sampleV1 on files captured from a Docker 20.10 container (cgroupfs, --memory 256m, 8 MiB in /dev/shm)', () => {
  const s = sampleV1(v1Files);
  it('reads CPU, memory, swap and pids', () => {
    expect(s.cpuUsageNs).toBe(BigInt(fixture('v1/cpuacct.usage').trim()));
    expect(s.memory.usage).toBe(BigInt(fixture('v1/memory.usage_in_bytes').trim()));
    // total_inactive_file is 0 here: the shm pages are anon, so the working set is all of usage
    expect(s.memory.workingSet).toBe(s.memory.usage);
    expect(s.memory.workingSet).toBeGreaterThanOrEqual(8n << 20n);
    expect(s.memory.rss).toBe(61440n);
    expect(s.memory.pageFaults).toBe(1339n);
    expect(s.memory.majorPageFaults).toBe(0n);
    expect(s.memory.limit).toBe(256n << 20n);
    expect(s.swap.usage).toBe(0n);
    expect(s.swap.limit).toBe(256n << 20n);
    expect(s.pids).toBe(1n);
  });

  it('subtracts total_inactive_file from usage, never below zero', () => {
    const files = { ...v1Files, 'memory.usage_in_bytes': '1000\n', 'memory.stat': 'total_inactive_file 300\ninactive_file 999\n' };
    expect(sampleV1(files).memory.workingSet).toBe(700n);
    expect(sampleV1({ ...files, 'memory.usage_in_bytes': '100\n' }).memory.workingSet).toBe(0n);
  });

  it('treats the kernel\'s page-counter maximum as no limit', () => {
    const s2 = sampleV1({ ...v1Files, 'memory.limit_in_bytes': '9223372036854771712\n', 'memory.memsw.limit_in_bytes': '9223372036854771712\n' });
    expect(s2.memory.limit).toBeUndefined();
    expect(s2.swap.limit).toBeUndefined();
  });

  it('reads a cgroup without memsw (swap accounting off) as no swap', () => {
    const s2 = sampleV1({ ...v1Files, 'memory.memsw.usage_in_bytes': undefined, 'memory.memsw.limit_in_bytes': undefined });
    expect(s2.swap).toEqual({ usage: 0n, limit: undefined });
  });
});

describe('sampleV2 on hand-made files in the kernel documentation\'s formats', () => {
  const s = sampleV2(v2Files);
  it('reads CPU, memory, swap and pids', () => {
    expect(s.cpuUsageNs).toBe(8_123_456_000n);
    expect(s.memory.usage).toBe(70778880n);
    expect(s.memory.workingSet).toBe(70778880n - 8388608n);
    expect(s.memory.rss).toBe(52428800n);
    expect(s.memory.pageFaults).toBe(24816n);
    expect(s.memory.majorPageFaults).toBe(7n);
    expect(s.memory.limit).toBe(134217728n);
    expect(s.swap).toEqual({ usage: 1048576n, limit: undefined });
    expect(s.pids).toBe(5n);
  });

  it('has no limit when memory.max is "max"', () => {
    expect(sampleV2({ ...v2Files, 'memory.max': 'max\n' }).memory.limit).toBeUndefined();
  });
});

describe('detailV1 on the captured files', () => {
  const d = detailV1(v1Files);
  it('turns cpuacct.stat ticks into nanoseconds and reads the page cache, failcnt', () => {
    expect(d.cpuUserNs).toBe(1165n * 10_000_000n);
    expect(d.cpuSystemNs).toBe(3n * 10_000_000n);
    expect(d.cache).toBe(8388608n);
    expect(d.mappedFile).toBe(0n);
    expect(d.failcnt).toBe(0n);
  });

  it('reads CFS throttling, max usage and OOM kills when their files are there', () => {
    const d2 = detailV1({
      ...v1Files,
      'cpu.stat': 'nr_periods 50\nnr_throttled 7\nthrottled_time 1500000000\n',
      'memory.max_usage_in_bytes': '4096\n',
      'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
      'memory.stat': 'total_cache 10\ncache 99\ntotal_mapped_file 3\n',
    });
    expect([d2.cfsPeriods, d2.cfsThrottledPeriods, d2.cfsThrottledNs]).toEqual([50n, 7n, 1_500_000_000n]);
    expect(d2.maxUsage).toBe(4096n);
    expect(d2.oomKills).toBe(2n);
    expect([d2.cache, d2.mappedFile]).toEqual([10n, 3n]);
  });

  it('leaves out what the kernel does not offer', () => {
    const d2 = detailV1({ ...v1Files, 'memory.failcnt': undefined, 'memory.max_usage_in_bytes': undefined, 'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\n', 'cpu.stat': undefined });
    expect(d2.failcnt).toBeUndefined();
    expect(d2.maxUsage).toBeUndefined();
    expect(d2.oomKills).toBeUndefined();
    expect(d2.cfsPeriods).toBe(0n);
  });
});

describe('detailV2 on the hand-made files', () => {
  it('reads user and system time, throttling, page cache and mapped files', () => {
    const d = detailV2({ ...v2Files, 'cpu.stat': 'usage_usec 9\nuser_usec 6000000\nsystem_usec 2123456\nnr_periods 4\nnr_throttled 1\nthrottled_usec 2500\n', 'memory.events': 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n', 'memory.peak': '99999\n' });
    expect(d.cpuUserNs).toBe(6_000_000_000n);
    expect(d.cpuSystemNs).toBe(2_123_456_000n);
    expect([d.cfsPeriods, d.cfsThrottledPeriods, d.cfsThrottledNs]).toEqual([4n, 1n, 2_500_000n]);
    expect(d.cache).toBe(16777216n);
    expect(d.mappedFile).toBe(2097152n);
    expect(d.oomKills).toBe(1n);
    expect(d.maxUsage).toBe(99999n);
    expect(d.failcnt).toBeUndefined();
  });

  it('has no peak or OOM count on kernels without memory.peak and memory.events', () => {
    const d = detailV2(v2Files);
    expect(d.maxUsage).toBeUndefined();
    expect(d.oomKills).toBeUndefined();
  });
});

describe('sumDetails', () => {
  it('adds counters; an optional figure only when every part has it; max usage never', () => {
    const a = detailV1({ ...v1Files, 'memory.oom_control': 'oom_kill 1\n', 'memory.max_usage_in_bytes': '5\n' });
    const sum = sumDetails([a, a]);
    expect(sum.cpuUserNs).toBe(2n * a.cpuUserNs);
    expect(sum.cache).toBe(2n * a.cache);
    expect(sum.oomKills).toBe(2n);
    expect(sum.failcnt).toBe(0n);
    expect(sum.maxUsage).toBeUndefined();
    expect(sumDetails([a, detailV2(v2Files)]).oomKills).toBeUndefined();
    expect(sumDetails([]).failcnt).toBeUndefined();
  });
});

describe('sumSamples', () => {
  it('adds counters and drops limits', () => {
    const a = sampleV2(v2Files);
    const sum = sumSamples([a, a]);
    expect(sum.cpuUsageNs).toBe(2n * a.cpuUsageNs);
    expect(sum.memory.workingSet).toBe(2n * a.memory.workingSet);
    expect(sum.pids).toBe(10n);
    expect(sum.memory.limit).toBeUndefined();
  });
});

describe('parseNetDev on a file captured inside a container', () => {
  it('reads every interface', () => {
    const ifs = parseNetDev(fixture('net-dev'));
    expect(ifs.map((i) => [i.name, i.rxBytes, i.txBytes])).toEqual([
      ['lo', 0n, 0n],
      ['eth0', 806n, 0n],
    ]);
  });

  it('reads bytes, packets, errors and drops from their columns', () => {
    const text = 'h1\nh2\n  eth0: 10 2 3 4 0 0 0 0 20 6 7 8 0 0 0 0\n';
    expect(parseNetDev(text)).toEqual([{ name: 'eth0', rxBytes: 10n, rxPackets: 2n, rxErrors: 3n, rxDropped: 4n, txBytes: 20n, txPackets: 6n, txErrors: 7n, txDropped: 8n }]);
  });

  it('skips headers and malformed lines', () => {
    expect(parseNetDev('h1\nh2\n  eth0: 1 2 3\n bad line\n')).toEqual([]);
  });
});

describe('nanoCores', () => {
  it('is the rate between two samples', () => {
    expect(nanoCores({ cpuUsageNs: 0n, atNs: 0n }, { cpuUsageNs: 500_000_000n, atNs: 1_000_000_000n })).toBe(500_000_000n);
  });
  it('is undefined without a usable earlier sample', () => {
    expect(nanoCores(undefined, { cpuUsageNs: 1n, atNs: 1n })).toBeUndefined();
    expect(nanoCores({ cpuUsageNs: 5n, atNs: 1n }, { cpuUsageNs: 1n, atNs: 2n })).toBeUndefined();
    expect(nanoCores({ cpuUsageNs: 1n, atNs: 2n }, { cpuUsageNs: 5n, atNs: 2n })).toBeUndefined();
  });
});
