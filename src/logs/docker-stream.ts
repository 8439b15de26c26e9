// Docker's log stream (GET /containers/{id}/logs?timestamps=1) as messages. Pure and streaming.
//
// Without a TTY the stream is multiplexed: one frame per message, "<timestamp> <text>". With a TTY
// it is raw: "<timestamp> <text>" messages one after the other, each ending in "\n" except the
// parts of a line longer than Docker's 16 KiB line buffer (and output cut off by the exit), so a
// message also ends after 16 KiB of text when a timestamp follows.
import { MAX_LINE_CONTENT, MAX_TIMESTAMP_LENGTH, parseDockerMessage, TIMESTAMP, type LogStream } from './cri-format.js';
import { StdcopyDemuxer } from './stdcopy.js';

export interface LogMessage {
  stream: LogStream;
  timestamp: string;
  /** Ends in "\n" for a whole line (or its last part). */
  text: Buffer;
}

export interface LogDecoder {
  /** The messages `chunk` completes, in order. */
  push(chunk: Buffer): LogMessage[];
  /** What is left when the stream ends. */
  end(): LogMessage[];
}

/** Told about what the decoder drops, so it can be logged. */
export type ProblemSink = (problem: string) => void;

export function logDecoder(tty: boolean, onProblem: ProblemSink): LogDecoder {
  return tty ? new RawDecoder(onProblem) : new MultiplexedDecoder(onProblem);
}

export class MultiplexedDecoder implements LogDecoder {
  private readonly demuxer = new StdcopyDemuxer();

  constructor(private readonly onProblem: ProblemSink) {}

  push(chunk: Buffer): LogMessage[] {
    const messages: LogMessage[] = [];
    for (const frame of this.demuxer.push(chunk)) {
      if (frame.stream === 'system') {
        this.onProblem(`Docker reported: ${frame.payload.toString('utf8').trim()}`);
        continue;
      }
      if (frame.stream === 'stdin') continue;
      const message = parseDockerMessage(frame.payload);
      if (!message) {
        this.onProblem(`a frame of ${frame.payload.length} bytes without a timestamp was dropped`);
        continue;
      }
      messages.push({ stream: frame.stream, ...message });
    }
    return messages;
  }

  end(): LogMessage[] {
    // a frame cut off by a broken connection comes again when the follower reconnects
    if (this.demuxer.pending > 0) this.onProblem(`the stream ended inside a frame (${this.demuxer.pending} bytes dropped)`);
    return [];
  }
}

const NEWLINE = 0x0a;
const SPACE = 0x20;

/** Digits, '+', '-', '.', ':', 'T' and 'Z': the bytes a timestamp is made of. */
function timestampByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || b === 0x2b || b === 0x2d || b === 0x2e || b === 0x3a || b === 0x54 || b === 0x5a;
}

/**
 * The raw stream of a TTY container. Memory stays bounded: a message is handed on at the latest
 * after `maxMessage` bytes of text, whatever the stream holds.
 */
export class RawDecoder implements LogDecoder {
  private state: 'timestamp' | 'text' | 'skip' = 'timestamp';
  private head: number[] = [];
  private timestamp: string | undefined;
  private pieces: Buffer[] = [];
  private pieceBytes = 0;
  /** Text bytes of the current message so far (all its pieces, handed on or not). */
  private messageBytes = 0;
  /** Set when text followed a full buffer without a timestamp: this Engine's line buffer is larger, only "\n" ends the message. */
  private unbounded = false;

  constructor(
    private readonly onProblem: ProblemSink,
    private readonly maxMessage = MAX_LINE_CONTENT,
  ) {}

  push(chunk: Buffer): LogMessage[] {
    const out: LogMessage[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.state === 'timestamp') pos = this.readTimestamp(chunk, pos);
      else if (this.state === 'skip') pos = this.skipLine(chunk, pos);
      else pos = this.readText(chunk, pos, out);
    }
    return out;
  }

  end(): LogMessage[] {
    const out: LogMessage[] = [];
    if (this.state === 'text') this.emit(out, false);
    else if (this.state === 'timestamp' && this.head.length > 0) this.onProblem(`the stream ended inside a timestamp (${this.head.length} bytes dropped)`);
    this.state = 'timestamp';
    this.head = [];
    return out;
  }

  private readTimestamp(chunk: Buffer, pos: number): number {
    while (pos < chunk.length && timestampByte(chunk[pos]!) && this.head.length < MAX_TIMESTAMP_LENGTH) this.head.push(chunk[pos++]!);
    if (pos === chunk.length) return pos;
    const head = Buffer.from(this.head).toString('latin1');
    this.head = [];
    if (chunk[pos] === SPACE && TIMESTAMP.test(head)) {
      this.startMessage(head);
      return pos + 1;
    }
    if (this.timestamp === undefined) {
      this.onProblem('the stream does not start with a timestamp: text up to the next newline dropped');
      this.state = 'skip';
      return pos;
    }
    // no timestamp after a full buffer: the text goes on, with the message's timestamp
    this.state = 'text';
    this.unbounded = true;
    this.addPiece(Buffer.from(head, 'latin1'));
    return pos;
  }

  private skipLine(chunk: Buffer, pos: number): number {
    const nl = chunk.indexOf(NEWLINE, pos);
    if (nl < 0) return chunk.length;
    this.state = 'timestamp';
    return nl + 1;
  }

  private readText(chunk: Buffer, pos: number, out: LogMessage[]): number {
    const limit = this.unbounded ? chunk.length : Math.min(chunk.length, pos + this.maxMessage - this.messageBytes);
    const nl = chunk.indexOf(NEWLINE, pos);
    if (nl >= 0 && nl < limit) {
      this.addPiece(chunk.subarray(pos, nl + 1));
      this.emit(out, true);
      return nl + 1;
    }
    this.addPiece(chunk.subarray(pos, limit));
    if (!this.unbounded && this.messageBytes >= this.maxMessage) this.emit(out, true);
    else if (this.pieceBytes >= this.maxMessage) this.emit(out, false);
    return limit;
  }

  private startMessage(timestamp: string): void {
    this.timestamp = timestamp;
    this.state = 'text';
    this.messageBytes = 0;
    this.unbounded = false;
  }

  private addPiece(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.pieceBytes += piece.length;
    this.messageBytes += piece.length;
  }

  /** Hands on the text held; `last` when the message is over (a timestamp comes next). */
  private emit(out: LogMessage[], last: boolean): void {
    if (this.pieceBytes > 0 && this.timestamp !== undefined) {
      out.push({ stream: 'stdout', timestamp: this.timestamp, text: this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces) });
    }
    this.pieces = [];
    this.pieceBytes = 0;
    if (last) this.state = 'timestamp';
  }
}
