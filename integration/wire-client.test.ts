// The bench times dockercri through bench/wire-client.ts: it must get the answers grpc-js gets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWire, unframe, WireCallError } from '../bench/wire-client.js';
import { Code } from '../src/errors.js';
import type { runtime } from '../src/gen/api.js';
import { startDockercri, type Dockercri } from './harness.js';

describe("the bench's wire client", () => {
  let cri: Dockercri;
  let wire: ReturnType<typeof connectWire>;
  let podSandboxId: string;
  beforeAll(async () => {
    cri = await startDockercri();
    wire = connectWire(cri.socket);
    const config = { metadata: { name: `wire-${process.pid}`, namespace: 'wire-client', uid: `wire-${process.pid}`, attempt: 0 }, linux: {} };
    podSandboxId = (await cri.runtime.RunPodSandbox({ config })).podSandboxId as string;
  });
  afterAll(async () => {
    await cri.runtime.RemovePodSandbox({ podSandboxId });
    wire.close();
    await cri.stop();
  });

  it('gets the answers grpc-js gets, for unary and streaming rpcs', async () => {
    expect(await wire.runtime.Version({})).toEqual(await cri.runtime.Version({}));
    expect(await wire.runtime.PodSandboxStatus({ podSandboxId })).toEqual(await cri.runtime.PodSandboxStatus({ podSandboxId }));
    const streamed = (await wire.runtime.StreamPodSandboxes({ filter: { id: podSandboxId } })) as runtime.v1.IStreamPodSandboxesResponse[];
    expect(streamed.flatMap((batch) => batch.podSandboxes ?? []).map((s) => s.id)).toEqual([podSandboxId]);
  });

  it('rejects with the status code and message the server sent', async () => {
    const err = (await wire.runtime.ContainerStatus({ containerId: 'f'.repeat(64) }).catch((e: unknown) => e)) as WireCallError;
    expect(err).toBeInstanceOf(WireCallError);
    expect(err.code).toBe(Code.NOT_FOUND);
    expect(err.details).toContain('no container with ID');
  });

  it('reads every message of a body and refuses a cut-off one', () => {
    const body = Buffer.from([0, 0, 0, 0, 2, 8, 1, 0, 0, 0, 0, 0]);
    expect(unframe(body).map((m) => [...m])).toEqual([[8, 1], []]);
    expect(() => unframe(body.subarray(0, 6))).toThrow(/inside a message/);
    expect(() => unframe(body.subarray(0, 3))).toThrow(/inside a frame header/);
  });
});
