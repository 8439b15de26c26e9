// Starts the real dockercri process on a temporary socket and talks real gRPC to it.
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { runtime } from '../src/gen/api.js';
import type { ImageServiceHandlers, RuntimeServiceHandlers } from '../src/gen/services.js';
import { imageServiceDefinition, runtimeServiceDefinition } from '../src/server/server.js';

// the harness runs from integration/ under vitest and from dist/integration/ when compiled
export const ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/integration/') ? '../..' : '..', import.meta.url));
/** The program as it is shipped: the bundle of dist/src that `npm run build` makes (scripts/bundle.mjs). */
export const MAIN = join(ROOT, 'dist/dockercri.js');
const SHEBANG = /^#!\/usr\/bin\/env -S((?: \w+=\S*)*) node((?: \S+)*)$/.exec(readFileSync(MAIN, 'utf8').split('\n', 1)[0] ?? '');
if (!SHEBANG) throw new Error(`${MAIN} does not start with #!/usr/bin/env -S [VAR=value…] node [flags…]`);
/** The node flags of MAIN's `#!/usr/bin/env -S [VAR=value…] node …` line, so tests run it as its command runs. */
export const MAIN_NODE_FLAGS = SHEBANG[2]!.trim().split(' ').filter(Boolean);
/** The environment that line sets. */
export const MAIN_NODE_ENV: Record<string, string> = Object.fromEntries(
  SHEBANG[1]!.trim().split(' ').filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
);

/** Facts that scripts/test-env.sh wrote about the local registries and images. */
export interface TestEnv {
  plainRegistry: string;
  authRegistry: string;
  authUser: string;
  authPassword: string;
  busyboxDigest: string;
  pauseImage: string;
}

export function testEnv(): TestEnv {
  return JSON.parse(readFileSync('/run/dockercri-test/env.json', 'utf8')) as TestEnv;
}

export const BUSYBOX = 'dockercri-test/busybox:latest';

type Req<F> = F extends (request: infer R, ...rest: never[]) => unknown ? Partial<R> | Record<string, unknown> : never;
type Res<F> = F extends (...args: never[]) => Promise<infer R> ? R : never;
type StreamItem<F> = F extends (request: never, sink: { write(item: infer I): unknown }) => unknown ? I : never;

export interface CallOptions {
  deadlineMs?: number;
}

/** A promise-returning client: unary rpcs resolve to the response, streams to all their messages. */
export type Client<H> = {
  [K in keyof H]: H[K] extends (request: never, sink: never) => Promise<void>
    ? (request?: Req<H[K]>, opts?: CallOptions) => Promise<StreamItem<H[K]>[]>
    : (request?: Req<H[K]>, opts?: CallOptions) => Promise<Res<H[K]>>;
};

export type GrpcError = Error & { code: grpc.status; details: string };

function promiseClient<H>(definition: grpc.ServiceDefinition, address: string, channelOptions: grpc.ChannelOptions = {}): { client: Client<H>; close(): void } {
  const Ctor = grpc.makeGenericClientConstructor(definition, 'svc');
  const raw = new Ctor(address, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    ...channelOptions,
  }) as unknown as Record<string, (...args: unknown[]) => unknown>;
  const client = {} as Record<string, unknown>;
  for (const [name, def] of Object.entries(definition)) {
    client[name] = (request: unknown = {}, opts: CallOptions = {}) =>
      new Promise((resolve, reject) => {
        const callOpts = { deadline: Date.now() + (opts.deadlineMs ?? 60_000) };
        if (def.responseStream) {
          const items: unknown[] = [];
          const call = raw[name]!.call(raw, request, new grpc.Metadata(), callOpts) as grpc.ClientReadableStream<unknown>;
          call.on('data', (d) => items.push(d));
          call.on('error', reject);
          call.on('end', () => resolve(items));
        } else {
          raw[name]!.call(raw, request, new grpc.Metadata(), callOpts, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res)));
        }
      });
  }
  return { client: client as Client<H>, close: () => (raw as unknown as grpc.Client).close() };
}

/** Whether the unix socket at `path` accepts a connection now. */
export function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => (s.destroy(), resolve(false)));
  });
}

/** CRI clients of the dockercri (or anything else) serving on the unix socket `socket`. */
export function connectCri(socket: string, channelOptions: grpc.ChannelOptions = {}): { runtime: Client<RuntimeServiceHandlers>; images: Client<ImageServiceHandlers>; close(): void } {
  const rt = promiseClient<RuntimeServiceHandlers>(runtimeServiceDefinition, `unix://${socket}`, channelOptions);
  const im = promiseClient<ImageServiceHandlers>(imageServiceDefinition, `unix://${socket}`, channelOptions);
  return {
    runtime: rt.client,
    images: im.client,
    close: () => {
      rt.close();
      im.close();
    },
  };
}

/** An open GetContainerEvents stream that records each event as it arrives. */
export interface EventSubscription {
  events: runtime.v1.IContainerEventResponse[];
  /** Set when the stream ends with an error status. */
  error?: grpc.ServiceError;
  /** Set when the server ends the stream without an error. */
  ended: boolean;
  /** Called with each event as it arrives. */
  onEvent?: (event: runtime.v1.IContainerEventResponse) => void;
  close(): void;
}

