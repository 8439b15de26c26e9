import Docker from 'dockerode';
import type { Duplex, Readable } from 'node:stream';
import { Readable as ReadableStream } from 'node:stream';
import { Code, CriError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EngineFacts } from './engine-features.js';
import { dockerOperation, record } from '../metrics/index.js';
import { engineMessage, fromDocker, isUnreachable, statusOf } from './errors.js';
import { PullWatch } from './pull-watch.js';

export type ImageInspect = Docker.ImageInspectInfo;
export type ContainerInspect = Docker.ContainerInspectInfo;
export type ContainerCreateBody = Docker.ContainerCreateOptions;

/** One message of Docker's event stream (only the fields the shim reads). */
export interface DockerEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
  timeNano?: number;
}

/** Which of Docker's events a stream carries. */
export interface EventFilter {
  type: 'container' | 'image';
  label?: string;
}

export interface EventSubscription {
  close(): void;
}

/** Raised by createContainer when the name is taken; carries the holder's ID when Docker names it. */
export class NameConflict extends Error {
  constructor(message: string, readonly holderId: string | undefined) {
    super(message);
  }
}
export type ImageSummary = Docker.ImageInfo;

export interface EngineVersion {
  version: string;
  apiVersion: string;
}

export interface EngineInfo {
  cgroupDriver: 'systemd' | 'cgroupfs';
  cgroupVersion: string;
  dockerRootDir: string;
  storageDriver: string;
  runtimes: string[];
  defaultRuntime: string;
  /** Each runtime's status (API 1.44 and newer publish the OCI runtime's features there). */
  runtimeStatus: Record<string, Record<string, string>>;
  /** Where the Engine reads CDI specs; empty when CDI is off or the Engine predates it. */
  cdiSpecDirs: string[];
  kernelVersion: string;
  raw: Record<string, unknown>;
}

/** Registry credentials as Docker's X-Registry-Auth header carries them. */
export interface RegistryAuth {
  username?: string;
  password?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

export interface PullProgress {
  status: string;
  id?: string;
  current?: number;
  total?: number;
}

export interface PullOptions {
  auth?: RegistryAuth;
  /** Cancel when no progress message arrives for this long. */
  progressDeadlineMs: number;
  onProgress?: (p: PullProgress) => void;
  signal?: AbortSignal;
}

/** The facts of engine-features.ts from the Engine's version and info answers. */
export const engineFacts = (apiVersion: string, info: EngineInfo): EngineFacts => ({
  apiVersion,
  runtimes: info.runtimeStatus,
  defaultRuntime: info.defaultRuntime,
  cdiSpecDirs: info.cdiSpecDirs,
  kernelRelease: info.kernelVersion,
});

function endpointOptions(endpoint: string): Docker.DockerOptions {
  if (endpoint.startsWith('unix://')) return { socketPath: endpoint.slice('unix://'.length) };
  const url = new URL(endpoint.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port), protocol: 'http' };
}

/**
 * The only door to the Docker Engine. Each method is one typed API call with a timeout whose
 * failures come out as CriErrors naming the object; nothing above this folder sees dockerode.
 */
export class DockerClient {
  /** Calls bounded by --runtime-request-timeout. */
  private readonly api: Docker;
  /** Long-running calls (pull, logs, attach) that must not time out as a whole. */
  private readonly streams: Docker;
  readonly endpoint: string;

  constructor(endpoint: string, requestTimeoutMs: number, private readonly log: Logger) {
    this.endpoint = endpoint;
    this.api = new Docker({ ...endpointOptions(endpoint), timeout: requestTimeoutMs });
    this.streams = new Docker(endpointOptions(endpoint));
  }

  async ping(): Promise<void> {
    try {
      await this.api.ping();
    } catch (err) {
      throw fromDocker(err, 'ping Docker Engine');
    }
  }

