import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { runtime } from '../gen/api.js';
import type { StreamSink } from '../gen/services.js';
import type { ContainerInspect } from '../docker/client.js';
import type { ContainerIndex } from '../docker/container-index.js';
import type { ImageLabels } from '../docker/image-labels.js';
import { LABEL_SANDBOX_ID, LABEL_TYPE, TYPE_CONTAINER, TYPE_SANDBOX } from '../docker/naming.js';
import type { Logger } from '../log.js';
import { batches, mapLimit } from '../util/pool.js';
import { readKernelFile } from '../util/kernel-file.js';
import { rfc3339ToNs } from '../util/time.js';
import { V1_DETAIL_FILES, V1_FILES, V2_DETAIL_FILES, V2_FILES, containerCgroupPath, detailV1, detailV2, nanoCores, parseNetDev, podCgroupPath, sampleV1, sampleV2, sumDetails, sumSamples, type CgroupDriver, type CgroupSample, type CgroupVersion, type InterfaceCounters } from './cgroup.js';
import { METRIC_DESCRIPTORS, containerMetrics, containerSubject, podMetrics, podSubject, type CgroupReading } from './metrics.js';
import { containerAttributes, containerStats, cpuUsage, matchesSandboxStatsFilter, matchesStatsFilter, memoryUsage, networkUsage, sandboxAttributes, u64 } from './translate.js';
import { WritableLayers, type LayerRef } from './writable-layer.js';
import Long from 'long';

/** Files read at once per rpc: each object needs a handful. */
const READ_CONCURRENCY = 16;

export interface StatsServiceOptions {
  cgroupDriver: CgroupDriver;
  /** Where the cgroup hierarchies are mounted. */
  cgroupRoot?: string;
  /** How often each writable layer is walked again. */
  layerRefreshMs?: number;
}

interface Reading {
  sample: CgroupSample;
  atNs: bigint;
  nanoCores: bigint | undefined;
}

// wall-clock nanoseconds with the monotonic clock's resolution, for CPU rates between samples
const EPOCH_OFFSET_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
const nowNs = (): bigint => EPOCH_OFFSET_NS + process.hrtime.bigint();

const upperDir = (c: ContainerInspect): string | undefined => (c.GraphDriver?.Data as Record<string, string> | undefined)?.UpperDir;
const cgroupParentOf = (c: ContainerInspect): string | undefined => (c.HostConfig as { CgroupParent?: string } | undefined)?.CgroupParent;
const isType = (c: ContainerInspect, type: string): boolean => c.Config?.Labels?.[LABEL_TYPE] === type;

/**
 * ContainerStats, ListContainerStats, StreamContainerStats and their pod sandbox counterparts, and
 * the metrics rpcs (ListMetricDescriptors, ListPodSandboxMetrics, StreamPodSandboxMetrics), read
 * from cgroup files (never Docker's sampling stats endpoint) and /proc/<pause pid>/net/dev.
 */
export class StatsService {
  private readonly root: string;
  private readonly version: CgroupVersion;
  /** The last CPU reading per cgroup, for usage_nano_cores. */
  private readonly last = new Map<string, { cpuUsageNs: bigint; atNs: bigint }>();
  readonly layers: WritableLayers;

  constructor(
    private readonly index: ContainerIndex,
    private readonly imageLabels: ImageLabels,
    private readonly opts: StatsServiceOptions,
    private readonly log: Logger,
  ) {
    this.root = opts.cgroupRoot ?? '/sys/fs/cgroup';
    this.version = existsSync(join(this.root, 'cgroup.controllers')) ? 2 : 1;
    this.layers = new WritableLayers(() => this.layerRefs(), log, opts.layerRefreshMs);
    index.onChange((change) => {
      if (change.kind === 'remove') {
        this.last.delete(change.dockerId);
        this.last.delete(`pod:${change.dockerId}`);
        this.layers.forget(change.dockerId);
        return;
      }
      // a container that starts gets its layer measured at once, not at the next pass
      const dir = upperDir(change.inspect);
      if (isType(change.inspect, TYPE_CONTAINER) && change.inspect.State?.Running && dir) this.layers.prime({ dockerId: change.dockerId, upperDir: dir });
    });
  }

