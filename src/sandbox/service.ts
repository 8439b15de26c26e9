import { writeFile } from 'node:fs/promises';
import { Code, CriError, invalidArgument } from '../errors.js';
import type { SandboxResources } from './update-resources.js';
import type { runtime } from '../gen/api.js';
import type { StreamSink } from '../gen/services.js';
import type { ContainerIndex } from '../docker/container-index.js';
import { NameConflict, type ContainerInspect, type DockerClient } from '../docker/client.js';
import { LABEL_SANDBOX_ID, LABEL_TYPE, TYPE_CONTAINER, TYPE_SANDBOX, randomizedName } from '../docker/naming.js';
import type { Logger } from '../log.js';
import { podBandwidth, type BandwidthCap } from '../network/bandwidth.js';
import type { PortMappingCap } from '../network/cni.js';
import type { PodIdentityHint, PodNetwork } from '../network/pod-network.js';
import { parseReference, pullTarget } from '../image/reference.js';
import type { SandboxCheckpoint, SandboxCheckpoints } from '../checkpoint/index.js';
import type { ImageLabels } from '../docker/image-labels.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { batches, mapLimit } from '../util/pool.js';
import { readSeccompProfile } from '../security/profile.js';
import { seccompChoice } from '../security/translate.js';
import {
  isHostNetwork,
  matchesFilter,
  namespaceOptions,
  networkStatus,
  podIdentity,
  portSpecs,
  resolvConf,
  runtimeHandler,
  sandboxCreateBody,
  sandboxMetadata,
  sandboxState,
  createdAtNs,
  toPodSandbox,
  validateSandboxConfig,
} from './translate.js';

/** Seconds the pause container and leftover containers get between SIGTERM and SIGKILL on stop. */
const SANDBOX_STOP_GRACE_SEC = 10;

export interface SandboxServiceOptions {
  podInfraContainerImage: string;
  imagePullProgressDeadlineMs: number;
  cgroupDriver: 'systemd' | 'cgroupfs';
  defaultRuntime: string;
  /** Docker's runtimes; `fresh` asks Docker again instead of answering what it said last. */
  runtimes: (fresh?: boolean) => Promise<string[]>;
  /** oom_score_adj of pause containers (already restricted to what the host allows). */
  sandboxOomScoreAdj: number;
  hostCapsComplete: boolean;
  heldCapabilities: readonly string[];
  /** Removes one of the sandbox's containers with what belongs to it (its log file). */
  removeContainer: (c: ContainerInspect) => Promise<void>;
  /** The pod resources kubelet last reported with UpdatePodSandboxResources, for the verbose status. */
  recordedResources?: (sandboxId: string) => SandboxResources | undefined;
}

/** RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox, StreamPodSandboxes. */
export class SandboxService {
  /** Mutations of one sandbox run one at a time; different sandboxes run in parallel. */
  private readonly locks = new KeyedMutex();

  constructor(
    private readonly docker: DockerClient,
    private readonly index: ContainerIndex,
    private readonly network: PodNetwork,
    private readonly checkpoints: SandboxCheckpoints,
    private readonly opts: SandboxServiceOptions,
    private readonly imageLabels: ImageLabels,
    private readonly log: Logger,
  ) {}

