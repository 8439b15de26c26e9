import * as grpc from '@grpc/grpc-js';
import { CriError, Code, codeName, toCriError } from '../errors.js';
import { ImageServiceMethods, RuntimeServiceMethods, type ImageServiceHandlers, type MethodSpec, type RuntimeServiceHandlers } from '../gen/services.js';
import type { Logger } from '../log.js';
import type { Server as NetServer, Socket } from 'node:net';
import { record } from '../metrics/index.js';
import { acceptConnection } from './authority.js';
import { forgetActivationEnv, listen, listenTarget } from './listener.js';

export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Rpcs kubelet calls every few seconds: logged at debug so the info log stays readable. */
const POLLING = /^(List|Stream)|Status$|^Version$|Stats$|^ImageFsInfo$|Metrics$|^ListMetricDescriptors$/;

type AnyHandler = (request: unknown, sink?: grpc.ServerWritableStream<unknown, unknown>) => Promise<unknown>;

/**
 * Status messages travel in an HTTP/2 trailer, whose size is limited: a message quoting a huge
 * request field would break the stream instead of answering it.
 */
const MAX_MESSAGE_CHARS = 2048;
const clip = (message: string): string => (message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS)}… (${message.length} characters)` : message);

/** A request that did not decode; the handler answers INVALID_ARGUMENT instead of running. */
class Undecodable {
  constructor(readonly reason: string) {}
}

/** The ids a request carries, for the log line of its call. */
function requestIds(request: unknown): Record<string, unknown> {
  const r = request as Record<string, unknown> | null;
  if (!r || typeof r !== 'object') return {};
  const ids: Record<string, unknown> = {};
  // a request can carry megabytes in any of these; the log keeps what identifies it
  const short = (v: string): string => (v.length > 200 ? `${v.slice(0, 200)}…` : v);
  for (const key of ['podSandboxId', 'containerId']) if (typeof r[key] === 'string' && r[key] !== '') ids[key] = short(r[key] as string);
  const image = (r.image as { image?: string } | null | undefined)?.image;
  if (image) ids.image = short(image);
  const meta = ((r.config as Record<string, unknown> | null | undefined)?.metadata ?? null) as { name?: string } | null;
  if (meta?.name) ids.name = short(meta.name);
  return ids;
}

export interface CriHandlers {
  runtime: Partial<RuntimeServiceHandlers>;
  image: ImageServiceHandlers;
}

/** Counts in-flight calls so shutdown can wait for them and metrics can show them. */
export class CallTracker {
  inFlight = 0;
}

function buildService(methods: readonly MethodSpec[], impl: object, log: Logger, tracker: CallTracker): grpc.UntypedServiceImplementation {
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const m of methods) {
    const fn = (impl as Record<string, unknown>)[m.name];
    const run: AnyHandler =
      typeof fn === 'function'
        ? (fn as AnyHandler).bind(impl)
        : async () => {
            throw new CriError(Code.UNIMPLEMENTED, `${m.name} is not implemented by dockercri yet`);
          };
    const level = POLLING.test(m.name) ? 'debug' : 'info';
    const invoke = async (request: unknown, sink?: grpc.ServerWritableStream<unknown, unknown>): Promise<unknown> => {
      const started = process.hrtime.bigint();
      const ids = requestIds(request);
      tracker.inFlight++;
      let code = 'OK';
      try {
        if (request instanceof Undecodable) throw new CriError(Code.INVALID_ARGUMENT, `${m.name}: malformed request: ${request.reason}`);
        const result = await run(request, sink);
        log[level]({ rpc: m.name, ...ids, code, durationMs: Number(process.hrtime.bigint() - started) / 1e6 }, 'rpc');
        return result;
      } catch (thrown) {
        const err = toCriError(thrown);
        code = codeName(err.code);
        const fields = { rpc: m.name, ...ids, code, durationMs: Number(process.hrtime.bigint() - started) / 1e6, err: clip(err.message) };
        if (err.code === Code.INTERNAL) log.error({ ...fields, stack: (err.cause as Error | undefined)?.stack ?? err.stack }, 'rpc failed');
        else log[err.code === Code.NOT_FOUND || err.code === Code.UNIMPLEMENTED ? level : 'warn'](fields, 'rpc failed');
        throw err;
      } finally {
        tracker.inFlight--;
        record.rpcFinished(m.name, code, Number(process.hrtime.bigint() - started) / 1e9);
      }
    };
    const status = (err: unknown): grpc.ServerErrorResponse => {
      const e = toCriError(err);
      const details = clip(e.message);
      return Object.assign(new Error(details), { code: e.code, details });
    };
    if (m.responseStream) {
      handlers[m.name] = (call: grpc.ServerWritableStream<unknown, unknown>) => {
        invoke(call.request, call).then(
          () => call.end(),
          (err: unknown) => call.emit('error', status(err)),
        );
      };
    } else {
      handlers[m.name] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        invoke(call.request).then(
          (res) => callback(null, res ?? {}),
          (err: unknown) => callback(status(err)),
        );
      };
    }
  }
  return handlers;
}

function definition(methods: readonly MethodSpec[]): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const m of methods) {
    def[m.name] = {
      path: m.path,
      requestStream: false,
      responseStream: m.responseStream,
      requestSerialize: (msg: unknown) => Buffer.from(m.requestType.encode(msg as never).finish()),
      requestDeserialize: (buf: Buffer) => {
        try {
          return m.requestType.decode(buf);
        } catch (err) {
          return new Undecodable((err as Error).message);
        }
      },
      responseSerialize: (msg: unknown) => Buffer.from(m.responseType.encode(msg as never).finish()),
      responseDeserialize: (buf: Buffer) => m.responseType.decode(buf),
    };
  }
  return def;
}

export const runtimeServiceDefinition = definition(RuntimeServiceMethods);
export const imageServiceDefinition = definition(ImageServiceMethods);

export class CriServer {
  private readonly server: grpc.Server;
  readonly tracker = new CallTracker();
  private listener: NetServer | undefined;
  /** Connections whose first request has not come yet: grpc-js does not know them, so shutdown closes them itself. */
  private readonly undecided = new Set<Socket>();
  private listening = false;
  private stopping = false;

  constructor(handlers: CriHandlers, private readonly log: Logger) {
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // no channelz service is served, so grpc-js need not keep its per-call bookkeeping
      'grpc.enable_channelz': 0,
    });
    this.server.addService(runtimeServiceDefinition, buildService(RuntimeServiceMethods, handlers.runtime, log, this.tracker));
    this.server.addService(imageServiceDefinition, buildService(ImageServiceMethods, handlers.image, log, this.tracker));
  }

  /**
   * Serves `endpoint`: a unix:// path (mode 0660, a stale socket replaced, a live one refused) or
   * fd:// for a socket systemd passed. dockercri accepts the connections itself and hands them to
   * grpc-js, so that it can mend the :authority older gRPC clients send (see authority.ts).
   */
  async listen(endpoint: string): Promise<void> {
    const target = listenTarget(endpoint);
    forgetActivationEnv();
    const injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.listener = await listen(target, (socket) => {
      socket.on('error', (err) => this.log.debug({ err: err.message }, 'client connection error'));
      if (this.stopping) {
        socket.destroy();
        return;
      }
      this.undecided.add(socket);
      socket.once('close', () => this.undecided.delete(socket));
      acceptConnection(
        socket,
        (connection) => {
          this.undecided.delete(socket);
          injector.injectConnection(connection);
        },
        () => this.log.debug('client sends the socket path as :authority; its header blocks are rewritten'),
      );
    });
    this.listening = true;
    this.log.info(target.kind === 'path' ? { socket: target.path } : { socket: target.name, activation: 'systemd' }, 'serving the CRI');
  }

  /** True from the bind of the socket until shutdown begins. */
  get serving(): boolean {
    return this.listening && !this.stopping;
  }

  /** Stops accepting calls, lets in-flight ones finish (up to `graceMs`), then closes. */
  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    this.listener?.close();
    for (const socket of this.undecided) socket.destroy();
    this.undecided.clear();
    const drained = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
    if ((await Promise.race([drained, timer])) === 'timeout') {
      this.log.warn({ inFlight: this.tracker.inFlight }, 'calls still running after the grace period; closing them');
      this.server.forceShutdown();
    }
  }
}
