// What /healthz answers: healthy while the CRI socket serves and the Docker Engine answers a ping.
import { DeadlineError, within } from '../util/deadline.js';

export interface HealthProbes {
  /** True while the gRPC server accepts calls (not before it binds, not once shutdown begins). */
  grpcServing: () => boolean;
  /** Resolves when the Docker Engine answers; rejects with the reason when it does not. */
  pingDocker: () => Promise<void>;
}

export interface HealthOptions {
  /** A ping that takes longer counts as no answer. */
  pingTimeoutMs: number;
  /** A ping's outcome is reused this long, so a busy prober cannot flood the Engine. */
  cacheMs: number;
  now?: () => number;
}

export type Health = { healthy: true } | { healthy: false; reason: string };

/** The first line of an error's message, for a one-line reason. */
const oneLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n', 1)[0]?.trim() || 'unknown error';

export class HealthCheck {
  private cached: { at: number; result: Health } | undefined;
  /** The check under way, shared by every request that arrives meanwhile. */
  private pending: Promise<Health> | undefined;
  /** The ping under way; one that outlives its timeout is waited on again, never doubled. */
  private ping: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly probes: HealthProbes,
    private readonly opts: HealthOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  async check(): Promise<Health> {
    if (!this.probes.grpcServing()) return { healthy: false, reason: 'grpc server not serving' };
    return this.docker();
  }

  /** The Engine's state: cached, or from the one ping under way, or from a new ping. */
  private docker(): Promise<Health> {
    if (this.cached && this.now() - this.cached.at < this.opts.cacheMs) return Promise.resolve(this.cached.result);
    this.pending ??= this.pingWithin().then((result) => {
      this.cached = { at: this.now(), result };
      this.pending = undefined;
      return result;
    });
    return this.pending;
  }

  private async pingWithin(): Promise<Health> {
    this.ping ??= Promise.resolve()
      .then(() => this.probes.pingDocker())
      .finally(() => {
        this.ping = undefined;
      });
    try {
      await within(this.ping, this.opts.pingTimeoutMs, 'docker');
      return { healthy: true };
    } catch (err) {
      if (err instanceof DeadlineError) return { healthy: false, reason: `docker: no answer to a ping within ${this.opts.pingTimeoutMs / 1000} s` };
      return { healthy: false, reason: `docker: ${oneLine(err)}` };
    }
  }
}