  async RunPodSandbox(request: runtime.v1.RunPodSandboxRequest): Promise<runtime.v1.IRunPodSandboxResponse> {
    const config = request.config;
    validateSandboxConfig(config);
    const dockerRuntime = await this.dockerRuntime(request.runtimeHandler ?? '');
    const sc = config.linux?.securityContext;
    const seccomp = seccompChoice(sc?.seccomp, sc?.seccompProfilePath);
    const seccompProfileJson = seccomp.kind === 'localhost' ? await readSeccompProfile(seccomp.ref) : undefined;
    const body = sandboxCreateBody(config, {
      image: this.opts.podInfraContainerImage,
      networkMode: this.network.kind,
      cgroupDriver: this.opts.cgroupDriver,
      oomScoreAdj: this.opts.sandboxOomScoreAdj,
      hostCapsComplete: this.opts.hostCapsComplete,
      heldCapabilities: this.opts.heldCapabilities,
      dockerRuntime,
      seccompProfileJson,
    });
    const pod = podIdentity(config);
    const name = body.name as string;
    let bandwidth: BandwidthCap | undefined;
    if (this.network.kind === 'cni' && !isHostNetwork(config)) {
      // checked before anything is created; like dockershim, only where CNI plugins would get it
      const wanted = podBandwidth(config.annotations);
      if (typeof wanted === 'string') throw invalidArgument(`RunPodSandbox ${pod.namespace}/${pod.name}: ${wanted}`);
      bandwidth = wanted;
      const ready = await this.network.readiness();
      if (!ready.ok) throw new CriError(Code.UNAVAILABLE, `RunPodSandbox ${pod.namespace}/${pod.name}: network plugin is not ready: ${ready.message}`);
    }
    return this.locks.run(name, async () => {
      const created = await this.create(body);
      if (created.existing) return { podSandboxId: created.sandboxId };
      const sandboxId = created.sandboxId;
      const log = this.log.child({ podSandboxId: sandboxId, pod: `${pod.namespace}/${pod.name}` });
      return this.locks.run(sandboxId, async () => {
        const hostNetwork = isHostNetwork(config);
        const ports = portSpecs(config.portMappings);
        try {
          // the checkpoint's fsync and the start are independent: overlap them
          await Promise.all([
            this.checkpoints.write(sandboxId, {
              name: pod.name,
              namespace: pod.namespace,
              portMappings: ports.map((p) => ({ protocol: p.protocol, containerPort: p.containerPort, hostPort: p.hostPort, hostIp: p.hostIp })),
              hostNetwork,
            }),
            this.docker.startContainer(sandboxId),
          ]);
          const inspect = await this.docker.inspectContainer(sandboxId);
          if (!inspect?.State?.Running) throw new CriError(Code.INTERNAL, `sandbox ${sandboxId} exited right after it started (${inspect?.State?.Error || `exit code ${inspect?.State?.ExitCode}`})`);
          const resolv = resolvConf(config.dnsConfig);
          if (resolv && inspect.ResolvConfPath) await writeFile(inspect.ResolvConfPath, resolv);
          if (!hostNetwork && this.network.kind === 'cni') {
            await this.network.setUp({
              sandboxId,
              podName: pod.name,
              podNamespace: pod.namespace,
              podUid: pod.uid,
              pid: inspect.State.Pid,
              portMappings: ports.filter((p) => p.hostPort > 0).map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol, hostIP: p.hostIp })),
              dns: config.dnsConfig ? { servers: config.dnsConfig.servers ?? [], searches: config.dnsConfig.searches ?? [], options: config.dnsConfig.options ?? [] } : undefined,
              bandwidth,
            });
          }
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'sandbox failed to start; removing what was created');
          await this.discard(sandboxId, hostNetwork).catch((e: Error) => log.error({ err: e.message }, 'cleanup of a failed sandbox failed'));
          throw err;
        }
        await this.index.refresh(sandboxId);
        log.info('sandbox ready');
        return { podSandboxId: sandboxId };
      });
    });
  }

  /** Maps a RuntimeClass handler to a Docker runtime; unknown handlers are rejected. */
  private async dockerRuntime(handler: string): Promise<string | undefined> {
    if (handler === '' || handler === 'docker') return undefined;
    let runtimes = await this.opts.runtimes();
    // a runtime added to daemon.json since is known once Docker has reloaded it
    if (!runtimes.includes(handler)) runtimes = await this.opts.runtimes(true);
    if (!runtimes.includes(handler)) throw invalidArgument(`RunPodSandbox: no Docker runtime is configured for runtime handler "${handler.slice(0, 100)}" (known: ${runtimes.join(', ')})`);
    return handler === this.opts.defaultRuntime ? undefined : handler;
  }

  private async ensurePauseImage(): Promise<void> {
    const image = this.opts.podInfraContainerImage;
    if (await this.docker.inspectImage(image)) return;
    const target = pullTarget(parseReference(image));
    this.log.info({ image }, 'pulling the sandbox image');
    try {
      await this.docker.pullImage(target.name, target.tagOrDigest, { progressDeadlineMs: this.opts.imagePullProgressDeadlineMs });
    } catch (err) {
      const e = err as CriError;
      throw new CriError(e.code ?? Code.INTERNAL, `sandbox image ${image} is not present and cannot be pulled (--pod-infra-container-image): ${e.message}`, err);
    }
  }

  /**
   * Creates the pause container. A name already taken means an earlier attempt of the same
   * sandbox: a running one is the answer to this retry; anything else is removed and replaced.
   */
  private async create(body: Parameters<DockerClient['createContainer']>[0]): Promise<{ sandboxId: string; existing: boolean }> {
    try {
      return { sandboxId: await this.docker.createContainer(body), existing: false };
    } catch (err) {
      // the pause image is looked for only when Docker misses it, not before every sandbox
      if (err instanceof CriError && err.code === Code.NOT_FOUND && /no such image/i.test(err.message)) {
        await this.ensurePauseImage();
        return this.create(body);
      }
      if (!(err instanceof NameConflict)) throw err;
      const holder = await this.docker.inspectContainer(err.holderId ?? (body.name as string));
      if (holder?.State?.Running && holder.Config?.Labels?.[LABEL_TYPE] === TYPE_SANDBOX) {
        this.log.info({ podSandboxId: holder.Id }, 'sandbox already running: RunPodSandbox retried');
        return { sandboxId: holder.Id, existing: true };
      }
      if (holder) {
        this.log.info({ dockerId: holder.Id }, 'removing a stale container holding the sandbox name');
        await this.discard(holder.Id, false);
        try {
          return { sandboxId: await this.docker.createContainer(body), existing: false };
        } catch (again) {
          if (!(again instanceof NameConflict)) throw again;
        }
      }
      return { sandboxId: await this.docker.createContainer({ ...body, name: randomizedName(body.name as string) }), existing: false };
    }
  }

  /** Removes a sandbox that never became ready: network, container, checkpoint. */
  private async discard(sandboxId: string, hostNetwork: boolean): Promise<void> {
    if (!hostNetwork) await this.network.tearDown(sandboxId).catch(() => undefined);
    await this.docker.removeContainer(sandboxId, true);
    await this.checkpoints.remove(sandboxId);
    this.network.forget(sandboxId);
    this.index.forget(sandboxId);
  }

  private containersOf(sandboxId: string): ContainerInspect[] {
    const out: ContainerInspect[] = [];
    for (const c of this.index.values()) {
      const labels = c.Config?.Labels ?? {};
      if (labels[LABEL_TYPE] === TYPE_CONTAINER && labels[LABEL_SANDBOX_ID] === sandboxId) out.push(c);
    }
    return out;
  }

  async StopPodSandbox(request: runtime.v1.StopPodSandboxRequest): Promise<runtime.v1.IStopPodSandboxResponse> {
    const sandbox = await this.index.find(request.podSandboxId, TYPE_SANDBOX, 'StopPodSandbox');
    if (!sandbox) {
      await this.tearDownOrphan(request.podSandboxId ?? '');
      return {};
    }
    const sandboxId = sandbox.Id;
    await this.locks.run(sandboxId, async () => {
      await mapLimit(this.containersOf(sandboxId), 8, (c) => this.docker.stopContainer(c.Id, SANDBOX_STOP_GRACE_SEC));
      if (!usesHostNetwork(sandbox)) {
        // the index follows Docker's events, so its pid is the live pause process's
        const current = this.index.get(sandboxId) ?? sandbox;
        await this.network.tearDown(sandboxId, current.State?.Running ? current.State.Pid : undefined, await this.podHint(sandboxId, sandbox));
      }
      await this.docker.stopContainer(sandboxId, SANDBOX_STOP_GRACE_SEC);
      await Promise.all([sandboxId, ...this.containersOf(sandboxId).map((c) => c.Id)].map((id) => this.index.refresh(id)));
    });
    return {};
  }

  async RemovePodSandbox(request: runtime.v1.RemovePodSandboxRequest): Promise<runtime.v1.IRemovePodSandboxResponse> {
    const sandbox = await this.index.find(request.podSandboxId, TYPE_SANDBOX, 'RemovePodSandbox');
    if (!sandbox) {
      await this.tearDownOrphan(request.podSandboxId ?? '');
      return {};
    }
    const sandboxId = sandbox.Id;
    await this.locks.run(sandboxId, async () => {
      const containers = this.containersOf(sandboxId);
      await mapLimit(containers, 8, (c) => this.opts.removeContainer(c));
      if (!usesHostNetwork(sandbox)) {
        const current = this.index.get(sandboxId) ?? sandbox;
        await this.network.tearDown(sandboxId, current.State?.Running ? current.State.Pid : undefined, await this.podHint(sandboxId, sandbox));
      }
      await this.docker.removeContainer(sandboxId, true);
      await this.checkpoints.remove(sandboxId);
      this.network.forget(sandboxId);
      this.index.forget(sandboxId);
    });
    return {};
  }

  /** The pod a sandbox belongs to, for a teardown that finds no cached CNI setup. */
  private async podHint(sandboxId: string, sandbox: ContainerInspect): Promise<PodIdentityHint> {
    const meta = sandboxMetadata(sandbox);
    const cp = await this.checkpoints.read(sandboxId).catch(() => undefined);
    return { podName: meta.name ?? '', podNamespace: meta.namespace ?? '', podUid: meta.uid ?? '', portMappings: cp ? checkpointPorts(cp) : [] };
  }

  /** A sandbox Docker no longer has may still hold a pod network: release it from the checkpoint. */
  private async tearDownOrphan(sandboxId: string): Promise<void> {
    if (!/^[0-9a-f]{64}$/.test(sandboxId)) return;
    const cp = await this.checkpoints.read(sandboxId).catch(() => undefined);
    if (!cp) return;
    if (!cp.hostNetwork) await this.network.tearDown(sandboxId, undefined, { podName: cp.name, podNamespace: cp.namespace, podUid: '', portMappings: checkpointPorts(cp) });
    await this.checkpoints.remove(sandboxId);
    this.network.forget(sandboxId);
  }

  async PodSandboxStatus(request: runtime.v1.PodSandboxStatusRequest): Promise<runtime.v1.IPodSandboxStatusResponse> {
    const sandbox = await this.index.mustFind(request.podSandboxId, TYPE_SANDBOX, 'PodSandboxStatus');
    const { labels, annotations } = toPodSandbox(sandbox, this.opts.defaultRuntime, await this.imageLabels.get(sandbox.Image));
    const nsOptions = namespaceOptions(sandbox);
    const hostNetwork = nsOptions.network === 2;
    const ips = hostNetwork || !sandbox.State?.Running ? [] : await this.network.ips(sandbox.Id, sandbox);
    const status: runtime.v1.IPodSandboxStatus = {
      id: sandbox.Id,
      metadata: sandboxMetadata(sandbox),
      state: sandboxState(sandbox),
      createdAt: createdAtNs(sandbox),
      linux: { namespaces: { options: nsOptions } },
      labels,
      annotations,
      runtimeHandler: runtimeHandler(sandbox, this.opts.defaultRuntime),
    };
    const net = networkStatus(ips);
    if (net) status.network = net;
    const response: runtime.v1.IPodSandboxStatusResponse = { status };
    if (request.verbose) {
      response.info = {
        info: JSON.stringify({
          pid: sandbox.State?.Pid ?? 0,
          image: sandbox.Config?.Image,
          networkMode: (sandbox.HostConfig as { NetworkMode?: string }).NetworkMode,
          networkPlugin: this.network.kind,
          cgroupParent: (sandbox.HostConfig as { CgroupParent?: string }).CgroupParent ?? '',
          resolvConfPath: sandbox.ResolvConfPath,
          checkpoint: await this.checkpoints.read(sandbox.Id).catch(() => null),
          // kubelet resizes the pod's cgroups itself; these are the figures it last told us
          resources: this.opts.recordedResources?.(sandbox.Id) ?? null,
        }),
      };
    }
    return response;
  }

  private async listSandboxes(filter: runtime.v1.IPodSandboxFilter | null | undefined): Promise<runtime.v1.IPodSandbox[]> {
    await this.index.ready();
    const sandboxes = [...this.index.values()].filter((c) => c.Config?.Labels?.[LABEL_TYPE] === TYPE_SANDBOX && (!filter?.id || c.Id.startsWith(filter.id)));
    const labelsByImage = new Map<string, Record<string, string>>();
    for (const image of new Set(sandboxes.map((c) => c.Image))) labelsByImage.set(image, await this.imageLabels.get(image));
    const items: runtime.v1.IPodSandbox[] = [];
    for (const c of sandboxes) {
      const item = toPodSandbox(c, this.opts.defaultRuntime, labelsByImage.get(c.Image) ?? {});
      if (matchesFilter(item, filter)) items.push(item);
    }
    return items;
  }

  async ListPodSandbox(request: runtime.v1.ListPodSandboxRequest): Promise<runtime.v1.IListPodSandboxResponse> {
    return { items: await this.listSandboxes(request.filter) };
  }

  async StreamPodSandboxes(request: runtime.v1.StreamPodSandboxesRequest, sink: StreamSink<runtime.v1.IStreamPodSandboxesResponse>): Promise<void> {
    for (const batch of batches(await this.listSandboxes(request.filter))) sink.write({ podSandboxes: batch });
  }
}

const checkpointPorts = (cp: SandboxCheckpoint): PortMappingCap[] =>
  cp.portMappings.filter((p) => p.hostPort > 0).map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol, hostIP: p.hostIp }));

const usesHostNetwork = (inspect: ContainerInspect): boolean => (inspect.HostConfig as { NetworkMode?: string } | undefined)?.NetworkMode === 'host';
