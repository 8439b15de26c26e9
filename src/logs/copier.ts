// What the container rooms see of a log copier, of either kind: the file copier (Docker's json-file
// on disk, file-copier.ts) or the logs-API copier (api-copier.ts).

export interface FollowedContainer {
  dockerId: string;
  /** The CRI log path: the sandbox's log_directory joined with the container's log_path. */
  logPath: string;
  tty: boolean;
  /** Docker's LogPath (known once the container has started). */
  dockerLogPath?: string;
  /** Docker's log driver for the container (HostConfig.LogConfig.Type). */
  logDriver?: string;
  /** Docker's max-size for the container's log, in bytes, when set. */
  maxSizeBytes?: number;
}

/** What a copier of either kind (file or logs API) offers the container rooms. */
export interface Copier {
  readonly done: Promise<void>;
  /** The container has exited: copy what is left, then end. */
  exited(): void;
  reopen(): Promise<void>;
  stop(): Promise<void>;
  status(): CopyStatus;
}

export interface CopyStatus {
  /** Where lines are read: Docker's json-file on disk, or the Engine's logs API. */
  source: 'json-file' | 'logs-api';
  state: 'starting' | 'copying' | 'waiting' | 'failing' | 'done';
  /** The last problem, while it lasts. */
  error?: string;
  /** Bytes of output known to be lost (Docker rotated past them before they were copied). */
  lostBytes: number;
}