  start(): void {
    this.log.info({ cgroupVersion: this.version, driver: this.opts.cgroupDriver }, 'stats read from cgroup files');
    this.layers.start();
  }

  stop(): void {
    this.layers.stop();
  }

  private layerRefs(): LayerRef[] {
    const refs: LayerRef[] = [];
    for (const c of this.index.values()) {
      const dir = upperDir(c);
      if (isType(c, TYPE_CONTAINER) && dir) refs.push({ dockerId: c.Id, upperDir: dir });
    }
    return refs;
  }

  /**
   * A cgroup's files by name, or undefined when it does not exist (the container does not run).
   * Read synchronously (see readKernelFile): an rpc reads a handful per object.
   */
  private readCgroupFiles(relPath: string, detailed: boolean): Record<string, string | undefined> | undefined {
    const files: Record<string, string | undefined> = {};
    if (this.version === 2) {
      const dir = join(this.root, relPath);
      for (const f of [...V2_FILES, ...(detailed ? V2_DETAIL_FILES : [])]) files[f] = readKernelFile(join(dir, f));
      return files['memory.current'] === undefined ? undefined : files;
    }
    const perController: [string, readonly string[]][] = [...Object.entries(V1_FILES), ...(detailed ? Object.entries(V1_DETAIL_FILES) : [])];
    for (const [controller, names] of perController) {
      for (const f of names) {
        files[f] = readKernelFile(join(this.root, controller, relPath, f));
        // a cgroup that is not there has none of its files: the others are not asked for
        if (f === 'memory.usage_in_bytes' && files[f] === undefined) return undefined;
      }
    }
    return files['memory.usage_in_bytes'] === undefined ? undefined : files;
  }

  /** One cgroup's sample, or undefined when it does not exist. */
  private async readCgroup(relPath: string): Promise<CgroupSample | undefined> {
    const files = this.readCgroupFiles(relPath, false);
    if (!files) return undefined;
    return this.version === 2 ? sampleV2(files) : sampleV1(files);
  }

  /** One cgroup's sample with the detail the metrics rpcs report, or undefined when it does not exist. */
  private async readCgroupDetailed(relPath: string): Promise<CgroupReading | undefined> {
    const files = this.readCgroupFiles(relPath, true);
    if (!files) return undefined;
    const atNs = nowNs();
    return this.version === 2 ? { sample: sampleV2(files), detail: detailV2(files), atNs } : { sample: sampleV1(files), detail: detailV1(files), atNs };
  }

  /** A reading with its CPU rate since the previous reading of the same key. */
  private reading(key: string, sample: CgroupSample | undefined): Reading | undefined {
    if (!sample) return undefined;
    const atNs = nowNs();
    const cur = { cpuUsageNs: sample.cpuUsageNs, atNs };
    const rate = nanoCores(this.last.get(key), cur);
    this.last.set(key, cur);
    return { sample, atNs, nanoCores: rate };
  }

  private async containerSample(c: ContainerInspect): Promise<CgroupSample | undefined> {
    if (!c.State?.Running) return undefined;
    return this.readCgroup(containerCgroupPath(c.Id, cgroupParentOf(c), this.opts.cgroupDriver));
  }

  private async statsOf(c: ContainerInspect, sample?: CgroupSample): Promise<runtime.v1.IContainerStats> {
    const attributes = containerAttributes(c, await this.imageLabels.get(c.Image));
    const dir = upperDir(c);
    const layer = dir ? await this.layers.get({ dockerId: c.Id, upperDir: dir }) : undefined;
    return containerStats(attributes, this.reading(c.Id, sample ?? (await this.containerSample(c))), layer);
  }

  async ContainerStats(request: runtime.v1.ContainerStatsRequest): Promise<runtime.v1.IContainerStatsResponse> {
    const c = await this.index.mustFind(request.containerId, TYPE_CONTAINER, 'ContainerStats');
    return { stats: await this.statsOf(c) };
  }

  private async listContainerStats(filter: runtime.v1.IContainerStatsFilter | null | undefined): Promise<runtime.v1.IContainerStats[]> {
    await this.index.ready();
    const candidates = [...this.index.values()].filter((c) => isType(c, TYPE_CONTAINER) && (!filter?.id || c.Id.startsWith(filter.id)));
    const matching: ContainerInspect[] = [];
    for (const c of candidates) if (matchesStatsFilter(c, containerAttributes(c, await this.imageLabels.get(c.Image)), filter)) matching.push(c);
    return mapLimit(matching, READ_CONCURRENCY, (c) => this.statsOf(c));
  }

