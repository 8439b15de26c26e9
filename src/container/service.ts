import { unlink } from 'node:fs/promises';
import { Code, CriError, invalidArgument, notFound } from '../errors.js';
import type { runtime } from '../gen/api.js';
import type { StreamSink } from '../gen/services.js';
import { NameConflict, type ContainerInspect, type DockerClient } from '../docker/client.js';
import type { ContainerIndex, IndexChange } from '../docker/container-index.js';
import { cdiEnabled, recursiveReadOnlyGap } from '../docker/engine-features.js';
import type { EngineCache } from '../docker/engine-cache.js';
import type { ImageInspectCache } from '../docker/image-cache.js';
import type { ImageLabels } from '../docker/image-labels.js';
import { LABEL_LOG_PATH, LABEL_SANDBOX_ID, LABEL_TYPE, TYPE_CONTAINER, TYPE_SANDBOX, parseName, randomizedName } from '../docker/naming.js';
import type { Logger } from '../log.js';
import type { ContainerLogs } from '../logs/container-logs.js';
import type { FollowedContainer } from '../logs/copier.js';
import { readSeccompProfile } from '../security/profile.js';
import { seccompChoice } from '../security/translate.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { batches } from '../util/pool.js';
import { readKernelFile } from '../util/kernel-file.js';
import { parseLogSize } from '../util/size.js';
import { int64 } from '../util/time.js';
import { execSync } from './exec-sync.js';
import { identityFromProcStatus, matchesContainerFilter, toContainer, toContainerStatus, type ProcessIdentity } from './status.js';
import { containerCreateBody, resourceOptions, validateContainerConfig, type SandboxFacts } from './translate.js';

const NamespaceMode = { TARGET: 3 } as const;
/** How long ContainerStatus of an exited container waits for its last log lines to be copied. */
const LOG_SETTLE_MS = 2000;

export interface ContainerServiceOptions {
  cgroupDriver: 'systemd' | 'cgroupfs';
  /** Docker's version and info, for the API version and the runtimes' features. */
  engine: Pick<EngineCache, 'get' | 'facts'>;
  oomScoreAdjFloor?: number;
  hostCapsComplete: boolean;
  heldCapabilities: readonly string[];
  /** json-file options of Docker's log (max-size, max-file), the buffer the CRI log is copied from. */
  dockerLogOptions?: Record<string, string>;
}

/** CreateContainer, Start, Stop, Remove, List, Stream, Status, UpdateContainerResources, ReopenContainerLog, ExecSync. */
export class ContainerService {
  private readonly locks = new KeyedMutex();
  /**
   * The identity each running container's first process started with (ContainerStatus.user), read
   * from /proc once per start: at StartContainer, or at the first ContainerStatus after a start
   * dockercri did not make. A process may change its own identity later; the CRI asks for the first.
   */
  private readonly identities = new Map<string, { pid: number; startedAt: string; identity: ProcessIdentity }>();

  constructor(
    private readonly docker: DockerClient,
    private readonly index: ContainerIndex,
    private readonly images: ImageLabels,
    private readonly imageInspects: ImageInspectCache,
    private readonly logs: ContainerLogs,
    private readonly opts: ContainerServiceOptions,
    private readonly log: Logger,
  ) {
    index.onChange((change) => this.onIndexChange(change));
  }

  /** Resumes copying the logs of every container after a restart of dockercri (and after each resync with Docker). */
  resumeLogs(): void {
    for (const c of this.index.values()) {
      const followed = this.followed(c);
      if (!followed || c.State?.Status === 'created') continue;
      this.logs.follow(followed);
      if (!c.State?.Running) this.logs.exited(c.Id);
    }
    void this.logs.collectGarbage((dockerId) => this.index.get(dockerId) !== undefined).catch((err: Error) => this.log.warn({ err: err.message }, 'cannot clean up the log positions of removed containers'));
  }

  /** Docker's events: a container that has exited has the rest of its log copied, and its copier ends. */
  private onIndexChange(change: IndexChange): void {
    if (change.kind !== 'upsert') {
      this.identities.delete(change.dockerId);
      return;
    }
    const c = change.inspect;
    if (!c.State?.Running) this.identities.delete(c.Id);
    if (!c.State?.Running && c.State?.Status !== 'created') this.logs.exited(c.Id);
  }

