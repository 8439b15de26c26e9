// Every rpc, fed empty, nonsense and oversized requests: a clear status, never UNKNOWN or INTERNAL
// for a malformed request, and the process keeps serving.
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../src/errors.js';
import { ImageServiceMethods, RuntimeServiceMethods } from '../src/gen/services.js';
import { startDockercri, type Dockercri } from './harness.js';

const METHODS = [...RuntimeServiceMethods, ...ImageServiceMethods];

/** Calls `path` with raw request bytes and resolves to the status code of the answer. */
function rawCall(client: grpc.Client, path: string, stream: boolean, body: Buffer, deadlineMs = 30_000): Promise<grpc.status> {
  const ser = (b: Buffer): Buffer => b;
  const de = (b: Buffer): Buffer => b;
  const opts = { deadline: Date.now() + deadlineMs };
  return new Promise((resolve) => {
    if (stream) {
      const call = client.makeServerStreamRequest(path, ser, de, body, new grpc.Metadata(), opts);
      call.on('data', () => undefined);
      call.on('status', (s: grpc.StatusObject) => resolve(s.code));
      call.on('error', () => undefined);
    } else {
      client.makeUnaryRequest(path, ser, de, body, new grpc.Metadata(), opts, (err) => resolve(err ? (err as grpc.ServiceError).code : Code.OK));
    }
  });
}

describe('every rpc with malformed input', () => {
  let cri: Dockercri;
  let client: grpc.Client;
  beforeAll(async () => {
    cri = await startDockercri();
    client = new grpc.Client(`unix://${cri.socket}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await cri.stop();
  });

  it('answers all 41 rpcs with a clear code for empty, garbage and oversized requests', async () => {
    expect(METHODS).toHaveLength(41);
    // field 1 of every request is a string, a message or an id: 1 MiB of 'x' in it is nonsense but well-formed
    const oversized = Buffer.concat([Buffer.from([0x0a, 0x80, 0x80, 0x40]), Buffer.alloc(1 << 20, 0x78)]);
    const bodies: Array<[string, Buffer]> = [
      ['empty', Buffer.alloc(0)],
      ['garbage', Buffer.concat([Buffer.from([0xff, 0xff, 0xff]), randomBytes(61)])],
      ['oversized field', oversized],
    ];
    const seen: string[] = [];
    for (const m of METHODS) {
      for (const [kind, body] of bodies) {
        // a well-formed GetContainerEvents request opens a subscription that only the deadline ends
        const events = m.name === 'GetContainerEvents';
        const code = await rawCall(client, m.path, m.responseStream, body, events ? 1000 : 30_000);
        if (events && code === Code.DEADLINE_EXCEEDED) continue;
        seen.push(`${m.name}/${kind}=${grpc.status[code]}`);
        expect([Code.UNKNOWN, Code.INTERNAL], `${m.name} with ${kind} request`).not.toContain(code);
      }
    }
    expect(seen.length).toBeGreaterThanOrEqual((METHODS.length - 1) * bodies.length);
    expect((await cri.runtime.Version({})).runtimeName).toBe('docker');
    expect(cri.log()).not.toMatch(/"level":(50|60)/);
  });
});
