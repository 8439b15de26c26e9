// Docker inspect data → CRI Container and ContainerStatus. Pure: no I/O.
import Long from 'long';
import { runtime } from '../gen/api.js';
import type { ContainerInspect } from '../docker/client.js';
import { LABEL_LOG_PATH, LABEL_SANDBOX_ID, extractLabels, parseName, withoutInherited } from '../docker/naming.js';
import { rfc3339ToNs } from '../util/time.js';

export const ContainerState = { CREATED: 0, RUNNING: 1, EXITED: 2, UNKNOWN: 3 } as const;
const Propagation = { PRIVATE: 0, HOST_TO_CONTAINER: 1, BIDIRECTIONAL: 2 } as const;

/** CRI state of a Docker container state. */
export function containerState(inspect: ContainerInspect): number {
  switch (inspect.State?.Status) {
    case 'created':
      return ContainerState.CREATED;
    case 'running':
    case 'paused':
    case 'restarting':
      return ContainerState.RUNNING;
    case 'exited':
    case 'dead':
      return ContainerState.EXITED;
    default:
      return ContainerState.UNKNOWN;
  }
}

export function containerMetadata(inspect: ContainerInspect): runtime.v1.IContainerMetadata {
  const parts = parseName(inspect.Name);
  return parts ? { name: parts.containerName, attempt: parts.attempt } : { name: inspect.Name.replace(/^\//, ''), attempt: 0 };
}

/** The reason kubelet shows for an exited container. */
export function exitReason(inspect: ContainerInspect): string {
  if (containerState(inspect) !== ContainerState.EXITED) return '';
  if (inspect.State?.OOMKilled) return 'OOMKilled';
  return inspect.State?.ExitCode === 0 ? 'Completed' : 'Error';
}

/** The digest reference of the image when Docker knows one, else its ID (what kubelet shows as imageID). */
export function imageRef(imageId: string, repoDigests: readonly string[] | undefined): string {
  return repoDigests?.[0] ?? imageId;
}

const PROPAGATION: Record<string, number> = {
  rprivate: Propagation.PRIVATE,
  private: Propagation.PRIVATE,
  rslave: Propagation.HOST_TO_CONTAINER,
  slave: Propagation.HOST_TO_CONTAINER,
  rshared: Propagation.BIDIRECTIONAL,
  shared: Propagation.BIDIRECTIONAL,
};

export function mounts(inspect: ContainerInspect): runtime.v1.IMount[] {
  return (inspect.Mounts ?? [])
    .filter((m) => m.Type === 'bind' || m.Type === undefined)
    .map((m) => ({
      containerPath: m.Destination,
      hostPath: m.Source,
      readonly: !m.RW,
      selinuxRelabel: /[zZ]/.test(m.Mode ?? ''),
      propagation: PROPAGATION[m.Propagation ?? ''] ?? Propagation.PRIVATE,
    }));
}

interface ResourceHostConfig {
  CpuPeriod?: number;
  CpuQuota?: number;
  CpuShares?: number;
  Memory?: number;
  MemorySwap?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  OomScoreAdj?: number;
}

export function resources(inspect: ContainerInspect): runtime.v1.IContainerResources {
  const hc = (inspect.HostConfig ?? {}) as ResourceHostConfig;
  return {
    linux: {
      cpuPeriod: hc.CpuPeriod ?? 0,
      cpuQuota: hc.CpuQuota ?? 0,
      cpuShares: hc.CpuShares ?? 0,
      memoryLimitInBytes: hc.Memory ?? 0,
      memorySwapLimitInBytes: hc.MemorySwap ?? 0,
      cpusetCpus: hc.CpusetCpus ?? '',
      cpusetMems: hc.CpusetMems ?? '',
      oomScoreAdj: hc.OomScoreAdj ?? 0,
    },
  };
}

/** Docker's StopSignal ("SIGTERM", "15", "TERM") as the CRI enum; RUNTIME_DEFAULT when unset. */
export function stopSignal(signal: string | undefined): number {
  if (!signal) return runtime.v1.Signal.RUNTIME_DEFAULT;
  const name = /^\d+$/.test(signal) ? NUMBERED[Number(signal)] : signal.startsWith('SIG') ? signal : `SIG${signal}`;
  const value = name ? (runtime.v1.Signal as unknown as Record<string, number>)[name] : undefined;
  return value ?? runtime.v1.Signal.RUNTIME_DEFAULT;
}

const NUMBERED: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 6: 'SIGABRT', 9: 'SIGKILL', 10: 'SIGUSR1', 12: 'SIGUSR2', 15: 'SIGTERM', 17: 'SIGCHLD', 19: 'SIGSTOP', 28: 'SIGWINCH', 30: 'SIGPWR' };

export interface ImageFacts {
  /** The image's own labels, which Docker copied into the container's. */
  labels: Record<string, string>;
  repoDigests?: string[];
}

export function labelsAndAnnotations(inspect: ContainerInspect, image: ImageFacts): { labels: Record<string, string>; annotations: Record<string, string> } {
  return extractLabels(withoutInherited(inspect.Config?.Labels, image.labels));
}

export const createdAt = (inspect: ContainerInspect): Long => rfc3339ToNs(inspect.Created);

export function toContainer(inspect: ContainerInspect, image: ImageFacts): runtime.v1.IContainer {
  const { labels, annotations } = labelsAndAnnotations(inspect, image);
  return {
    id: inspect.Id,
    podSandboxId: inspect.Config?.Labels?.[LABEL_SANDBOX_ID] ?? '',
    metadata: containerMetadata(inspect),
    image: { image: inspect.Config?.Image ?? '' },
    // the image ID, as cri-dockerd and containerd list it: kubelet's image GC marks an image in use
    // by comparing this with the ids ListImages gives, so a repo digest here would let it delete
    imageRef: inspect.Image,
    imageId: inspect.Image,
    state: containerState(inspect),
    createdAt: createdAt(inspect),
    labels,
    annotations,
  };
}

/** The first process's identity: read from the running process when the caller could, else from Config.User. */
export interface ProcessIdentity {
  uid: number;
  gid: number;
  groups: number[];
}

export function toContainerStatus(inspect: ContainerInspect, image: ImageFacts, identity: ProcessIdentity | undefined): runtime.v1.IContainerStatus {
  const { labels, annotations } = labelsAndAnnotations(inspect, image);
  const state = containerState(inspect);
  const startedAt = state === ContainerState.CREATED ? Long.ZERO : rfc3339ToNs(inspect.State?.StartedAt);
  const status: runtime.v1.IContainerStatus = {
    id: inspect.Id,
    metadata: containerMetadata(inspect),
    state,
    createdAt: createdAt(inspect),
    startedAt,
    finishedAt: state === ContainerState.EXITED ? finishedAt(inspect, startedAt) : 0,
    exitCode: state === ContainerState.EXITED ? inspect.State?.ExitCode ?? 0 : 0,
    image: { image: inspect.Config?.Image ?? '' },
    imageRef: imageRef(inspect.Image, image.repoDigests),
    imageId: inspect.Image,
    reason: exitReason(inspect),
    message: inspect.State?.Error ?? '',
    labels,
    annotations,
    mounts: mounts(inspect),
    logPath: inspect.Config?.Labels?.[LABEL_LOG_PATH] ?? '',
    resources: resources(inspect),
    stopSignal: stopSignal((inspect.Config as { StopSignal?: string } | undefined)?.StopSignal),
  };
  const user = identity ?? numericUser(inspect.Config?.User, (inspect.HostConfig as { GroupAdd?: string[] } | undefined)?.GroupAdd);
  if (user) status.user = { linux: { uid: user.uid, gid: user.gid, supplementalGroups: user.groups } };
  return status;
}

/** Docker stamps StartedAt only after runc's start returns, so a process that exits at once can seem to finish before it started. */
export function finishedAt(inspect: ContainerInspect, startedAt: Long): Long {
  const finished = rfc3339ToNs(inspect.State?.FinishedAt);
  return finished.lessThan(startedAt) ? startedAt : finished;
}

/** The identity a numeric "uid[:gid]" user gives; undefined for names (they need the image's passwd). */
export function numericUser(user: string | undefined, groupAdd: string[] | undefined): ProcessIdentity | undefined {
  const m = /^(\d+)(?::(\d+))?$/.exec(user ?? '0');
  if (!m) return undefined;
  const groups = (groupAdd ?? []).filter((g) => /^\d+$/.test(g)).map(Number);
  return { uid: Number(m[1]), gid: Number(m[2] ?? 0), groups };
}

/** Uid, gid and groups of a process from its /proc/<pid>/status text. */
export function identityFromProcStatus(text: string): ProcessIdentity | undefined {
  const uid = /^Uid:\s+(\d+)/m.exec(text)?.[1];
  const gid = /^Gid:\s+(\d+)/m.exec(text)?.[1];
  if (uid === undefined || gid === undefined) return undefined;
  const groups = (/^Groups:\s*(.*)$/m.exec(text)?.[1] ?? '').trim().split(/\s+/).filter((g) => g !== '').map(Number);
  return { uid: Number(uid), gid: Number(gid), groups };
}

/** Whether a container matches a ListContainers filter. */
export function matchesContainerFilter(c: runtime.v1.IContainer, f: runtime.v1.IContainerFilter | null | undefined): boolean {
  if (!f) return true;
  if (f.id && !(c.id ?? '').startsWith(f.id)) return false;
  if (f.state && c.state !== (f.state.state ?? 0)) return false;
  if (f.podSandboxId && !(c.podSandboxId ?? '').startsWith(f.podSandboxId)) return false;
  for (const [k, v] of Object.entries(f.labelSelector ?? {})) if (c.labels?.[k] !== v) return false;
  return true;
}
