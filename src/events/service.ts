import { Code, CriError } from '../errors.js';
import type { runtime } from '../gen/api.js';
import type { StreamSink } from '../gen/services.js';
import type { ContainerInspect } from '../docker/client.js';
import type { ContainerIndex, IndexChange } from '../docker/container-index.js';
import type { ImageLabels } from '../docker/image-labels.js';
import { LABEL_SANDBOX_ID, LABEL_TYPE, TYPE_CONTAINER, TYPE_SANDBOX } from '../docker/naming.js';
import type { Logger } from '../log.js';
import { toContainerStatus } from '../container/status.js';
import { createdAtNs, sandboxMetadata, sandboxState } from '../sandbox/translate.js';
import { nowNs } from '../util/time.js';
import { removal, transitions, type EventTypeValue, type Known } from './transitions.js';

/** Events a subscriber may have unsent before it is dropped. */
export const MAX_QUEUED_EVENTS = 1024;

export interface EventsServiceOptions {
  /** The sandbox's status as PodSandboxStatus reports it; undefined when it is gone. */
  sandboxStatus: (sandboxId: string) => Promise<runtime.v1.IPodSandboxStatus | undefined>;
  maxQueued?: number;
}

interface Subscriber {
  sink: StreamSink<runtime.v1.IContainerEventResponse>;
  done: (err?: Error) => void;
}

/**
 * GetContainerEvents: CRI container events of containers and sandboxes, derived from the index's
 * changes (which follow Docker's event stream and resynchronise when it breaks) and sent to every
 * subscriber in order. A subscriber that does not keep up is dropped; the others never wait for it.
 */
export class EventsService {
  private readonly known = new Map<string, Known>();
  private readonly subscribers = new Set<Subscriber>();
  /** Events are enriched with statuses one after another, so they go out in the order they happened. */
  private chain: Promise<void> = Promise.resolve();
  private readonly maxQueued: number;

  constructor(
    private readonly index: ContainerIndex,
    private readonly imageLabels: ImageLabels,
    private readonly opts: EventsServiceOptions,
    private readonly log: Logger,
  ) {
    this.maxQueued = opts.maxQueued ?? MAX_QUEUED_EVENTS;
    index.onChange((change) => this.onChange(change));
  }

  private onChange(change: IndexChange): void {
    const inspect = change.kind === 'upsert' ? change.inspect : change.last;
    const type = inspect?.Config?.Labels?.[LABEL_TYPE];
    if (type !== undefined && type !== TYPE_CONTAINER && type !== TYPE_SANDBOX) return;
    const prev = this.known.get(change.dockerId);
    let events: EventTypeValue[];
    if (change.kind === 'upsert') {
      const t = transitions(prev, change.inspect);
      events = t.events;
      if (t.next) this.known.set(change.dockerId, t.next);
    } else {
      events = removal(prev);
      this.known.delete(change.dockerId);
    }
    if (events.length === 0 || this.subscribers.size === 0 || !inspect) return;
    const at = nowNs();
    this.chain = this.chain
      .then(async () => {
        const base = await this.describe(inspect);
        for (const containerEventType of events) this.broadcast({ ...base, containerId: inspect.Id, containerEventType, createdAt: at });
      })
      .catch((err: Error) => this.log.error({ err: err.message, dockerId: change.dockerId }, 'cannot send container event'));
  }

  /** The pod sandbox status and the container statuses of the object's pod. */
  private async describe(inspect: ContainerInspect): Promise<Pick<runtime.v1.IContainerEventResponse, 'podSandboxStatus' | 'containersStatuses'>> {
    const isSandbox = inspect.Config?.Labels?.[LABEL_TYPE] === TYPE_SANDBOX;
    const sandboxId = isSandbox ? inspect.Id : inspect.Config?.Labels?.[LABEL_SANDBOX_ID] ?? '';
    const sandbox = isSandbox ? inspect : this.index.get(sandboxId);
    const podSandboxStatus =
      (await this.opts.sandboxStatus(sandboxId).catch(() => undefined)) ??
      (sandbox ? { id: sandbox.Id, metadata: sandboxMetadata(sandbox), state: sandboxState(sandbox), createdAt: createdAtNs(sandbox) } : { id: sandboxId });
    const members = [...this.index.values()].filter((c) => c.Config?.Labels?.[LABEL_TYPE] === TYPE_CONTAINER && c.Config?.Labels?.[LABEL_SANDBOX_ID] === sandboxId);
    const containersStatuses: runtime.v1.IContainerStatus[] = [];
    for (const c of members) containersStatuses.push(toContainerStatus(c, await this.imageLabels.facts(c.Image), undefined));
    return { podSandboxStatus, containersStatuses };
  }

  private broadcast(event: runtime.v1.IContainerEventResponse): void {
    for (const sub of this.subscribers) {
      if (sub.sink.writableLength >= this.maxQueued) {
        this.subscribers.delete(sub);
        this.log.warn({ queued: sub.sink.writableLength }, 'GetContainerEvents subscriber does not keep up: dropped');
        sub.done(new CriError(Code.RESOURCE_EXHAUSTED, `GetContainerEvents: the client fell ${this.maxQueued} events behind and was dropped; subscribe again and relist`));
        continue;
      }
      sub.sink.write(event);
    }
  }

  async GetContainerEvents(_request: runtime.v1.GetEventsRequest, sink: StreamSink<runtime.v1.IContainerEventResponse>): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const sub: Subscriber = {
        sink,
        done: (err) => {
          this.subscribers.delete(sub);
          if (err) reject(err);
          else resolve();
        },
      };
      this.subscribers.add(sub);
      sink.on('cancelled', () => sub.done());
      sink.on('close', () => sub.done());
    });
  }

  /** Ends every subscription (shutdown). */
  close(): void {
    for (const sub of [...this.subscribers]) sub.done();
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }
}