  async version(): Promise<EngineVersion> {
    try {
      const v = await this.api.version();
      return { version: v.Version, apiVersion: v.ApiVersion };
    } catch (err) {
      throw fromDocker(err, 'read Docker Engine version');
    }
  }

  async info(): Promise<EngineInfo> {
    try {
      const raw = (await this.api.info()) as Record<string, unknown>;
      const declared = (raw.Runtimes as Record<string, { status?: Record<string, string> } | null> | undefined) ?? {};
      const runtimes = Object.keys(declared);
      const runtimeStatus = Object.fromEntries(runtimes.map((name) => [name, { ...(declared[name]?.status ?? {}) }]));
      return {
        cgroupDriver: raw.CgroupDriver === 'systemd' ? 'systemd' : 'cgroupfs',
        cgroupVersion: String(raw.CgroupVersion ?? '1'),
        dockerRootDir: String(raw.DockerRootDir ?? '/var/lib/docker'),
        storageDriver: String(raw.Driver ?? ''),
        runtimes,
        defaultRuntime: String(raw.DefaultRuntime ?? 'runc'),
        runtimeStatus,
        cdiSpecDirs: Array.isArray(raw.CDISpecDirs) ? raw.CDISpecDirs.map(String) : [],
        kernelVersion: String(raw.KernelVersion ?? ''),
        raw,
      };
    } catch (err) {
      throw fromDocker(err, 'read Docker Engine info');
    }
  }

  async listImages(): Promise<ImageSummary[]> {
    try {
      return await this.api.listImages({ all: false, digests: true });
    } catch (err) {
      throw fromDocker(err, 'list images');
    }
  }

  /** Inspects an image by ID, short ID or reference; undefined when Docker has no such image. */
  async inspectImage(ref: string): Promise<ImageInspect | undefined> {
    try {
      return await this.api.getImage(ref).inspect();
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw fromDocker(err, `inspect image ${ref}`);
    }
  }

  /** Removes one reference (a tag, a digest reference or an ID); false when it was already gone. */
  async removeImage(ref: string): Promise<boolean> {
    try {
      await this.api.getImage(ref).remove({ noprune: false });
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw fromDocker(err, `remove image ${ref}`);
    }
  }

  /** Creates a container; a taken name raises NameConflict so the caller can recover. */
  async createContainer(body: ContainerCreateBody): Promise<string> {
    try {
      const c = await this.api.createContainer(body);
      return c.id;
    } catch (err) {
      if (statusOf(err) === 409) {
        const holder = /already in use by container "?([0-9a-f]{64})/.exec(String((err as Error).message))?.[1];
        throw new NameConflict(String((err as Error).message), holder);
      }
      // an Engine older than the kernel does not know every capability the host holds (Docker
      // 20.10 lacks CAP_PERFMON, CAP_BPF, CAP_CHECKPOINT_RESTORE): grant the ones it knows
      const unknown = /unknown capability: "?(CAP_[A-Z_]+)/.exec(engineMessage(err))?.[1];
      const capAdd = body.HostConfig?.CapAdd;
      if (unknown && capAdd?.includes(unknown)) {
        this.log.warn({ capability: unknown }, 'the Docker Engine does not know this capability; it is left out');
        return this.createContainer({ ...body, HostConfig: { ...body.HostConfig, CapAdd: capAdd.filter((c: string) => c !== unknown) } });
      }
      throw fromDocker(err, `create container ${body.name ?? ''}`.trim());
    }
  }

  async startContainer(dockerId: string): Promise<void> {
    try {
      await this.api.getContainer(dockerId).start();
    } catch (err) {
      if (statusOf(err) === 304) return;
      throw fromDocker(err, `start container ${dockerId}`);
    }
  }