  /** The uid, gid and groups the first process of a running container started with; undefined when it does not run. */
  private firstProcessIdentity(c: ContainerInspect): ProcessIdentity | undefined {
    const pid = c.State?.Running ? c.State.Pid ?? 0 : 0;
    if (pid <= 0) return undefined;
    const startedAt = c.State?.StartedAt ?? '';
    const known = this.identities.get(c.Id);
    if (known && known.pid === pid && known.startedAt === startedAt) return known.identity;
    const procStatus = readKernelFile(`/proc/${pid}/status`);
    const identity = procStatus === undefined ? undefined : identityFromProcStatus(procStatus);
    if (identity) this.identities.set(c.Id, { pid, startedAt, identity });
    return identity;
  }

  /** What the log copier needs of a container; undefined when kubelet asked for no log file. */
  private followed(c: ContainerInspect): FollowedContainer | undefined {
    const logPath = c.Config?.Labels?.[LABEL_LOG_PATH];
    if (c.Config?.Labels?.[LABEL_TYPE] !== TYPE_CONTAINER || !logPath) return undefined;
    const logConfig = (c.HostConfig as { LogConfig?: { Type?: string; Config?: Record<string, string> } } | undefined)?.LogConfig;
    return {
      dockerId: c.Id,
      logPath,
      tty: c.Config?.Tty ?? false,
      dockerLogPath: c.LogPath || undefined,
      logDriver: logConfig?.Type,
      maxSizeBytes: parseLogSize(logConfig?.Config?.['max-size']),
    };
  }

  async CreateContainer(request: runtime.v1.CreateContainerRequest): Promise<runtime.v1.ICreateContainerResponse> {
    // an id, then the config, then whether the sandbox exists: the cheapest refusal first
    if (!request.podSandboxId) throw invalidArgument('CreateContainer: pod_sandbox_id is required');
    const logDirectory = request.sandboxConfig?.logDirectory ?? '';
    validateContainerConfig(request.config, logDirectory);
    const config = request.config;
    const sandbox = await this.index.mustFind(request.podSandboxId, TYPE_SANDBOX, 'CreateContainer');
    const imageRef = config.image?.image ?? '';
    if (imageRef === '') throw invalidArgument('CreateContainer: config.image.image is required');
    const image = await this.imageInspects.inspect(imageRef);
    if (!image) throw notFound(`CreateContainer: image ${imageRef.slice(0, 200)} is not present on this node; pull it first`);
    const sc = config.linux?.securityContext;
    const seccomp = seccompChoice(sc?.seccomp, sc?.seccompProfilePath);
    const seccompProfileJson = seccomp.kind === 'localhost' ? await readSeccompProfile(seccomp.ref) : undefined;
    let targetDockerId: string | undefined;
    if (sc?.namespaceOptions?.pid === NamespaceMode.TARGET) {
      const target = this.index.resolve(sc.namespaceOptions.targetId ?? '', TYPE_CONTAINER);
      if (!target) throw notFound(`CreateContainer: PID namespace target container ${sc.namespaceOptions.targetId ?? ''} does not exist`);
      targetDockerId = target.Id;
    }
    const name = parseName(sandbox.Name);
    const hc = sandbox.HostConfig as { NetworkMode?: string; IpcMode?: string; Runtime?: string };
    const facts: SandboxFacts = {
      sandboxId: sandbox.Id,
      pod: { name: name?.name ?? '', namespace: name?.namespace ?? '', uid: name?.uid ?? '' },
      logDirectory,
      cgroupParent: request.sandboxConfig?.linux?.cgroupParent ?? '',
      hostNetwork: hc.NetworkMode === 'host',
      hostIpc: hc.IpcMode === 'host',
      runtime: hc.Runtime || undefined,
    };
    // the Engine is asked about its runtimes only when the config needs one of their features
    const needsRro = (config.mounts ?? []).some((m) => m.recursiveReadOnly);
    const needsCdi = (config.CDIDevices ?? []).length > 0;
    const engine = needsRro || needsCdi ? await this.opts.engine.facts() : undefined;
    const body = containerCreateBody(config, facts, {
      image: { id: image.Id, entrypoint: image.Config?.Entrypoint as string[] | null | undefined, cmd: image.Config?.Cmd, user: image.Config?.User },
      apiVersion: (await this.opts.engine.get()).version.apiVersion,
      cgroupDriver: this.opts.cgroupDriver,
      oomScoreAdjFloor: this.opts.oomScoreAdjFloor,
      hostCapsComplete: this.opts.hostCapsComplete,
      heldCapabilities: this.opts.heldCapabilities,
      seccompProfileJson,
      recursiveReadOnlyGap: engine && needsRro ? recursiveReadOnlyGap(engine, facts.runtime ?? engine.defaultRuntime) : undefined,
      cdiSupported: engine !== undefined && cdiEnabled(engine),
      targetDockerId,
      dockerLogOptions: this.opts.dockerLogOptions,
    });
    // kubelet names the image as it pulled it; Docker records it as given, so status shows that name
    body.Image = imageRef;
    const dockerName = body.name as string;
    return this.locks.run(dockerName, async () => ({ containerId: await this.index.change(dockerName, () => this.create(body, sandbox.Id), (id) => id) }));
  }

