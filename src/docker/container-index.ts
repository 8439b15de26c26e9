import { Code, CriError, invalidArgument, notFound } from '../errors.js';
import type { Logger } from '../log.js';
import { mapLimit } from '../util/pool.js';
import type { ContainerInspect, DockerClient, DockerEvent } from './client.js';
import { EventFollow } from './event-follow.js';
import { LABEL_TYPE, TYPE_SANDBOX } from './naming.js';

export type IndexChange = { kind: 'upsert'; dockerId: string; inspect: ContainerInspect; event?: DockerEvent } | { kind: 'remove'; dockerId: string; last?: ContainerInspect; event?: DockerEvent };

const RESYNC_DELAY_MS = 1000;
const WAIT_FOR_SYNC_MS = 5000;

/**
 * dockercri's mirror of every CRI object Docker holds (sandboxes and containers, found by the
 * io.kubernetes.docker.type label), so List and Status rpcs answer from memory. It is built from one
 * full listing, kept current by Docker's event stream, rebuilt whenever that stream breaks, and
 * updated at once by dockercri's own mutations through refresh().
 */
export class ContainerIndex {
  private readonly entries = new Map<string, ContainerInspect>();
  /** Per-container chain of refreshes, so an older inspect never overwrites a newer one. */
  private readonly pending = new Map<string, Promise<void>>();
  private readonly listeners = new Set<(change: IndexChange) => void>();
  private readonly syncListeners = new Set<() => void>();
  private readonly lostListeners = new Set<() => void>();
  /** Docker IDs and names of containers dockercri is changing, with how many changes are running. */
  private readonly changing = new Map<string, number>();
  private readonly events: EventFollow;
  /** Events that arrive while Docker's containers are being listed, handled once the listing is in. */
  private buffered: DockerEvent[] | undefined = [];
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  lastSyncError?: string;

  constructor(private readonly docker: DockerClient, private readonly log: Logger) {
    // subscribed before listing, so nothing that happens during the listing is missed
    this.events = new EventFollow(
      docker,
      { type: 'container', label: LABEL_TYPE },
      {
        onEvent: (e) => (this.buffered ? this.buffered.push(e) : this.onEvent(e)),
        onOpen: () => this.sync(),
        onLost: (err, opened) => this.lost(err, opened),
      },
      RESYNC_DELAY_MS,
    );
  }

  /** Starts following Docker; resolves after the first sync attempt, successful or not. */
  start(): Promise<void> {
    return this.events.start();
  }

  stop(): void {
    // a listing still running does not end in a sync
    this.buffered = [];
    this.synced = false;
    this.events.stop();
  }

  get isSynced(): boolean {
    return this.synced;
  }