  async ListContainerStats(request: runtime.v1.ListContainerStatsRequest): Promise<runtime.v1.IListContainerStatsResponse> {
    return { stats: await this.listContainerStats(request.filter) };
  }

  async StreamContainerStats(request: runtime.v1.StreamContainerStatsRequest, sink: StreamSink<runtime.v1.IStreamContainerStatsResponse>): Promise<void> {
    for (const batch of batches(await this.listContainerStats(request.filter))) sink.write({ containerStats: batch });
  }

  private async sandboxStats(sandbox: ContainerInspect): Promise<runtime.v1.IPodSandboxStats> {
    const attributes = sandboxAttributes(sandbox, await this.imageLabels.get(sandbox.Image));
    const members = [...this.index.values()].filter((c) => isType(c, TYPE_CONTAINER) && c.Config?.Labels?.[LABEL_SANDBOX_ID] === sandbox.Id);
    const samples = await mapLimit(members, READ_CONCURRENCY, (c) => this.containerSample(c));
    const containers = await mapLimit(members, READ_CONCURRENCY, (c, i) => this.statsOf(c, samples[i]));
    const linux: runtime.v1.ILinuxPodSandboxStats = { containers };
    const podPath = podCgroupPath(cgroupParentOf(sandbox), this.opts.cgroupDriver);
    // the pod-level cgroup kubelet made, else the pause container and the pod's containers added up
    let podSample = podPath ? await this.readCgroup(podPath) : undefined;
    if (!podSample) {
      const own = [await this.containerSample(sandbox), ...samples].filter((s): s is CgroupSample => s !== undefined);
      if (own.length > 0) podSample = sumSamples(own);
    }
    const reading = this.reading(`pod:${sandbox.Id}`, podSample);
    if (reading) {
      linux.cpu = cpuUsage(reading.sample, reading.atNs, reading.nanoCores);
      linux.memory = memoryUsage(reading.sample, reading.atNs);
      linux.process = { timestamp: Long.fromString(reading.atNs.toString()), processCount: u64(reading.sample.pids) };
    }
    const network = await this.podNetwork(sandbox);
    if (network) linux.network = networkUsage(network.interfaces, network.atNs);
    return { attributes, linux };
  }

  /** The counters of the pod's network namespace, read through its pause process; none for host-network pods. */
  private async podNetwork(sandbox: ContainerInspect): Promise<{ interfaces: InterfaceCounters[]; atNs: bigint } | undefined> {
    const pid = sandbox.State?.Running ? sandbox.State.Pid : 0;
    const hostNetwork = (sandbox.HostConfig as { NetworkMode?: string } | undefined)?.NetworkMode === 'host';
    if (pid <= 0 || hostNetwork) return undefined;
    const text = readKernelFile(`/proc/${pid}/net/dev`);
    return text === undefined ? undefined : { interfaces: parseNetDev(text), atNs: nowNs() };
  }

  async PodSandboxStats(request: runtime.v1.PodSandboxStatsRequest): Promise<runtime.v1.IPodSandboxStatsResponse> {
    const sandbox = await this.index.mustFind(request.podSandboxId, TYPE_SANDBOX, 'PodSandboxStats');
    return { stats: await this.sandboxStats(sandbox) };
  }

  private async listSandboxStats(filter: runtime.v1.IPodSandboxStatsFilter | null | undefined): Promise<runtime.v1.IPodSandboxStats[]> {
    await this.index.ready();
    const matching: ContainerInspect[] = [];
    for (const s of [...this.index.values()]) {
      if (!isType(s, TYPE_SANDBOX) || (filter?.id && !s.Id.startsWith(filter.id))) continue;
      if (matchesSandboxStatsFilter(s, sandboxAttributes(s, await this.imageLabels.get(s.Image)), filter)) matching.push(s);
    }
    return mapLimit(matching, READ_CONCURRENCY / 4, (s) => this.sandboxStats(s));
  }

