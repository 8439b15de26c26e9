import { invalidArgument } from '../errors.js';
import type { Config } from '../config/flags.js';
import { engineFacts } from '../docker/client.js';
import type { EngineCache } from '../docker/engine-cache.js';
import { runtimeHandlers } from '../docker/engine-features.js';
import { runtime } from '../gen/api.js';
import type { Logger } from '../log.js';
import type { PodNetwork } from '../network/pod-network.js';
import { isCidrList } from '../network/cidr.js';
import { within } from '../util/deadline.js';

export const RUNTIME_NAME = 'docker';
/** The CRI version this runtime speaks (kubelet only logs it). */
export const CRI_VERSION = '0.1.0';
export const CRI_API_VERSION = 'v1';
/** How long Status waits for the Docker Engine before it reports the runtime not ready. */
const STATUS_DOCKER_DEADLINE_MS = 5_000;

/** Settings kubelet may change at run time through UpdateRuntimeConfig. */
export class RuntimeSettings {
  constructor(public podCidr: string) {}
}

/** Version, Status, RuntimeConfig and UpdateRuntimeConfig. */
export class RuntimeInfoService {
  constructor(
    private readonly engine: EngineCache,
    private readonly config: Config,
    private readonly settings: RuntimeSettings,
    private readonly network: PodNetwork,
    private readonly log: Logger,
  ) {}

  async Version(): Promise<runtime.v1.IVersionResponse> {
    const engine = (await this.engine.live()).version;
    return { version: CRI_VERSION, runtimeName: RUNTIME_NAME, runtimeVersion: engine.version, runtimeApiVersion: CRI_API_VERSION };
  }

  async Status(request: runtime.v1.StatusRequest): Promise<runtime.v1.IStatusResponse> {
    const conditions: runtime.v1.IRuntimeCondition[] = [];
    let engine: { version: string; apiVersion: string } | undefined;
    let handlers: runtime.v1.IRuntimeHandler[] = [];
    try {
      // kubelet polls Status to learn whether the runtime is healthy: a frozen Engine must turn it
      // false within seconds, not after --runtime-request-timeout; a kept answer comes with a ping
      const { version, info } = await within(this.engine.live(), STATUS_DOCKER_DEADLINE_MS, 'the Docker Engine');
      engine = version;
      handlers = runtimeHandlers(engineFacts(version.apiVersion, info));
      conditions.push({ type: 'RuntimeReady', status: true, reason: '', message: '' });
    } catch (err) {
      conditions.push({ type: 'RuntimeReady', status: false, reason: 'DockerDaemonNotReady', message: `docker: failed to get docker version: ${(err as Error).message}` });
    }
    conditions.push(await this.networkCondition());
    const response: runtime.v1.IStatusResponse = {
      status: { conditions },
      runtimeHandlers: handlers,
      features: { supplementalGroupsPolicy: false },
    };
    if (request.verbose) {
      response.info = {
        config: JSON.stringify({
          networkPlugin: this.config.networkPlugin,
          cniConfDir: this.config.cniConfDir,
          cniBinDirs: this.config.cniBinDirs,
          podInfraContainerImage: this.config.podInfraContainerImage,
          podCidr: this.settings.podCidr,
          dockerEndpoint: this.config.dockerEndpoint,
        }),
        engine: JSON.stringify(engine ?? null),
      };
    }
    return response;
  }

  private async networkCondition(): Promise<runtime.v1.IRuntimeCondition> {
    const load = await this.network.readiness();
    if (load.ok) return { type: 'NetworkReady', status: true, reason: '', message: '' };
    return { type: 'NetworkReady', status: false, reason: load.reason, message: `docker: network plugin is not ready: ${load.message}` };
  }

  async RuntimeConfig(): Promise<runtime.v1.IRuntimeConfigResponse> {
    const { info } = await this.engine.get();
    const cgroupDriver = info.cgroupDriver === 'systemd' ? runtime.v1.CgroupDriver.SYSTEMD : runtime.v1.CgroupDriver.CGROUPFS;
    return { linux: { cgroupDriver } };
  }

  async UpdateRuntimeConfig(request: runtime.v1.UpdateRuntimeConfigRequest): Promise<runtime.v1.IUpdateRuntimeConfigResponse> {
    const cidr = request.runtimeConfig?.networkConfig?.podCidr ?? '';
    if (cidr === '') return {};
    if (!isCidrList(cidr)) throw invalidArgument(`UpdateRuntimeConfig: pod CIDR "${cidr.slice(0, 100)}" is not a CIDR`);
    if (cidr !== this.settings.podCidr) {
      this.log.info({ podCidr: cidr, previous: this.settings.podCidr }, 'pod CIDR updated');
      this.settings.podCidr = cidr;
    }
    return {};
  }
}
