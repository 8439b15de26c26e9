import { describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import type { ContainerInspect, DockerClient, DockerEvent } from './client.js';
import { ContainerIndex } from './container-index.js';
import { LABEL_TYPE, TYPE_CONTAINER } from './naming.js';

const inspect = (id: string): ContainerInspect => ({ Id: id, Config: { Labels: { [LABEL_TYPE]: TYPE_CONTAINER } }, State: { Status: 'running' } }) as unknown as ContainerInspect;

/** A stand-in Engine whose listing the test can hold, and whose event streams it can end. */
function fakeEngine() {
  const containers = new Map<string, ContainerInspect>([['a'.repeat(64), inspect('a'.repeat(64))]]);
  const streams: { onEvent: (e: DockerEvent) => void; onEnd: (err?: Error) => void }[] = [];
  let listings = 0;
  const docker = {
    holdListing: undefined as Promise<void> | undefined,
    async subscribeEvents(_filter: unknown, onEvent: (e: DockerEvent) => void, onEnd: (err?: Error) => void) {
      streams.push({ onEvent, onEnd });
      return { close: () => undefined };
    },
    async listContainerIds(): Promise<string[]> {
      listings++;
      const ids = [...containers.keys()];
      await docker.holdListing;
      return ids;
    },
    async inspectContainer(id: string): Promise<ContainerInspect | undefined> {
      return containers.get(id);
    },
  };
  return { docker, containers, streams, listings: () => listings };
}

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

/** An index on a stand-in Engine whose first listing waits for `release`. */
function heldIndex() {
  const e = fakeEngine();
  let release: (() => void) | undefined;
  e.docker.holdListing = new Promise<void>((r) => (release = r));
  const index = new ContainerIndex(e.docker as unknown as DockerClient, createLogger('silent'));
  return { e, index, release: () => release!() };
}

describe('ContainerIndex', () => {
  it('is not synchronised by a listing during which the stream broke, and lists again on the next stream', async () => {
    const { e, index, release } = heldIndex();
    let syncs = 0;
    let losses = 0;
    index.onSync(() => syncs++);
    index.onLost(() => losses++);
    const started = index.start();
    await until(() => e.listings() === 1);
    e.streams[0]!.onEnd(new Error('Docker restarted'));
    e.docker.holdListing = undefined;
    release();
    await started;
    expect(index.isSynced).toBe(false);
    expect(syncs).toBe(0);
    expect(losses).toBe(1);

    await until(() => index.isSynced);
    expect(e.listings()).toBe(2);
    expect(syncs).toBe(1);
    expect(index.get('a'.repeat(64))?.Id).toBe('a'.repeat(64));
    index.stop();
  });

  it('applies the events that arrived during the listing once it is in', async () => {
    const { e, index, release } = heldIndex();
    const started = index.start();
    await until(() => e.listings() === 1);
    const b = 'b'.repeat(64);
    e.containers.set(b, inspect(b));
    e.streams[0]!.onEvent({ Type: 'container', Action: 'create', Actor: { ID: b } });
    expect(index.get(b)).toBeUndefined();
    release();
    await started;
    expect(index.isSynced).toBe(true);
    await until(() => index.get(b) !== undefined);
    index.stop();
  });

  it('ends no listing in a sync after stop()', async () => {
    const { e, index, release } = heldIndex();
    let syncs = 0;
    index.onSync(() => syncs++);
    const started = index.start();
    await until(() => e.listings() === 1);
    index.stop();
    release();
    await started;
    expect(index.isSynced).toBe(false);
    expect(syncs).toBe(0);
  });
});
