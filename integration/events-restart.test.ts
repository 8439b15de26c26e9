// GetContainerEvents while the Docker Engine underneath is stopped (SIGTERM) or killed (SIGKILL)
// and started again. The engine is a private one (the shared engine is never touched); without
// live-restore its containers die with it. dockercri keeps every subscriber's stream open across
// the break and resynchronises with Docker when it is back, so a subscriber connected throughout
// gets the STOPPED events of what died and then the events of what happens afterwards.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateEngine } from './engine.js';
import { BUSYBOX, startDockercri, subscribeEvents, testEnv, uniq, type Dockercri, type EventSubscription } from './harness.js';
import { NS, eventually, runPodWithContainer, untilSubscribed } from './pods.js';

const run = uniq('events-restart');
const Event = { CREATED: 0, STARTED: 1, STOPPED: 2, DELETED: 3 } as const;
const ALL = [Event.CREATED, Event.STARTED, Event.STOPPED, Event.DELETED];
/** Polls of 100 ms: dockercri retries Docker every second, and the engine may take a while to come back. */
const RECOVERY_POLLS = 600;

let engine: PrivateEngine;
let cri: Dockercri;

const typesOf = (sub: EventSubscription, id: string): number[] => sub.events.filter((e) => e.containerId === id).map((e) => e.containerEventType ?? 0);
/** Where in the subscriber's stream the first event of this type for this object arrived. */
const positionOf = (sub: EventSubscription, id: string, type: number): number => sub.events.findIndex((e) => e.containerId === id && e.containerEventType === type);

/** Runs a pod (on the private engine's own network namespace) with one running busybox container. */
async function runPodWithSleeper(): Promise<{ sandboxId: string; containerId: string }> {
  return runPodWithContainer(cri.runtime, { run, logRoot: join(engine.dir, 'pods'), command: ['sleep', '100000'], network: NS.NODE });
}

async function removePod(pod: { sandboxId: string; containerId: string }): Promise<void> {
  await cri.runtime.StopContainer({ containerId: pod.containerId, timeout: 0 });
  await cri.runtime.RemoveContainer({ containerId: pod.containerId });
  await cri.runtime.StopPodSandbox({ podSandboxId: pod.sandboxId });
  await cri.runtime.RemovePodSandbox({ podSandboxId: pod.sandboxId });
}

beforeAll(async () => {
  // sleep as PID 1 ignores SIGTERM: a clean engine shutdown need not wait the default 15 s for it
  engine = await PrivateEngine.create({ args: ['--shutdown-timeout=1'] });
  await engine.loadImages(BUSYBOX, testEnv().pauseImage);
  cri = await startDockercri({ args: [`--docker-endpoint=${engine.endpoint}`, `--cri-dockerd-root-directory=${join(engine.dir, 'cri-root')}`] });
});

afterAll(async () => {
  const failures: unknown[] = [];
  await cri?.stop().catch((err) => failures.push(err));
  // the engine's containers go with its directory
  await engine?.cleanup().catch((err) => failures.push(err));
  if (failures.length > 0) throw failures[0];
});

describe('GetContainerEvents across a restart of Docker', () => {
  it.each(['SIGTERM', 'SIGKILL'] as const)('a subscriber connected across a %s of the engine misses no transition', async (signal) => {
    const subs = [subscribeEvents(cri.socket), subscribeEvents(cri.socket)];
    try {
      await untilSubscribed(cri.runtime, subs, run);
      const before = await runPodWithSleeper();
      for (const sub of subs) expect(await eventually(async () => typesOf(sub, before.containerId).includes(Event.STARTED))).toBe(true);

      const marks = subs.map((s) => s.events.length);
      await engine.stop({ signal });
      await engine.start();

      // the pod and its container died with the engine: each subscriber hears so, once, in order
      for (const [i, sub] of subs.entries()) {
        const heard = await eventually(async () => typesOf(sub, before.containerId).includes(Event.STOPPED) && typesOf(sub, before.sandboxId).includes(Event.STOPPED), RECOVERY_POLLS);
        expect(heard, `no STOPPED events after the ${signal}; dockercri log tail:\n${cri.log().slice(-3000)}`).toBe(true);
        expect(typesOf(sub, before.containerId)).toEqual([Event.CREATED, Event.STARTED, Event.STOPPED]);
        expect(typesOf(sub, before.sandboxId)).toEqual([Event.CREATED, Event.STARTED, Event.STOPPED]);
        expect(positionOf(sub, before.containerId, Event.STOPPED)).toBeGreaterThanOrEqual(marks[i]!);
        const stopped = sub.events[positionOf(sub, before.containerId, Event.STOPPED)]!;
        expect(stopped.containersStatuses?.find((s) => s.id === before.containerId)?.state).toBe(2); // CONTAINER_EXITED
      }
      expect((await cri.runtime.ContainerStatus({ containerId: before.containerId })).status?.state).toBe(2);

      // the same streams go on with what happens after the restart
      const after = await runPodWithSleeper();
      await removePod(after);
      await removePod(before);
      for (const sub of subs) {
        const done = await eventually(async () => [after.containerId, after.sandboxId, before.containerId, before.sandboxId].every((id) => typesOf(sub, id).includes(Event.DELETED)));
        expect(done).toBe(true);
        expect(typesOf(sub, after.containerId)).toEqual(ALL);
        expect(typesOf(sub, after.sandboxId)).toEqual(ALL);
        expect(typesOf(sub, before.containerId)).toEqual(ALL);
        expect(typesOf(sub, before.sandboxId)).toEqual(ALL);
        expect(positionOf(sub, after.sandboxId, Event.CREATED)).toBeGreaterThan(positionOf(sub, before.containerId, Event.STOPPED));
        // the stream never ended: no status, no end
        expect(sub.error).toBeUndefined();
        expect(sub.ended).toBe(false);
      }
      expect(cri.proc.exitCode).toBeNull();
    } finally {
      for (const sub of subs) sub.close();
    }
  });
});
