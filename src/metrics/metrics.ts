// dockercri's Prometheus metrics: one registry of its own, and the recording points the rooms call.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds, from a 1 ms List answered from the index to the 2 min --runtime-request-timeout. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export const STREAMING_KINDS = ['exec', 'attach', 'portforward'] as const;
export type StreamingKind = (typeof STREAMING_KINDS)[number];

/** A DockerClient method name as a Prometheus label value: inspectContainer → inspect_container. */
export function dockerOperation(method: string): string {
  return method.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/^_/, '');
}

/** The instruments, in a registry that holds nothing else (no global state of prom-client). */
export class Metrics {
  readonly registry = new Registry();
  private readonly rpcs: Counter<'method' | 'code'>;
  private readonly rpcSeconds: Histogram<'method'>;
  private readonly dockerSeconds: Histogram<'operation'>;
  private readonly dockerErrors: Counter<'operation'>;
  private readonly cniSeconds: Histogram<'plugin' | 'command'>;
  private readonly cniErrors: Counter<'plugin' | 'command'>;
  private readonly sessions: Gauge<'kind'>;
  private eventSubscriberCount: () => number = () => 0;
  private rpcsInFlightCount: () => number = () => 0;

  constructor() {
    const registers = [this.registry];
    this.rpcs = new Counter({ name: 'dockercri_grpc_requests_total', help: 'CRI rpcs answered, by method and gRPC status code.', labelNames: ['method', 'code'], registers });
    this.rpcSeconds = new Histogram({ name: 'dockercri_grpc_request_duration_seconds', help: 'Time from the start of a CRI rpc to its answer (for streaming rpcs: to the end of the stream), by method.', labelNames: ['method'], buckets: LATENCY_BUCKETS, registers });
    const inFlight = (): number => this.rpcsInFlightCount();
    new Gauge({
      name: 'dockercri_grpc_requests_in_flight',
      help: 'CRI rpcs being served now.',
      registers,
      collect() {
        this.set(inFlight());
      },
    });
    this.dockerSeconds = new Histogram({ name: 'dockercri_docker_request_duration_seconds', help: 'Time of Docker Engine API calls, by operation (a pull lasts until the image is complete).', labelNames: ['operation'], buckets: LATENCY_BUCKETS, registers });
    this.dockerErrors = new Counter({ name: 'dockercri_docker_request_errors_total', help: 'Docker Engine API calls that failed (an absent object that the caller expects is not a failure), by operation.', labelNames: ['operation'], registers });
    this.cniSeconds = new Histogram({ name: 'dockercri_cni_plugin_duration_seconds', help: 'Time of CNI plugin executions, by plugin type and CNI command.', labelNames: ['plugin', 'command'], buckets: LATENCY_BUCKETS, registers });
    this.cniErrors = new Counter({ name: 'dockercri_cni_plugin_errors_total', help: 'CNI plugin executions that failed (could not start, timed out or exited non-zero), by plugin type and CNI command.', labelNames: ['plugin', 'command'], registers });
    this.sessions = new Gauge({ name: 'dockercri_streaming_sessions', help: 'Open streaming sessions (SPDY or WebSocket), by kind.', labelNames: ['kind'], registers });
    for (const kind of STREAMING_KINDS) this.sessions.set({ kind }, 0);
    const subscribers = (): number => this.eventSubscriberCount();
    new Gauge({
      name: 'dockercri_event_subscribers',
      help: 'Open GetContainerEvents streams.',
      registers,
      collect() {
        this.set(subscribers());
      },
    });
  }

  /**
   * Adds the process_* and nodejs_* metrics every Node.js client exports. They keep their usual
   * unprefixed names: dashboards and alerts written for any process (process_start_time_seconds,
   * process_resident_memory_bytes) apply unchanged, and the scrape's job label says whose they are.
   */
  collectProcessMetrics(): void {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Where dockercri_event_subscribers is read from at each scrape. */
  countEventSubscribers(read: () => number): void {
    this.eventSubscriberCount = read;
  }

  /** Where dockercri_grpc_requests_in_flight is read from at each scrape (the server's call tracker). */
  countRpcsInFlight(read: () => number): void {
    this.rpcsInFlightCount = read;
  }

  rpcFinished(method: string, code: string, seconds: number): void {
    this.rpcs.inc({ method, code });
    this.rpcSeconds.observe({ method }, seconds);
  }

  dockerCall(operation: string, seconds: number, failed: boolean): void {
    this.dockerSeconds.observe({ operation }, seconds);
    if (failed) this.dockerErrors.inc({ operation });
  }

  cniPlugin(plugin: string, command: string, seconds: number, failed: boolean): void {
    this.cniSeconds.observe({ plugin, command }, seconds);
    if (failed) this.cniErrors.inc({ plugin, command });
  }

  sessionOpened(kind: StreamingKind): void {
    this.sessions.inc({ kind });
  }

  sessionClosed(kind: StreamingKind): void {
    this.sessions.dec({ kind });
  }
}

let active: Metrics | undefined;

/** Turns the recording points on (once; later calls return the same instruments). */
export function enableMetrics(): Metrics {
  if (!active) {
    active = new Metrics();
    active.collectProcessMetrics();
  }
  return active;
}

/** Runs `fn` on the active metrics; a no-op while metrics are off, and never throws into the caller. */
function onActive(fn: (m: Metrics) => void): void {
  if (!active) return;
  try {
    fn(active);
  } catch {
    // a metric that cannot be recorded must not fail the request it describes
  }
}

const seconds = (startedNs: bigint): number => Number(process.hrtime.bigint() - startedNs) / 1e9;

/** The recording points, for the rooms to call. Each does nothing until enableMetrics(). */
export const record = {
  get enabled(): boolean {
    return active !== undefined;
  },
  rpcFinished(method: string, code: string, durationSeconds: number): void {
    onActive((m) => m.rpcFinished(method, code, durationSeconds));
  },
  /** Times the Docker call that `result` settles; passes `result` through untouched. */
  dockerCall<T>(operation: string, startedNs: bigint, result: Promise<T>): Promise<T> {
    result.then(
      () => onActive((m) => m.dockerCall(operation, seconds(startedNs), false)),
      () => onActive((m) => m.dockerCall(operation, seconds(startedNs), true)),
    );
    return result;
  },
  cniPlugin(plugin: string, command: string, durationSeconds: number, failed: boolean): void {
    onActive((m) => m.cniPlugin(plugin, command, durationSeconds, failed));
  },
  /** Counts a streaming session as open; call the returned function (once is enough) when it closes. */
  sessionOpened(kind: StreamingKind): () => void {
    const m = active;
    if (!m) return () => undefined;
    onActive(() => m.sessionOpened(kind));
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      onActive(() => m.sessionClosed(kind));
    };
  },
};
