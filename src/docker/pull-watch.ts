// When a pull counts as stalled. Pure: the caller feeds it the Engine's progress messages and the time.

/**
 * The stall rule of --image-pull-progress-deadline. The Engine reports downloads often, but may say
 * nothing for minutes while it extracts a large layer onto a slow disk, so a pull is never
 * cancelled while a layer is being extracted (cri-dockerd 0.3.15 stopped cancelling in that phase
 * too); a download that stalls before, between or after extractions still is.
 */
export class PullWatch {
  private lastMs: number;
  /** Layers whose newest message is "Extracting". */
  private readonly extracting = new Set<string>();

  constructor(nowMs: number) {
    this.lastMs = nowMs;
  }

  /** Any bytes from the Engine: the pull is alive. */
  touch(nowMs: number): void {
    this.lastMs = nowMs;
  }

  /** One progress message; a layer leaves the extracting phase with its next message ("Pull complete"). */
  seen(message: { status: string; id?: string }, nowMs: number): void {
    this.lastMs = nowMs;
    if (!message.id) return;
    if (message.status === 'Extracting') this.extracting.add(message.id);
    else this.extracting.delete(message.id);
  }

  stalled(nowMs: number, deadlineMs: number): boolean {
    return this.extracting.size === 0 && nowMs - this.lastMs >= deadlineMs;
  }
}
