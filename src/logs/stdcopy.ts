// Docker's multiplexed stream (logs and attach of a container without a TTY): frames of an 8-byte
// header (stream type: 0 stdin, 1 stdout, 2 stderr, 3 an Engine error; three zero bytes; the payload
// length as a big-endian uint32) and the payload. Pure and streaming: chunks may cut frames anywhere.

import { ByteQueue } from '../util/byte-queue.js';

export type FrameStream = 'stdin' | 'stdout' | 'stderr' | 'system';

export interface Frame {
  stream: FrameStream;
  payload: Buffer;
}

const HEADER_BYTES = 8;
const STREAMS: readonly FrameStream[] = ['stdin', 'stdout', 'stderr', 'system'];
/** A log frame is one message (json-file: at most 16 KiB); a header announcing more is corruption, not a reason to buffer. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;

export class StdcopyError extends Error {}

export class StdcopyDemuxer {
  private readonly queue = new ByteQueue();
  private header: { stream: FrameStream; length: number } | undefined;

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /** The frames `chunk` completes, in order; a frame not yet complete waits for the next chunk. */
  push(chunk: Buffer): Frame[] {
    this.queue.push(chunk);
    const frames: Frame[] = [];
    for (;;) {
      if (!this.header) {
        if (this.queue.size < HEADER_BYTES) break;
        const head = this.queue.take(HEADER_BYTES);
        const stream = STREAMS[head[0]!];
        if (!stream || head[1] !== 0 || head[2] !== 0 || head[3] !== 0) {
          throw new StdcopyError(`not a multiplexed stream: frame header ${head.toString('hex')}`);
        }
        const length = head.readUInt32BE(4);
        if (length > this.maxFrameBytes) throw new StdcopyError(`frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
        this.header = { stream, length };
      }
      if (this.queue.size < this.header.length) break;
      frames.push({ stream: this.header.stream, payload: this.queue.take(this.header.length) });
      this.header = undefined;
    }
    return frames;
  }

  /** Bytes of a frame still incomplete: 0 when the stream ended on a frame boundary. */
  get pending(): number {
    return this.queue.size + (this.header ? HEADER_BYTES : 0);
  }
}
