import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Code, CriError } from '../errors.js';
import type { ContainerInspect } from '../docker/client.js';
import type { ContainerIndex, IndexChange } from '../docker/container-index.js';
import type { ImageLabels } from '../docker/image-labels.js';
import { createLogger } from '../log.js';
import { EventsService } from './service.js';

/** A stand-in for the index: the events room only listens to it and reads it. */
class FakeIndex {
  listener?: (c: IndexChange) => void;
  entries = new Map<string, ContainerInspect>();
  onChange(l: (c: IndexChange) => void): () => void {
    this.listener = l;
    return () => undefined;
  }
  get(id: string): ContainerInspect | undefined {
    return this.entries.get(id);
  }
  values(): IterableIterator<ContainerInspect> {
    return this.entries.values();
  }
  upsert(inspect: ContainerInspect): void {
    this.entries.set(inspect.Id, inspect);
    this.listener?.({ kind: 'upsert', dockerId: inspect.Id, inspect });
  }
}

/** A sink whose client reads nothing once `stalled`: writes pile up in writableLength. */
class FakeSink extends EventEmitter {
  written: Array<{ containerId?: string; containerEventType?: number }> = [];
  writableLength = 0;
  stalled = false;
  write(e: { containerId?: string; containerEventType?: number }): boolean {
    this.written.push(e);
    if (this.stalled) this.writableLength++;
    return true;
  }
}

const container = (id: string, Status: string, StartedAt = '0001-01-01T00:00:00Z'): ContainerInspect =>
  ({ Id: id, Name: `/k8s_c_p_ns_uid_0`, Image: 'img', Created: '2024-01-01T00:00:00Z', State: { Status, StartedAt }, Config: { Labels: { 'io.kubernetes.docker.type': 'container', 'io.kubernetes.sandbox.id': 'sb' } } }) as unknown as ContainerInspect;

function setup(maxQueued = 3) {
  const index = new FakeIndex();
  const labels = { facts: async () => ({ labels: {}, repoDigests: [] }), get: async () => ({}) } as unknown as ImageLabels;
  const svc = new EventsService(index as unknown as ContainerIndex, labels, { sandboxStatus: async (id) => ({ id }), maxQueued }, createLogger('silent'));
  return { index, svc };
}

const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 10));

describe('EventsService', () => {
  it('sends each transition once, in order, to every subscriber', async () => {
    const { index, svc } = setup();
    const a = new FakeSink();
    const b = new FakeSink();
    void svc.GetContainerEvents({} as never, a as never);
    void svc.GetContainerEvents({} as never, b as never);
    index.upsert(container('c1', 'created'));
    index.upsert(container('c1', 'created'));
    index.upsert(container('c1', 'running', '2024-01-01T00:00:01Z'));
    index.upsert(container('c1', 'exited', '2024-01-01T00:00:01Z'));
    await flush();
    for (const s of [a, b]) {
      expect(s.written.map((e) => e.containerEventType)).toEqual([0, 1, 2]);
      expect(s.written[0]).toMatchObject({ containerId: 'c1', podSandboxStatus: { id: 'sb' } });
    }
  });

  it('drops a subscriber that falls behind with RESOURCE_EXHAUSTED and keeps serving the others', async () => {
    const { index, svc } = setup(2);
    const slow = new FakeSink();
    slow.stalled = true;
    const fast = new FakeSink();
    const slowDone = svc.GetContainerEvents({} as never, slow as never).catch((e: unknown) => e);
    void svc.GetContainerEvents({} as never, fast as never);
    for (let i = 0; i < 5; i++) index.upsert(container(`c${i}`, 'created'));
    await flush();
    const err = (await slowDone) as CriError;
    expect(err).toBeInstanceOf(CriError);
    expect(err.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(slow.written).toHaveLength(2);
    expect(fast.written).toHaveLength(5);
    expect(svc.subscriberCount).toBe(1);
  });

  it('ends a subscription when the client goes away', async () => {
    const { svc } = setup();
    const s = new FakeSink();
    const done = svc.GetContainerEvents({} as never, s as never);
    s.emit('cancelled');
    await expect(done).resolves.toBeUndefined();
    expect(svc.subscriberCount).toBe(0);
  });
});