  async ListPodSandboxStats(request: runtime.v1.ListPodSandboxStatsRequest): Promise<runtime.v1.IListPodSandboxStatsResponse> {
    return { stats: await this.listSandboxStats(request.filter) };
  }

  async StreamPodSandboxStats(request: runtime.v1.StreamPodSandboxStatsRequest, sink: StreamSink<runtime.v1.IStreamPodSandboxStatsResponse>): Promise<void> {
    for (const batch of batches(await this.listSandboxStats(request.filter))) sink.write({ podSandboxStats: batch });
  }

  ListMetricDescriptors(): Promise<runtime.v1.IListMetricDescriptorsResponse> {
    return Promise.resolve({ descriptors: [...METRIC_DESCRIPTORS] });
  }

  /** One sandbox's metrics: pod-level series, then each running container's. */
  private async sandboxMetrics(sandbox: ContainerInspect, members: readonly ContainerInspect[]): Promise<runtime.v1.IPodSandboxMetrics> {
    const pod = podSubject(sandbox);
    const readings = await mapLimit(members, READ_CONCURRENCY, (c) => this.readCgroupDetailed(containerCgroupPath(c.Id, cgroupParentOf(c), this.opts.cgroupDriver)));
    const podPath = podCgroupPath(cgroupParentOf(sandbox), this.opts.cgroupDriver);
    // the pod-level cgroup kubelet made, else the pause container and the pod's containers added up
    let podReading = podPath ? await this.readCgroupDetailed(podPath) : undefined;
    if (!podReading) {
      const own = [await this.readCgroupDetailed(containerCgroupPath(sandbox.Id, cgroupParentOf(sandbox), this.opts.cgroupDriver)), ...readings].filter((r): r is CgroupReading => r !== undefined);
      if (own.length > 0) podReading = { sample: sumSamples(own.map((r) => r.sample)), detail: sumDetails(own.map((r) => r.detail)), atNs: nowNs() };
    }
    const now = nowNs();
    const startedAtNs = (c: ContainerInspect): bigint => BigInt(rfc3339ToNs(c.State?.StartedAt).toString());
    const containerMetricsList = await mapLimit(members, READ_CONCURRENCY, async (c, i): Promise<runtime.v1.IContainerMetrics> => {
      const dir = upperDir(c);
      const layer = dir ? await this.layers.get({ dockerId: c.Id, upperDir: dir }) : undefined;
      return { containerId: c.Id, metrics: containerMetrics({ subject: containerSubject(c, pod), reading: readings[i], layer, startedAtNs: startedAtNs(c), nowNs: now }) };
    });
    return {
      podSandboxId: sandbox.Id,
      metrics: podMetrics({ subject: pod, reading: podReading, network: await this.podNetwork(sandbox), startedAtNs: startedAtNs(sandbox), nowNs: now }),
      containerMetrics: containerMetricsList,
    };
  }

  /** Metrics of every ready sandbox and its running containers. */
  private async listSandboxMetrics(): Promise<runtime.v1.IPodSandboxMetrics[]> {
    await this.index.ready();
    const sandboxes: ContainerInspect[] = [];
    const members = new Map<string, ContainerInspect[]>();
    for (const c of this.index.values()) {
      if (!c.State?.Running) continue;
      if (isType(c, TYPE_SANDBOX)) sandboxes.push(c);
      const sandboxId = c.Config?.Labels?.[LABEL_SANDBOX_ID];
      if (!isType(c, TYPE_CONTAINER) || !sandboxId) continue;
      const list = members.get(sandboxId);
      if (list) list.push(c);
      else members.set(sandboxId, [c]);
    }
    return mapLimit(sandboxes, READ_CONCURRENCY / 4, (s) => this.sandboxMetrics(s, members.get(s.Id) ?? []));
  }

  async ListPodSandboxMetrics(): Promise<runtime.v1.IListPodSandboxMetricsResponse> {
    return { podMetrics: await this.listSandboxMetrics() };
  }

  async StreamPodSandboxMetrics(_request: runtime.v1.StreamPodSandboxMetricsRequest, sink: StreamSink<runtime.v1.IStreamPodSandboxMetricsResponse>): Promise<void> {
    for (const batch of batches(await this.listSandboxMetrics())) sink.write({ podSandboxMetrics: batch });
  }
}