  /** Stops with SIGTERM (or the image's stop signal), then SIGKILL after `timeoutSec`; false when absent. */
  async stopContainer(dockerId: string, timeoutSec: number): Promise<boolean> {
    try {
      await this.streams.getContainer(dockerId).stop({ t: Math.max(0, Math.trunc(timeoutSec)) });
      return true;
    } catch (err) {
      if (statusOf(err) === 304) return true;
      if (statusOf(err) === 404) return false;
      throw fromDocker(err, `stop container ${dockerId}`);
    }
  }

  /** Removes a container and its anonymous volumes; false when it was already gone. */
  async removeContainer(dockerId: string, force = true): Promise<boolean> {
    try {
      await this.api.getContainer(dockerId).remove({ force, v: true });
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      // a removal already under way elsewhere finishes the job for us
      if (statusOf(err) === 409 && /already in progress/i.test(String((err as Error).message))) return true;
      throw fromDocker(err, `remove container ${dockerId}`);
    }
  }

  /** Inspects a container by ID or name; undefined when Docker has no such container. */
  async inspectContainer(dockerId: string): Promise<ContainerInspect | undefined> {
    try {
      return await this.api.getContainer(dockerId).inspect();
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw fromDocker(err, `inspect container ${dockerId}`);
    }
  }

  /** Changes a running container's cgroup limits (Docker's update API). */
  async updateContainer(dockerId: string, resources: Record<string, unknown>): Promise<void> {
    try {
      await this.api.getContainer(dockerId).update(resources);
    } catch (err) {
      throw fromDocker(err, `update resources of container ${dockerId}`);
    }
  }

