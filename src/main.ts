#!/usr/bin/env -S MALLOC_ARENA_MAX=1 MALLOC_MMAP_THRESHOLD_=32768 node --max-semi-space-size=4 --v8-pool-size=1 --heap-growing-percent=50
// Sized for a long-running daemon that answers small rpcs (see the README's Performance section):
// 4 MiB semi-spaces, not V8's default of up to 16 MiB, since little stays alive across a scavenge
// (about 10 MB less, and RSS no longer swings with load; 1 MiB promoted so much that RSS rose by
// 40 MB between full collections while pods cycled); one V8 worker thread, not one per core
// (each holds its own stack and heap caches); one glibc malloc arena, for the same reason; and
// blocks of 32 KiB or more mapped on their own rather than taken from malloc's heap: parsing and
// compiling the program at start-up takes about 8 MiB from malloc, much of it in V8's largest
// (32 KiB) zone segments, and once those were freed, a few small blocks still in use above them
// kept about 7 MiB of the heap resident for the life of the process. Last, the old generation may
// grow 1.5 times between full collections rather than by V8's own factor, which on a small heap
// can be several times: while pods cycled beside 110 held ones, RSS climbed from 77 to 115 MiB
// before the first full collection; with 1.5 times it peaked at 87-89 MiB, and no CPU cost showed
// beyond the runs' spread (few runs: see the README).
import { parseFlags, splitHostPort, type Config } from './config/flags.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxCheckpoints } from './checkpoint/index.js';
import { ContainerService } from './container/service.js';
import { ContainerIndex } from './docker/container-index.js';
import { EngineCache } from './docker/engine-cache.js';
import { ImageInspectCache } from './docker/image-cache.js';
import { ImageLabels } from './docker/image-labels.js';
import { ContainerLogs } from './logs/container-logs.js';
import { DockerClient } from './docker/client.js';
import { CniManager } from './network/cni.js';
import { BridgeNetwork, CniNetwork, type PodNetwork } from './network/pod-network.js';
import { SandboxService } from './sandbox/service.js';
import { EventsService } from './events/service.js';
import { checkpointContainer } from './container/checkpoint.js';
import { SandboxResourceRecords } from './sandbox/update-resources.js';
import { StatsService } from './stats/service.js';
import { StreamingServer } from './streaming/server.js';
import { StreamingService } from './streaming/service.js';
import { TokenRegistry } from './streaming/tokens.js';
import { runtime as criApi } from './gen/api.js';
import { readHostCapabilities } from './security/capabilities.js';
import { ImageService } from './image/service.js';
import { enableMetrics, HealthCheck, MetricsServer } from './metrics/index.js';
import { createLogger, type Logger } from './log.js';
import { RuntimeInfoService, RuntimeSettings } from './runtime/service.js';
import { CriServer } from './server/server.js';
import { SocketInUseError } from './server/socket.js';
import { DOCKERCRI_VERSION } from './version.js';
import { runDoctor } from './doctor/index.js';

const SHUTDOWN_GRACE_MS = 10_000;
/** The oom_score_adj kubelet's dockershim gave pause containers. */
const SANDBOX_OOM_SCORE_ADJ = -998;

/**
 * The lowest oom_score_adj dockercri may ask for. Without CAP_SYS_RESOURCE runc cannot set a score
 * below the caller's own, so (like containerd's restrict_oom_score_adj) none is asked for.
 */
function oomFloor(config: Config, hasSysResource: boolean, log: Logger): number | undefined {
  const restrict = config.restrictOomScoreAdj ?? !hasSysResource;
  if (!restrict) return undefined;
  const own = Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim());
  log.info({ floor: own, reason: config.restrictOomScoreAdj === undefined ? 'CAP_SYS_RESOURCE is missing' : '--restrict-oom-score-adj' }, 'oom_score_adj restricted: no container gets a score below dockercri\'s own');
  return own;
}

