import type { DockerClient, DockerEvent, EventFilter, EventSubscription } from './client.js';

const RETRY_MS = 1000;

export interface FollowHandlers {
  onEvent(e: DockerEvent): void;
  /**
   * Runs each time the stream opens, before `following` turns true (the index lists Docker's
   * containers here). Events may already arrive meanwhile. A throw closes the stream and retries.
   */
  onOpen?(): Promise<void> | void;
  /** The stream could not be opened (`opened` false) or it ended; a retry is scheduled. */
  onLost?(err: Error | undefined, opened: boolean): void;
}

/**
 * One of Docker's event streams, followed for as long as dockercri runs: opened again a second
 * after it breaks (Docker restarting ends every stream), or after it could not be opened.
 * Whatever is kept from such a stream is only as good as `following`.
 */
export class EventFollow {
  private subscription?: EventSubscription;
  private retryTimer?: NodeJS.Timeout;
  private stopped = false;
  private open = false;

  constructor(
    private readonly docker: Pick<DockerClient, 'subscribeEvents'>,
    private readonly filter: EventFilter,
    private readonly handlers: FollowHandlers,
    private readonly retryMs = RETRY_MS,
  ) {}

  /** True while the stream is open and its onOpen has finished. */
  get following(): boolean {
    return this.open;
  }

  /** Resolves after the first attempt to open the stream, successful or not. */
  start(): Promise<void> {
    return this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.open = false;
    clearTimeout(this.retryTimer);
    const subscription = this.subscription;
    this.subscription = undefined;
    subscription?.close();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let subscription: EventSubscription | undefined;
    // a stream may end before subscribeEvents has handed it over
    let endedEarly: { err?: Error } | undefined;
    try {
      subscription = await this.docker.subscribeEvents(
        this.filter,
        (e) => this.handlers.onEvent(e),
        (err) => {
          if (!subscription) {
            endedEarly = { err };
            return;
          }
          if (this.subscription !== subscription) return;
          this.subscription = undefined;
          this.lost(err, true);
        },
      );
      if (this.stopped) return subscription.close();
      if (endedEarly) return this.lost(endedEarly.err, true);
      this.subscription = subscription;
      await this.handlers.onOpen?.();
      if (this.subscription !== subscription) return;
      this.open = true;
    } catch (err) {
      if (subscription && this.subscription !== subscription) return;
      this.subscription = undefined;
      subscription?.close();
      this.lost(err as Error, false);
    }
  }

  private lost(err: Error | undefined, opened: boolean): void {
    this.open = false;
    if (this.stopped) return;
    this.handlers.onLost?.(err, opened);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), this.retryMs);
    this.retryTimer.unref();
  }
}