  /**
   * Starts `cmd` in a running container and returns the exec's ID with its hijacked stream
   * (multiplexed stdout/stderr unless tty).
   */
  async exec(dockerId: string, opts: { cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): Promise<{ execId: string; stream: Duplex }> {
    try {
      const exec = await this.api.getContainer(dockerId).exec({ Cmd: opts.cmd, Tty: opts.tty, AttachStdin: opts.stdin, AttachStdout: opts.stdout, AttachStderr: opts.stderr });
      const stream = (await this.streams.getExec(exec.id).start({ hijack: true, stdin: opts.stdin, Tty: opts.tty })) as unknown as Duplex;
      return { execId: exec.id, stream };
    } catch (err) {
      throw fromDocker(err, `exec in container ${dockerId}`);
    }
  }

  /** The state of an exec: whether it still runs, its host PID and its exit code. */
  async inspectExec(execId: string): Promise<{ running: boolean; pid: number; exitCode: number | null }> {
    try {
      const info = await this.api.getExec(execId).inspect();
      return { running: info.Running, pid: info.Pid, exitCode: info.ExitCode };
    } catch (err) {
      throw fromDocker(err, `inspect exec ${execId}`);
    }
  }

  /** Sets the TTY size of a running exec. */
  async resizeExec(execId: string, size: { width: number; height: number }): Promise<void> {
    try {
      await this.api.getExec(execId).resize({ h: size.height, w: size.width });
    } catch (err) {
      throw fromDocker(err, `resize exec ${execId}`);
    }
  }

  /**
   * Attaches to a running container's stdio: a hijacked stream (multiplexed stdout/stderr unless
   * the container has a TTY); ending its write side closes the container's stdin.
   */
  async attach(dockerId: string, opts: { stdin: boolean; stdout: boolean; stderr: boolean }): Promise<Duplex> {
    try {
      return (await this.streams.getContainer(dockerId).attach({ stream: true, hijack: true, stdin: opts.stdin, stdout: opts.stdout, stderr: opts.stderr })) as unknown as Duplex;
    } catch (err) {
      throw fromDocker(err, `attach to container ${dockerId}`);
    }
  }

  /** Sets the TTY size of a running container. */
  async resizeContainer(dockerId: string, size: { width: number; height: number }): Promise<void> {
    try {
      await this.api.getContainer(dockerId).resize({ h: size.height, w: size.width });
    } catch (err) {
      throw fromDocker(err, `resize container ${dockerId}`);
    }
  }

  /**
   * Docker's log of a container with timestamps, from `sinceSec` ("<seconds>.<nanoseconds>", inclusive)
   * on: multiplexed frames, or the raw stream for a TTY container. With `follow` it stays open while
   * the container runs; it is never timed out.
   */
  async followLogs(dockerId: string, opts: { sinceSec?: string; follow: boolean }): Promise<Readable> {
    const options = { stdout: true, stderr: true, timestamps: true, ...(opts.sinceSec === undefined ? {} : { since: opts.sinceSec }) };
    try {
      const container = this.streams.getContainer(dockerId);
      if (opts.follow) return (await container.logs({ ...options, follow: true })) as unknown as Readable;
      // without follow dockerode answers with the whole body
      return ReadableStream.from([await container.logs({ ...options, follow: false })]);
    } catch (err) {
      throw fromDocker(err, `read the log of container ${dockerId}`);
    }
  }

  /** IDs of all containers (running or not) carrying `label`. */
  async listContainerIds(label: string): Promise<string[]> {
    try {
      const list = await this.api.listContainers({ all: true, filters: { label: [label] } });
      return list.map((c) => c.Id);
    } catch (err) {
      throw fromDocker(err, 'list containers');
    }
  }

  /**
   * Follows Docker's events of one type (those carrying `label`, when given). `onEvent` gets each
   * event; `onEnd` is called once when the stream breaks or ends (Docker restarted), after which
   * the caller subscribes again.
   */
  async subscribeEvents(filter: EventFilter, onEvent: (e: DockerEvent) => void, onEnd: (err?: Error) => void): Promise<EventSubscription> {
    let stream: Readable;
    try {
      stream = (await this.streams.getEvents({ filters: { type: [filter.type], ...(filter.label ? { label: [filter.label] } : {}) } })) as unknown as Readable;
    } catch (err) {
      throw fromDocker(err, 'follow Docker events');
    }
    let buffered = '';
    let ended = false;
    const end = (err?: Error): void => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line === '') continue;
        try {
          onEvent(JSON.parse(line) as DockerEvent);
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, 'unreadable Docker event skipped');
        }
      }
    });
    stream.on('error', (err) => end(err));
    stream.on('end', () => end());
    stream.on('close', () => end());
    return { close: () => stream.destroy() };
  }

  /** Pulls `name` at `tagOrDigest`; resolves when the Engine reports the pull complete. */
  async pullImage(name: string, tagOrDigest: string, opts: PullOptions): Promise<void> {
    const what = `pull image ${name}${tagOrDigest.startsWith('sha256:') ? '@' : ':'}${tagOrDigest}`;
    // One abort ends the request for both causes; the Engine hangs up on the registry when we do.
    const abort = new AbortController();
    let cancelled: CriError | undefined;
    const cancel = (err: CriError): void => {
      cancelled ??= err;
      abort.abort();
    };
    const onCallerAbort = (): void => cancel(new CriError(Code.CANCELLED, `${what}: cancelled by the caller`));
    const watch = new PullWatch(Date.now());
    // The deadline runs from the request on: the Engine sends no response headers until the registry answers.
    const timer = setInterval(() => {
      if (watch.stalled(Date.now(), opts.progressDeadlineMs)) {
        cancel(new CriError(Code.DEADLINE_EXCEEDED, `${what}: cancelled, no progress for ${opts.progressDeadlineMs / 1000}s (--image-pull-progress-deadline)`));
      }
    }, Math.min(1000, Math.max(50, opts.progressDeadlineMs / 4)));
    timer.unref();
    if (opts.signal?.aborted) onCallerAbort();
    else opts.signal?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      let stream: Readable;
      try {
        if (cancelled) throw cancelled;
        stream = (await this.streams.createImage(opts.auth as Docker.AuthConfig, { fromImage: name, tag: tagOrDigest, abortSignal: abort.signal })) as Readable;
      } catch (err) {
        throw cancelled ?? pullError(err, what);
      }
      await new Promise<void>((resolve, reject) => {
        let buffered = '';
        let failed: CriError | undefined;
        let settled = false;
        const finish = (err?: CriError): void => {
          if (settled) return;
          settled = true;
          abort.signal.removeEventListener('abort', onCancel);
          if (err) reject(err);
          else resolve();
        };
        const onCancel = (): void => {
          stream.destroy();
          finish(cancelled);
        };
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          watch.touch(Date.now());
          buffered += chunk;
          let nl: number;
          while ((nl = buffered.indexOf('\n')) !== -1) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line === '') continue;
            let msg: { status?: string; id?: string; error?: string; errorDetail?: { message?: string }; progressDetail?: { current?: number; total?: number } };
            try {
              msg = JSON.parse(line);
            } catch {
              continue;
            }
            if (msg.error || msg.errorDetail?.message) {
              failed ??= pullError({ message: msg.errorDetail?.message ?? msg.error }, what);
              continue;
            }
            watch.seen({ status: msg.status ?? '', id: msg.id }, Date.now());
            opts.onProgress?.({ status: msg.status ?? '', id: msg.id, current: msg.progressDetail?.current, total: msg.progressDetail?.total });
          }
        });
        stream.on('error', (err) => finish(cancelled ?? (isUnreachable(err) ? fromDocker(err, what) : new CriError(Code.UNAVAILABLE, `${what}: the Engine's pull stream broke: ${err.message}`, err))));
        stream.on('end', () => finish(failed));
        if (abort.signal.aborted) onCancel();
        else abort.signal.addEventListener('abort', onCancel, { once: true });
      });
    } finally {
      clearInterval(timer);
      opts.signal?.removeEventListener('abort', onCallerAbort);
    }
    this.log.debug({ image: `${name}:${tagOrDigest}` }, 'pull finished');
  }
}