  /** A taken name is an earlier attempt of this same create: its container is the answer. */
  private async create(body: Parameters<DockerClient['createContainer']>[0], sandboxId: string): Promise<string> {
    try {
      return await this.docker.createContainer(body);
    } catch (err) {
      if (!(err instanceof NameConflict)) throw err;
      const holder = await this.docker.inspectContainer(err.holderId ?? (body.name as string));
      if (holder && holder.Config?.Labels?.[LABEL_SANDBOX_ID] === sandboxId && holder.State?.Status === 'created') {
        this.log.info({ containerId: holder.Id }, 'container already created: CreateContainer retried');
        return holder.Id;
      }
      return this.docker.createContainer({ ...body, name: randomizedName(body.name as string) });
    }
  }

  async StartContainer(request: runtime.v1.StartContainerRequest): Promise<runtime.v1.IStartContainerResponse> {
    const c = await this.index.mustFind(request.containerId, TYPE_CONTAINER, 'StartContainer');
    await this.locks.run(c.Id, async () => {
      const logPath = c.Config?.Labels?.[LABEL_LOG_PATH];
      if (logPath) {
        await this.logs.prepare(logPath).catch((err: Error) => {
          throw new CriError(Code.FAILED_PRECONDITION, `StartContainer: cannot create the log file ${logPath}: ${err.message}`, err);
        });
      }
      await this.index.change(c.Id, () => this.docker.startContainer(c.Id));
      const started = this.index.get(c.Id) ?? c;
      this.firstProcessIdentity(started);
      // Docker names its log file once the container has started
      const followed = this.followed(started);
      if (followed) this.logs.follow(followed);
    });
    return {};
  }

  async StopContainer(request: runtime.v1.StopContainerRequest): Promise<runtime.v1.IStopContainerResponse> {
    const timeout = int64(request.timeout);
    if (timeout < 0) throw invalidArgument('StopContainer: timeout must not be negative');
    const c = await this.index.find(request.containerId, TYPE_CONTAINER, 'StopContainer');
    // what is not there is stopped: kubelet retries a stop after a removal it did not see
    if (!c) return {};
    await this.locks.run(c.Id, () => this.index.change(c.Id, () => this.docker.stopContainer(c.Id, timeout)));
    return {};
  }

  async RemoveContainer(request: runtime.v1.RemoveContainerRequest): Promise<runtime.v1.IRemoveContainerResponse> {
    const c = await this.index.find(request.containerId, TYPE_CONTAINER, 'RemoveContainer');
    if (c) await this.remove(c);
    return {};
  }

  /** Removes a container with its log follower and CRI log file (also used by RemovePodSandbox). */
  remove(c: ContainerInspect): Promise<void> {
    return this.locks.run(c.Id, async () => {
      await this.docker.removeContainer(c.Id, true);
      await this.logs.stop(c.Id);
      const logPath = c.Config?.Labels?.[LABEL_LOG_PATH];
      if (logPath) await unlink(logPath).catch(() => undefined);
      await this.logs.forget(c.Id).catch((err: Error) => this.log.warn({ containerId: c.Id, err: err.message }, 'cannot remove the log position'));
      this.index.forget(c.Id);
    });
  }