/** Subscribes to GetContainerEvents on `socket`; the promise clients would wait for the stream's end. */
export function subscribeEvents(socket: string): EventSubscription {
  const Ctor = grpc.makeGenericClientConstructor(runtimeServiceDefinition, 'svc');
  const client = new Ctor(`unix://${socket}`, grpc.credentials.createInsecure()) as unknown as grpc.Client &
    Record<string, (req: unknown) => grpc.ClientReadableStream<runtime.v1.IContainerEventResponse>>;
  const call = client.GetContainerEvents!({});
  const sub: EventSubscription = {
    events: [],
    ended: false,
    close: () => {
      call.cancel();
      client.close();
    },
  };
  call.on('data', (e: runtime.v1.IContainerEventResponse) => {
    sub.events.push(e);
    sub.onEvent?.(e);
  });
  call.on('error', (err: grpc.ServiceError) => (sub.error = err));
  call.on('end', () => (sub.ended = true));
  return sub;
}

export interface Dockercri {
  runtime: Client<RuntimeServiceHandlers>;
  images: Client<ImageServiceHandlers>;
  socket: string;
  dir: string;
  proc: ChildProcess;
  /** Everything the process wrote to stderr (its JSON log) so far. */
  log(): string;
  /** Sends a signal and waits for the exit; resolves to the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface StartOptions {
  args?: string[];
  /** Use this socket path instead of a fresh one. */
  socket?: string;
  env?: NodeJS.ProcessEnv;
  /** Options for node itself, before the script (a profiler, V8 heap sizes). */
  nodeArgs?: string[];
  /** The script to run instead of MAIN (a copy of it elsewhere). */
  main?: string;
}

/**
 * Resolves when the process serves: it logged so, or (on a socket path of its own) the socket
 * accepts connections. Rejects when it exits first or takes too long.
 */
function waitForServing(proc: ChildProcess, stderr: () => string, socket: string | undefined, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const check = (): void => {
      if (stderr().includes('"msg":"serving the CRI"')) return resolve();
      if (socket) {
        const s = connect(socket);
        s.once('connect', () => {
          s.destroy();
          resolve();
        });
        s.once('error', () => {
          s.destroy();
          next();
        });
        return;
      }
      next();
    };
    const next = (): void => {
      if (proc.exitCode !== null || proc.signalCode !== null) return reject(new Error(`dockercri exited with ${proc.exitCode ?? proc.signalCode} before serving`));
      if (Date.now() > deadline) return reject(new Error(`dockercri did not serve within ${timeoutMs} ms`));
      setTimeout(check, 25);
    };
    check();
  });
}

/** Starts dockercri (Docker's bridge networking unless args say otherwise) and connects to it. */
export async function startDockercri(opts: StartOptions = {}): Promise<Dockercri> {
  const dir = mkdtempSync(join(tmpdir(), 'dockercri-test-'));
  const socket = opts.socket ?? join(dir, 'cri.sock');
  const args = [
    ...MAIN_NODE_FLAGS,
    ...(opts.nodeArgs ?? []),
    opts.main ?? MAIN,
    `--container-runtime-endpoint=unix://${socket}`,
    `--cri-dockerd-root-directory=${join(dir, 'root')}`,
    '--network-plugin=',
    '--log-level=debug',
    ...(opts.args ?? []),
  ];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...MAIN_NODE_ENV, ...opts.env } });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  proc.stdout!.resume();
  try {
    // a socket path given by the caller may be served by another process: only the log line counts
    await waitForServing(proc, () => stderr, opts.socket ? undefined : socket, 15_000);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${stderr}`);
  }
  const address = `unix://${socket}`;
  const rt = promiseClient<RuntimeServiceHandlers>(runtimeServiceDefinition, address);
  const im = promiseClient<ImageServiceHandlers>(imageServiceDefinition, address);
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    runtime: rt.client,
    images: im.client,
    socket,
    dir,
    proc,
    log: () => stderr,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      rt.close();
      im.close();
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const result = await exited;
      rmSync(dir, { recursive: true, force: true });
      return result;
    },
  };
}

/** Resolves to the gRPC error a call fails with; fails the test if the call succeeds. */
export async function grpcError(p: Promise<unknown>): Promise<GrpcError> {
  try {
    await p;
  } catch (err) {
    return err as GrpcError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

export const uniq = (prefix: string): string => `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

/** Splits a line of `iptables -S` into arguments (double quotes with backslash escapes). */
export function splitRule(line: string): string[] {
  const args: string[] = [];
  let cur = '';
  let started = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quoted) {
      if (c === '\\' && i + 1 < line.length) cur += line[++i];
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      started = true;
    } else if (c === ' ') {
      if (started) args.push(cur);
      cur = '';
      started = false;
    } else {
      cur += c;
      started = true;
    }
  }
  if (started) args.push(cur);
  return args;
}
