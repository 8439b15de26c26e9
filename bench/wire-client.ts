// A CRI client that sends each call as kubelet's gRPC-Go client does: the request's HEADERS and its
// message in one write, with a grpc-timeout. grpc-js's client, which the rest of the bench uses,
// writes the headers and the message in separate turns, so the server reads each call in pieces,
// and it spends about twice dockerode's CPU per call in its own process. The lifecycle tables time
// a second status call through this client, to show how much of the status ratio is the client's.
import type * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { connect } from 'node:net';
import type { CallOptions, Client } from '../integration/harness.js';
import type { ImageServiceHandlers, RuntimeServiceHandlers } from '../src/gen/services.js';
import { imageServiceDefinition, runtimeServiceDefinition } from '../src/server/server.js';

/** How the bench's tables name this client. */
export const WIRE_CLIENT = 'through a client that sends each call in one write, as grpc-go does';

/** A call that ended with a gRPC status other than OK. */
export class WireCallError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`${code}: ${details}`);
  }
}

/** The gRPC length-prefixed frame of one message. */
function frame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** The messages of a response body; throws on a compressed or cut-off frame. */
export function unframe(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    if (body.length - at < 5) throw new Error('response ends inside a frame header');
    if (body[at] !== 0) throw new Error('compressed response message');
    const length = body.readUInt32BE(at + 1);
    if (body.length - at - 5 < length) throw new Error('response ends inside a message');
    out.push(body.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return out;
}

function call(session: http2.ClientHttp2Session, method: grpc.MethodDefinition<unknown, unknown>, request: unknown, opts: CallOptions): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ':method': 'POST',
      ':path': method.path,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': `${opts.deadlineMs ?? 60_000}m`,
    });
    const chunks: Buffer[] = [];
    let code: number | undefined;
    let details = '';
    const status = (headers: http2.IncomingHttpHeaders): void => {
      if (headers['grpc-status'] === undefined) return;
      code = Number(headers['grpc-status']);
      details = decodeURIComponent(String(headers['grpc-message'] ?? ''));
    };
    req.on('response', status);
    req.on('trailers', status);
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('error', reject);
    req.on('end', () => {
      if (code === undefined) return reject(new Error(`${method.path}: the response has no grpc-status`));
      if (code !== 0) return reject(new WireCallError(code, details));
      try {
        resolve(unframe(Buffer.concat(chunks)).map((m) => method.responseDeserialize(m)));
      } catch (err) {
        reject(err);
      }
    });
    req.end(frame(method.requestSerialize(request)));
  });
}

function wireClient<H>(session: http2.ClientHttp2Session, definition: grpc.ServiceDefinition): Client<H> {
  const client: Record<string, (request?: unknown, opts?: CallOptions) => Promise<unknown>> = {};
  for (const [name, method] of Object.entries(definition)) {
    client[name] = method.responseStream
      ? (request = {}, opts = {}) => call(session, method, request, opts)
      : async (request = {}, opts = {}) => (await call(session, method, request, opts))[0];
  }
  return client as Client<H>;
}

/** CRI clients on one HTTP/2 connection to the unix socket `socket`. */
export function connectWire(socket: string): { runtime: Client<RuntimeServiceHandlers>; images: Client<ImageServiceHandlers>; close(): void } {
  const session = http2.connect('http://localhost', { createConnection: () => connect(socket) });
  // a failed connection fails the calls on it; the session's own error event must not end the bench
  session.on('error', () => undefined);
  return {
    runtime: wireClient<RuntimeServiceHandlers>(session, runtimeServiceDefinition),
    images: wireClient<ImageServiceHandlers>(session, imageServiceDefinition),
    close: () => session.close(),
  };
}
