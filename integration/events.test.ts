// GetContainerEvents through the real dockercri process: two subscribers at once both see a
// container's create, start, stop and delete, in order, with the pod's statuses, and the pod
// sandbox's own events. Every object carries this file's run label.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockercri, subscribeEvents, uniq, type Dockercri, type EventSubscription } from './harness.js';
import { eventually, removeRunContainers, runPodWithContainer, untilSubscribed } from './pods.js';

const run = uniq('events');
const Event = { CREATED: 0, STARTED: 1, STOPPED: 2, DELETED: 3 } as const;

let cri: Dockercri;
let tmp: string;

const typesOf = (sub: EventSubscription, id: string): number[] => sub.events.filter((e) => e.containerId === id).map((e) => e.containerEventType ?? 0);

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'dcri-events-'));
  cri = await startDockercri();
});

afterAll(async () => {
  await cri?.stop();
  await removeRunContainers(run);
});

describe('GetContainerEvents', () => {
  it('gives two subscribers create, start, stop and delete of a container in order', async () => {
    const a = subscribeEvents(cri.socket);
    const b = subscribeEvents(cri.socket);
    try {
      await untilSubscribed(cri.runtime, [a, b], run);
      const { sandboxId, containerId, podName } = await runPodWithContainer(cri.runtime, { run, logRoot: tmp, command: ['sleep', '100000'] });
      await cri.runtime.StopContainer({ containerId, timeout: 0 });
      await cri.runtime.RemoveContainer({ containerId });
      await cri.runtime.StopPodSandbox({ podSandboxId: sandboxId });
      await cri.runtime.RemovePodSandbox({ podSandboxId: sandboxId });

      const all = [Event.CREATED, Event.STARTED, Event.STOPPED, Event.DELETED];
      for (const sub of [a, b]) {
        expect(await eventually(async () => typesOf(sub, containerId).length >= 4 && typesOf(sub, sandboxId).length >= 4)).toBe(true);
        expect(typesOf(sub, containerId)).toEqual(all);
        expect(typesOf(sub, sandboxId)).toEqual(all);
        const started = sub.events.find((e) => e.containerId === containerId && e.containerEventType === Event.STARTED)!;
        expect(started.podSandboxStatus?.id).toBe(sandboxId);
        expect(started.podSandboxStatus?.metadata?.name).toBe(podName);
        expect(started.containersStatuses?.map((s) => s.id)).toContain(containerId);
        expect(Number(String(started.createdAt))).toBeGreaterThan((Date.now() - 120_000) * 1e6);
        // the sandbox ran before its container was created, and was deleted after the container
        const order = sub.events.filter((e) => e.containerId === containerId || e.containerId === sandboxId).map((e) => `${e.containerId === sandboxId ? 's' : 'c'}${e.containerEventType}`);
        expect(order.indexOf('s1')).toBeLessThan(order.indexOf('c0'));
        expect(order.indexOf('c3')).toBeLessThan(order.indexOf('s3'));
        expect(sub.error).toBeUndefined();
      }
    } finally {
      a.close();
      b.close();
    }
  });
});
