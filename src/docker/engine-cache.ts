import type { EngineFacts } from './engine-features.js';
import { engineFacts, type DockerClient, type EngineInfo, type EngineVersion } from './client.js';

/**
 * Docker's version and info are kept this long. Its /version runs `runc --version` and
 * `docker-init --version` on every call (about 10 ms and two processes) and kubelet asks for
 * Status every 5 s; what they say changes only when Docker restarts or reloads its config.
 */
const TTL_MS = 60_000;

export interface Engine {
  version: EngineVersion;
  info: EngineInfo;
}

/**
 * What the Docker Engine says of itself, asked once for every service that needs it (Status,
 * RuntimeConfig, ImageFsInfo's storage directory, CreateContainer's API version and runtime
 * features, RunPodSandbox's runtime handlers). Emptied by `invalidate` when Docker restarts.
 */
export class EngineCache {
  private kept?: { engine: Promise<Engine>; atMs: number; settled: boolean };

  constructor(private readonly docker: Pick<DockerClient, 'version' | 'info' | 'ping'>, private readonly ttlMs = TTL_MS) {}

  /**
   * Version and info, asked again after the TTL. `fresh` asks again unless an ask is on its way,
   * which began after anything the caller saw. Callers at the same time share one ask.
   */
  get(opts: { fresh?: boolean } = {}): Promise<Engine> {
    const kept = this.kept;
    if (kept && (opts.fresh ? !kept.settled : Date.now() - kept.atMs < this.ttlMs)) return kept.engine;
    const entry = {
      atMs: Date.now(),
      settled: false,
      engine: Promise.all([this.docker.version(), this.docker.info()]).then(([version, info]) => ({ version, info })),
    };
    entry.engine.then(
      () => (entry.settled = true),
      () => {
        entry.settled = true;
        if (this.kept === entry) this.kept = undefined;
      },
    );
    this.kept = entry;
    return entry.engine;
  }

  /** get(), with a ping when the answer is a kept one: it also says the Engine answers now. */
  async live(): Promise<Engine> {
    const kept = this.kept;
    if (kept && Date.now() - kept.atMs < this.ttlMs) {
      const [engine] = await Promise.all([kept.engine, this.docker.ping()]);
      return engine;
    }
    return this.get();
  }

  async facts(): Promise<EngineFacts> {
    const { version, info } = await this.get();
    return engineFacts(version.apiVersion, info);
  }

  invalidate(): void {
    this.kept = undefined;
  }
}