/**
 * Times every method of `proto` as one Docker operation named after it, so no method has to
 * remember to (dockercri_docker_request_duration_seconds{operation="inspect_container"}).
 */
function timeEveryCall(proto: object): void {
  for (const name of Object.getOwnPropertyNames(proto)) {
    const descriptor = Object.getOwnPropertyDescriptor(proto, name);
    const call: unknown = descriptor?.value;
    if (!descriptor || name === 'constructor' || typeof call !== 'function') continue;
    const operation = dockerOperation(name);
    descriptor.value = function timed(this: unknown, ...args: unknown[]): unknown {
      if (!record.enabled) return call.apply(this, args);
      const started = process.hrtime.bigint();
      const result: unknown = call.apply(this, args);
      return result instanceof Promise ? record.dockerCall(operation, started, result) : result;
    };
    Object.defineProperty(proto, name, descriptor);
  }
}
timeEveryCall(DockerClient.prototype);

const AUTH_FAILURE = /unauthorized|authentication required|no basic auth credentials|incorrect username or password|denied|401 Unauthorized/i;

/** A failed pull, with authentication failures and unknown images told apart from the rest. */
function pullError(err: unknown, what: string): CriError {
  const mapped = fromDocker(err, what);
  if (mapped.code === Code.UNAVAILABLE || mapped.code === Code.DEADLINE_EXCEEDED) return mapped;
  const text = mapped.message;
  if (AUTH_FAILURE.test(text)) {
    return new CriError(Code.UNAUTHENTICATED, `${what}: authentication failed (${text.slice(what.length + 2)})`, err);
  }
  if (/manifest unknown|not found|does not exist/i.test(text)) {
    return new CriError(Code.NOT_FOUND, text, err);
  }
  if (/invalid reference format|invalid tag format|invalid digest/i.test(text)) {
    return new CriError(Code.INVALID_ARGUMENT, text, err);
  }
  return mapped;
}