  onChange(listener: (change: IndexChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls `listener` after every full synchronisation with Docker: at start and after each reconnect. */
  onSync(listener: () => void): () => void {
    this.syncListeners.add(listener);
    return () => this.syncListeners.delete(listener);
  }

  private async sync(): Promise<void> {
    const buffer = this.buffered ?? [];
    this.buffered = buffer;
    const ids = await this.docker.listContainerIds(LABEL_TYPE);
    const seen = new Set(ids);
    await mapLimit(ids, 8, (id) => this.refresh(id));
    // the stream broke during the listing: the next one lists again
    if (this.buffered !== buffer) return;
    for (const id of [...this.entries.keys()]) if (!seen.has(id)) this.apply({ kind: 'remove', dockerId: id, last: this.entries.get(id) });
    this.buffered = undefined;
    for (const e of buffer) this.onEvent(e);
    this.synced = true;
    this.lastSyncError = undefined;
    for (const w of this.syncWaiters.splice(0)) w();
    this.log.info({ objects: this.entries.size }, 'index synchronised with Docker');
    for (const l of this.syncListeners) {
      try {
        l();
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'index sync listener failed');
      }
    }
  }

  /** Calls `listener` whenever the index stops mirroring Docker (its event stream broke, or Docker is down). */
  onLost(listener: () => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  private lost(err: Error | undefined, opened: boolean): void {
    this.synced = false;
    this.buffered = [];
    for (const l of this.lostListeners) l();
    if (opened) {
      this.log.warn({ err: err?.message }, 'Docker event stream ended; resynchronising');
    } else {
      this.lastSyncError = err?.message;
      this.log.warn({ err: this.lastSyncError }, 'cannot follow Docker yet; retrying');
    }
  }

  private onEvent(e: DockerEvent): void {
    const id = e.Actor?.ID;
    if (!id) return;
    if (e.Action === 'destroy') {
      void this.chain(id, async () => this.apply({ kind: 'remove', dockerId: id, last: this.entries.get(id), event: e }));
      return;
    }
    // exec_* and attach events say nothing about the container's own state
    if (e.Action.startsWith('exec_') || e.Action === 'attach' || e.Action === 'resize' || e.Action === 'top') return;
    // the change's own read follows Docker's answer (see change())
    if (this.changing.has(id) || (e.Action === 'create' && this.changing.has(e.Actor.Attributes?.name ?? ''))) return;
    void this.refresh(id, e).catch((err: Error) => this.log.warn({ dockerId: id, err: err.message }, 'cannot refresh after event'));
  }

  private chain(id: string, work: () => Promise<void>): Promise<void> {
    const prev = this.pending.get(id) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(work);
    this.pending.set(id, next);
    void next.finally(() => {
      if (this.pending.get(id) === next) this.pending.delete(id);
    }).catch(() => undefined);
    return next;
  }

  /** Re-reads one container from Docker into the index (or drops it when Docker has none). */
  refresh(dockerId: string, event?: DockerEvent): Promise<void> {
    return this.chain(dockerId, async () => {
      const inspect = await this.docker.inspectContainer(dockerId);
      if (inspect && inspect.Config?.Labels?.[LABEL_TYPE]) this.apply({ kind: 'upsert', dockerId: inspect.Id, inspect, event });
      else this.apply({ kind: 'remove', dockerId, last: this.entries.get(dockerId), event });
    });
  }

  /**
   * Runs `work`, a change dockercri makes to the container with Docker ID or name `key`, then
   * reads that container again: by the ID `idOf` gives for the result, or by `key` when it failed.
   * Docker's events for the container meanwhile start no read of their own: a read while Docker is
   * still answering makes the answer slower (a create by 2 to 4 ms, as Docker is still writing the
   * new container's files), and the read after the answer sees at least what they would have.
   */
  async change<T>(key: string, work: () => Promise<T>, idOf: (result: T) => string = () => key): Promise<T> {
    this.changing.set(key, (this.changing.get(key) ?? 0) + 1);
    const done = (): void => {
      const left = (this.changing.get(key) ?? 1) - 1;
      if (left > 0) this.changing.set(key, left);
      else this.changing.delete(key);
    };
    let result: T;
    try {
      result = await work();
    } catch (err) {
      done();
      await this.refresh(key).catch(() => undefined);
      throw err;
    }
    done();
    await this.refresh(idOf(result));
    return result;
  }

  /** Drops a container dockercri has just removed. */
  forget(dockerId: string): void {
    void this.chain(dockerId, async () => this.apply({ kind: 'remove', dockerId, last: this.entries.get(dockerId) }));
  }

  private apply(change: IndexChange): void {
    if (change.kind === 'upsert') this.entries.set(change.dockerId, change.inspect);
    else if (this.entries.has(change.dockerId)) this.entries.delete(change.dockerId);
    else if (!change.event) return;
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'index listener failed');
      }
    }
  }

  /** Resolves once the index mirrors Docker; UNAVAILABLE when Docker cannot be followed in time. */
  async ready(): Promise<void> {
    if (this.synced) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== done);
        reject(new CriError(Code.UNAVAILABLE, `Docker Engine is unreachable: ${this.lastSyncError ?? 'the event stream is reconnecting'}`));
      }, WAIT_FOR_SYNC_MS);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.syncWaiters.push(done);
    });
  }

  get(dockerId: string): ContainerInspect | undefined {
    return this.entries.get(dockerId);
  }

  values(): IterableIterator<ContainerInspect> {
    return this.entries.values();
  }

  /**
   * What an rpc asks for by `container_id` or `pod_sandbox_id` (full ID or unique prefix), once the
   * index mirrors Docker; undefined when there is none. A missing or overlong id is INVALID_ARGUMENT.
   */
  async find(id: string | null | undefined, type: string, rpc: string): Promise<ContainerInspect | undefined> {
    const field = type === TYPE_SANDBOX ? 'pod_sandbox_id' : 'container_id';
    if (!id) throw invalidArgument(`${rpc}: ${field} is required`);
    if (id.length > 128) throw invalidArgument(`${rpc}: ${field} is longer than a Docker ID`);
    await this.ready();
    return this.resolve(id, type);
  }

  /** find(), with NOT_FOUND when there is no such object. */
  async mustFind(id: string | null | undefined, type: string, rpc: string): Promise<ContainerInspect> {
    const found = await this.find(id, type, rpc);
    if (!found) throw notFound(`${rpc}: no ${type === TYPE_SANDBOX ? 'pod sandbox' : 'container'} with ID ${id}`);
    return found;
  }

  /** The object of the given type with this full ID or unique ID prefix; an ambiguous prefix matches nothing, as in Docker. */
  resolve(idOrPrefix: string, type: string): ContainerInspect | undefined {
    const exact = this.entries.get(idOrPrefix);
    if (exact) return exact.Config?.Labels?.[LABEL_TYPE] === type ? exact : undefined;
    if (!/^[0-9a-f]{1,63}$/.test(idOrPrefix)) return undefined;
    let found: ContainerInspect | undefined;
    for (const [id, c] of this.entries) {
      if (!id.startsWith(idOrPrefix) || c.Config?.Labels?.[LABEL_TYPE] !== type) continue;
      if (found) return undefined;
      found = c;
    }
    return found;
  }
}