async function serve(config: Config, log: Logger): Promise<void> {
  // on before the first Docker call, so every call is counted
  const metrics = config.metricsBindAddr === '' ? undefined : enableMetrics();
  const docker = new DockerClient(config.dockerEndpoint, config.runtimeRequestTimeoutMs, log.child({ room: 'docker' }));
  const settings = new RuntimeSettings(config.podCidr);
  const imageInspects = new ImageInspectCache(docker, log.child({ room: 'image' }));
  void imageInspects.start();
  const engine = new EngineCache(docker);
  const images = new ImageService(docker, engine, config, log.child({ room: 'image' }), imageInspects);
  const caps = readHostCapabilities();
  if (!caps.complete) log.warn({ held: caps.effective.length }, 'dockercri lacks some capabilities: privileged containers get exactly the capabilities it holds');
  const floor = oomFloor(config, caps.hasSysResource, log);
  let engineInfo = { cgroupDriver: 'cgroupfs' as 'cgroupfs' | 'systemd', defaultRuntime: 'runc' };
  try {
    const { info: i } = await engine.get();
    engineInfo = { cgroupDriver: i.cgroupDriver, defaultRuntime: i.defaultRuntime };
  } catch {
    // Docker is not up yet: cgroupfs and runc are its defaults; the index waits for it
  }
  const index = new ContainerIndex(docker, log.child({ room: 'index' }));
  const network: PodNetwork =
    config.networkPlugin === 'cni'
      ? new CniNetwork(new CniManager({ confDir: config.cniConfDir, binDirs: config.cniBinDirs, cacheDir: config.cniCacheDir, mtu: config.networkPluginMtu, log: log.child({ room: 'cni' }), podCidr: () => settings.podCidr }), log.child({ room: 'network' }))
      : new BridgeNetwork();
  const info = new RuntimeInfoService(engine, config, settings, network, log.child({ room: 'runtime' }));
  const imageLabels = new ImageLabels(docker, imageInspects);
  const logs = new ContainerLogs(docker, log.child({ room: 'logs' }), { positionsDir: join(config.criDockerdRootDirectory, 'dockercri', 'log-positions'), localEngine: config.dockerEndpoint.startsWith('unix://') });
  const containers = new ContainerService(
    docker,
    index,
    imageLabels,
    imageInspects,
    logs,
    {
      cgroupDriver: engineInfo.cgroupDriver,
      engine,
      oomScoreAdjFloor: floor,
      hostCapsComplete: caps.complete,
      heldCapabilities: caps.effective,
      dockerLogOptions: { 'max-size': config.dockerLogMaxSize, 'max-file': String(config.dockerLogMaxFile), compress: 'false' },
    },
    log.child({ room: 'container' }),
  );
  const sandboxes = new SandboxService(
    docker,
    index,
    network,
    new SandboxCheckpoints(config.criDockerdRootDirectory, log.child({ room: 'checkpoint' })),
    {
      podInfraContainerImage: config.podInfraContainerImage,
      imagePullProgressDeadlineMs: config.imagePullProgressDeadlineMs,
      cgroupDriver: engineInfo.cgroupDriver,
      defaultRuntime: engineInfo.defaultRuntime,
      runtimes: async (fresh) => (await engine.get({ fresh })).info.runtimes,
      sandboxOomScoreAdj: floor === undefined ? SANDBOX_OOM_SCORE_ADJ : Math.max(SANDBOX_OOM_SCORE_ADJ, floor),
      hostCapsComplete: caps.complete,
      heldCapabilities: caps.effective,
      removeContainer: (c) => containers.remove(c),
      recordedResources: (sandboxId) => sandboxResources.get(sandboxId),
    },
    imageLabels,
    log.child({ room: 'sandbox' }),
  );
  const stats = new StatsService(index, imageLabels, { cgroupDriver: engineInfo.cgroupDriver }, log.child({ room: 'stats' }));
  const events = new EventsService(
    index,
    imageLabels,
    { sandboxStatus: async (podSandboxId) => (await sandboxes.PodSandboxStatus(criApi.v1.PodSandboxStatusRequest.create({ podSandboxId }))).status ?? undefined },
    log.child({ room: 'events' }),
  );
  const sandboxResources = new SandboxResourceRecords(index);
  const tokens = new TokenRegistry();
  const streaming: StreamingService = new StreamingService(docker, index, tokens, (): StreamingServer => streamingServer, log.child({ room: 'streaming' }));
  const streamingServer = new StreamingServer(tokens, streaming, { bindAddr: config.streamingBindAddr, idleTimeoutMs: config.streamingConnectionIdleTimeoutMs }, log.child({ room: 'streaming' }));
  const server = new CriServer(
    {
      runtime: {
        Version: () => info.Version(),
        Status: (r) => info.Status(r),
        RuntimeConfig: () => info.RuntimeConfig(),
        UpdateRuntimeConfig: (r) => info.UpdateRuntimeConfig(r),
        RunPodSandbox: (r) => sandboxes.RunPodSandbox(r),
        StopPodSandbox: (r) => sandboxes.StopPodSandbox(r),
        RemovePodSandbox: (r) => sandboxes.RemovePodSandbox(r),
        PodSandboxStatus: (r) => sandboxes.PodSandboxStatus(r),
        ListPodSandbox: (r) => sandboxes.ListPodSandbox(r),
        StreamPodSandboxes: (r, sink) => sandboxes.StreamPodSandboxes(r, sink),
        CreateContainer: (r) => containers.CreateContainer(r),
        StartContainer: (r) => containers.StartContainer(r),
        StopContainer: (r) => containers.StopContainer(r),
        RemoveContainer: (r) => containers.RemoveContainer(r),
        ListContainers: (r) => containers.ListContainers(r),
        StreamContainers: (r, sink) => containers.StreamContainers(r, sink),
        ContainerStatus: (r) => containers.ContainerStatus(r),
        UpdateContainerResources: (r) => containers.UpdateContainerResources(r),
        ReopenContainerLog: (r) => containers.ReopenContainerLog(r),
        ExecSync: (r) => containers.ExecSync(r),
        ContainerStats: (r) => stats.ContainerStats(r),
        ListContainerStats: (r) => stats.ListContainerStats(r),
        StreamContainerStats: (r, sink) => stats.StreamContainerStats(r, sink),
        PodSandboxStats: (r) => stats.PodSandboxStats(r),
        ListPodSandboxStats: (r) => stats.ListPodSandboxStats(r),
        StreamPodSandboxStats: (r, sink) => stats.StreamPodSandboxStats(r, sink),
        ListMetricDescriptors: () => stats.ListMetricDescriptors(),
        ListPodSandboxMetrics: () => stats.ListPodSandboxMetrics(),
        StreamPodSandboxMetrics: (r, sink) => stats.StreamPodSandboxMetrics(r, sink),
        GetContainerEvents: (r, sink) => events.GetContainerEvents(r, sink),
        UpdatePodSandboxResources: (r) => sandboxResources.UpdatePodSandboxResources(r),
        CheckpointContainer: (r) => checkpointContainer(engine, index, r),
        Exec: (r) => streaming.Exec(r),
        Attach: (r) => streaming.Attach(r),
        PortForward: (r) => streaming.PortForward(r),
      },
      image: images,
    },
    log.child({ room: 'server' }),
  );

  try {
    const { version } = await engine.get();
    log.info({ engine: version.version, api: version.apiVersion }, 'Docker Engine answers');
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'Docker Engine does not answer yet; serving anyway, Status reports RuntimeReady=false until it does');
  }

  // log followers whose stream ended with Docker's (or that Docker was down for at start) resume
  // after every sync with Docker; following is idempotent
  index.onSync(() => containers.resumeLogs());
  // the event stream breaks when Docker restarts, maybe upgraded or with another storage driver
  index.onLost(() => engine.invalidate());
  await index.start();
  stats.start();
  log.info({ url: await streamingServer.listen() }, 'streaming server listening');
  await server.listen(config.containerRuntimeEndpoint);
  let metricsServer: MetricsServer | undefined;
  if (metrics) {
    metrics.countEventSubscribers(() => events.subscriberCount);
    metrics.countRpcsInFlight(() => server.tracker.inFlight);
    const health = new HealthCheck({ grpcServing: () => server.serving, pingDocker: () => docker.ping() }, { pingTimeoutMs: 2000, cacheMs: 1000 });
    metricsServer = new MetricsServer(metrics.registry, health, splitHostPort(config.metricsBindAddr)!, log.child({ room: 'metrics' }));
    log.info({ url: await metricsServer.listen() }, 'metrics server listening');
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, inFlight: server.tracker.inFlight }, 'shutting down: draining in-flight calls');
    events.close();
    void server.shutdown(SHUTDOWN_GRACE_MS).then(async () => {
      index.stop();
      imageInspects.stop();
      streamingServer.close();
      metricsServer?.close();
      stats.stop();
      await logs.stopAll();
      log.info('stopped');
      log.flush(() => process.exit(0));
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'doctor') {
    process.exitCode = await runDoctor(argv.slice(1));
    return;
  }
  const parsed = parseFlags(argv);
  switch (parsed.kind) {
    case 'error':
      process.stderr.write(`dockercri: ${parsed.message}\n`);
      process.exit(2);
      break;
    case 'help':
      process.stdout.write(parsed.text);
      return;
    case 'version':
      process.stdout.write(`dockercri ${DOCKERCRI_VERSION}\n`);
      return;
    case 'run': {
      const log = createLogger(parsed.config.logLevel);
      log.info({ version: DOCKERCRI_VERSION, pid: process.pid }, 'starting dockercri');
      // A request must never take the process down; anything that escapes is logged and survived.
      process.on('unhandledRejection', (reason) => log.error({ err: reason instanceof Error ? reason.stack : String(reason) }, 'unhandled rejection'));
      try {
        await serve(parsed.config, log);
      } catch (err) {
        const message = err instanceof SocketInUseError ? err.message : `cannot start: ${(err as Error).message}`;
        log.fatal({ err: (err as Error).message }, message);
        process.stderr.write(`dockercri: ${message}\n`);
        process.exitCode = 1;
        log.flush(() => process.exit(1));
        setTimeout(() => process.exit(1), 1000).unref();
      }
    }
  }
}

void main();