  private async listContainers(filter: runtime.v1.IContainerFilter | null | undefined): Promise<runtime.v1.IContainer[]> {
    await this.index.ready();
    const found = [...this.index.values()].filter((c) => c.Config?.Labels?.[LABEL_TYPE] === TYPE_CONTAINER && (!filter?.id || c.Id.startsWith(filter.id)));
    const factsByImage = new Map<string, Awaited<ReturnType<ImageLabels['facts']>>>();
    for (const image of new Set(found.map((c) => c.Image))) factsByImage.set(image, await this.images.facts(image));
    const out: runtime.v1.IContainer[] = [];
    for (const c of found) {
      const item = toContainer(c, factsByImage.get(c.Image) ?? { labels: {}, repoDigests: [] });
      if (matchesContainerFilter(item, filter)) out.push(item);
    }
    return out;
  }

  async ListContainers(request: runtime.v1.ListContainersRequest): Promise<runtime.v1.IListContainersResponse> {
    return { containers: await this.listContainers(request.filter) };
  }

  async StreamContainers(request: runtime.v1.StreamContainersRequest, sink: StreamSink<runtime.v1.IStreamContainersResponse>): Promise<void> {
    for (const batch of batches(await this.listContainers(request.filter))) sink.write({ containers: batch });
  }

  async ContainerStatus(request: runtime.v1.ContainerStatusRequest): Promise<runtime.v1.IContainerStatusResponse> {
    const c = await this.index.mustFind(request.containerId, TYPE_CONTAINER, 'ContainerStatus');
    if (c.State?.Status === 'exited') await this.logs.settled(c.Id, LOG_SETTLE_MS);
    const pid = c.State?.Running ? c.State.Pid : 0;
    const status = toContainerStatus(c, await this.images.facts(c.Image), this.firstProcessIdentity(c));
    const response: runtime.v1.IContainerStatusResponse = { status };
    if (request.verbose) {
      response.info = {
        info: JSON.stringify({
          pid,
          sandboxId: c.Config?.Labels?.[LABEL_SANDBOX_ID],
          dockerName: c.Name,
          config: { entrypoint: c.Config?.Entrypoint, cmd: c.Config?.Cmd, env: c.Config?.Env, workingDir: c.Config?.WorkingDir, user: c.Config?.User, tty: c.Config?.Tty },
          hostConfig: c.HostConfig,
          dockerLogPath: c.LogPath,
          logCopy: this.logs.status(c.Id),
        }),
      };
    }
    return response;
  }

  async UpdateContainerResources(request: runtime.v1.UpdateContainerResourcesRequest): Promise<runtime.v1.IUpdateContainerResourcesResponse> {
    const c = await this.index.mustFind(request.containerId, TYPE_CONTAINER, 'UpdateContainerResources');
    if (!request.linux) return {};
    // the oom score of a running process cannot be changed through Docker's update API
    const { OomScoreAdj: _oom, ...resources } = resourceOptions(request.linux, this.opts.oomScoreAdjFloor);
    await this.locks.run(c.Id, async () => {
      await this.docker.updateContainer(c.Id, resources);
      await this.index.refresh(c.Id);
    });
    return {};
  }

  async ReopenContainerLog(request: runtime.v1.ReopenContainerLogRequest): Promise<runtime.v1.IReopenContainerLogResponse> {
    const c = await this.index.mustFind(request.containerId, TYPE_CONTAINER, 'ReopenContainerLog');
    if (!c.State?.Running) throw new CriError(Code.FAILED_PRECONDITION, `ReopenContainerLog: container ${c.Id} is not running`);
    await this.logs.reopen(c.Id);
    return {};
  }

  async ExecSync(request: runtime.v1.ExecSyncRequest): Promise<runtime.v1.IExecSyncResponse> {
    const c = await this.index.mustFind(request.containerId, TYPE_CONTAINER, 'ExecSync');
    const cmd = request.cmd ?? [];
    if (cmd.length === 0) throw invalidArgument('ExecSync: cmd is required');
    const timeoutSec = int64(request.timeout);
    if (timeoutSec < 0) throw invalidArgument('ExecSync: timeout must not be negative');
    if (c.State?.Status !== 'running') throw new CriError(Code.FAILED_PRECONDITION, `ExecSync: container ${c.Id} is not running (${c.State?.Status ?? 'unknown'})`);
    const result = await execSync(this.docker, c.Id, cmd, timeoutSec * 1000);
    return { stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode };
  }
}
