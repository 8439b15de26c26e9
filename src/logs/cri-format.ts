// The CRI container log format kubelet reads: one line per (part of a) log line,
//   <RFC3339Nano timestamp> <stdout|stderr> <P|F> <content>\n
// P marks a part continued by the next line of the same stream, F the last part of a line.
// Pure: no I/O. Text stays bytes throughout, so output that is not UTF-8 passes unchanged.
import { rfc3339ToNs } from '../util/time.js';

export type LogStream = 'stdout' | 'stderr';

/** Longest content of one CRI line; Docker's json-file splits at the same size, so its parts map 1:1. */
export const MAX_LINE_CONTENT = 16 * 1024;

const NEWLINE = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
export const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)$/;
/** Longer than any RFC 3339 timestamp, so a missing separator is found quickly. */
export const MAX_TIMESTAMP_LENGTH = 40;

export interface CriLine {
  timestamp: string;
  stream: LogStream;
  partial: boolean;
  content: Buffer;
}

/** One message of Docker's log stream (with timestamps=1): its text ends in "\n" unless Docker split the line. */
export interface DockerMessage {
  timestamp: string;
  text: Buffer;
}

export function formatCriLine(timestamp: string, stream: LogStream, partial: boolean, content: Buffer): Buffer {
  const head = Buffer.from(`${timestamp} ${stream} ${partial ? 'P' : 'F'} `, 'latin1');
  const line = Buffer.allocUnsafe(head.length + content.length + 1);
  head.copy(line, 0);
  content.copy(line, head.length);
  line[line.length - 1] = NEWLINE;
  return line;
}

/**
 * The CRI line parts of one message's text: a text ending in "\n" ends in an F part, one without
 * (a line Docker split, or output that ended without a newline) only has P parts. Content longer
 * than `max` is cut into parts of `max` bytes counted from the start of the text.
 */
export function splitText(text: Buffer, max = MAX_LINE_CONTENT): { content: Buffer; partial: boolean }[] {
  const complete = text.length > 0 && text[text.length - 1] === NEWLINE;
  const body = complete ? text.subarray(0, text.length - 1) : text;
  const parts: { content: Buffer; partial: boolean }[] = [];
  for (let start = 0; start < body.length; start += max) {
    const end = Math.min(start + max, body.length);
    parts.push({ content: body.subarray(start, end), partial: !complete || end < body.length });
  }
  if (complete && body.length === 0) parts.push({ content: body, partial: false });
  return parts;
}

/** The CRI lines of one message, formatted and joined. */
export function formatMessage(timestamp: string, stream: LogStream, text: Buffer, max = MAX_LINE_CONTENT): Buffer {
  return Buffer.concat(splitText(text, max).map((p) => formatCriLine(timestamp, stream, p.partial, p.content)));
}

/** Bytes of message text a CRI line stands for: its content and, for an F line, the newline. */
export const textBytes = (line: CriLine): number => line.content.length + (line.partial ? 0 : 1);

/** A line of a CRI log file (without its "\n"); undefined when it is not one. Later tags (`F:x`) are allowed as kubelet allows them. */
export function parseCriLine(line: Buffer): CriLine | undefined {
  const s1 = line.indexOf(SPACE);
  if (s1 <= 0 || s1 > MAX_TIMESTAMP_LENGTH) return undefined;
  const timestamp = line.toString('latin1', 0, s1);
  if (!TIMESTAMP.test(timestamp)) return undefined;
  const s2 = line.indexOf(SPACE, s1 + 1);
  if (s2 < 0) return undefined;
  const stream = line.toString('latin1', s1 + 1, s2);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const s3 = line.indexOf(SPACE, s2 + 1);
  if (s3 < 0) return undefined;
  const tag = line.toString('latin1', s2 + 1, s3).split(':')[0];
  if (tag !== 'P' && tag !== 'F') return undefined;
  return { timestamp, stream, partial: tag === 'P', content: line.subarray(s3 + 1) };
}

/** Splits Docker's "<timestamp> <text>" message; undefined when it does not start with a timestamp. */
export function parseDockerMessage(payload: Buffer): DockerMessage | undefined {
  const space = payload.indexOf(SPACE);
  if (space <= 0 || space > MAX_TIMESTAMP_LENGTH) return undefined;
  const timestamp = payload.toString('latin1', 0, space);
  if (!TIMESTAMP.test(timestamp)) return undefined;
  return { timestamp, text: payload.subarray(space + 1) };
}

/** A TTY's line discipline turns "\n" into "\r\n"; the "\r" is not the program's output (containerd drops it too). */
export function withoutTtyCarriageReturn(text: Buffer): Buffer {
  const n = text.length;
  if (n >= 2 && text[n - 1] === NEWLINE && text[n - 2] === CR) {
    const out = Buffer.allocUnsafe(n - 1);
    text.copy(out, 0, 0, n - 2);
    out[n - 2] = NEWLINE;
    return out;
  }
  return text;
}

/** Nanoseconds since the epoch of an RFC 3339 timestamp; undefined when it is not one. */
export function timestampNs(timestamp: string): bigint | undefined {
  if (!TIMESTAMP.test(timestamp)) return undefined;
  const ns = rfc3339ToNs(timestamp);
  return ns.isZero() ? undefined : BigInt(ns.toString());
}

/** What Docker's `since` takes: "<seconds>.<nanoseconds>", exact to the nanosecond. */
export function sinceParameter(ns: bigint): string {
  const clamped = ns < 0n ? 0n : ns;
  return `${clamped / 1_000_000_000n}.${(clamped % 1_000_000_000n).toString().padStart(9, '0')}`;
}

/** Where to take Docker's log up again: ask from `sinceNs` on and drop the first `skipBytes` of text. */
export interface ResumePoint {
  sinceNs: bigint;
  skipBytes: number;
}

/** How far Docker's timestamps may run out of file order (two streams racing, parts of a split line sharing the first part's time). */
export const DEFAULT_RESUME_SLACK_NS = 2_000_000_000n;

/**
 * Finds where a restarted follower resumes, from the lines already written, newest first.
 *
 * Docker's `since` returns every message whose timestamp is >= since, in file order; what was
 * written is a prefix of that same order. Timestamps are not strictly ordered (equal for the parts
 * of a split line, a little out of order between stdout and stderr), so resuming from the last
 * timestamp alone would lose or double lines. Instead: since = last timestamp - slack, and the
 * bytes of text already written with a timestamp >= since are skipped. The scan stops at a line
 * older than since - slack, before which no line can be >= since.
 */
export class ResumeScan {
  private sinceNs: bigint | undefined;
  private skipBytes = 0;

  constructor(private readonly slackNs = DEFAULT_RESUME_SLACK_NS) {}

  /** Takes the next older line of the file; false once no older line can matter. */
  add(raw: Buffer): boolean {
    const line = parseCriLine(raw);
    const ns = line && timestampNs(line.timestamp);
    if (!line || ns === undefined) return true;
    this.sinceNs ??= ns - this.slackNs;
    if (ns >= this.sinceNs) this.skipBytes += textBytes(line);
    return ns >= this.sinceNs - this.slackNs;
  }

  /** undefined when no line was found: copy Docker's log from its beginning. */
  result(): ResumePoint | undefined {
    return this.sinceNs === undefined ? undefined : { sinceNs: this.sinceNs, skipBytes: this.skipBytes };
  }
}

/**
 * Leaves out of Docker's messages what the file already holds: from a resume point, messages
 * older than since (Docker's own filter drops them; the count assumes exactly that filter) and the
 * first skipBytes of text, which may end inside a message.
 */
export class OverlapFilter {
  private readonly sinceNs: bigint | undefined;
  private skipBytes: number;

  constructor(point: ResumePoint | undefined) {
    this.sinceNs = point?.sinceNs;
    this.skipBytes = point?.skipBytes ?? 0;
  }

  /** The part of a message's text still to be written: all of it once the overlap is past. */
  newText(timestamp: string, text: Buffer): Buffer {
    if (this.skipBytes === 0) return text;
    const ns = timestampNs(timestamp);
    if (this.sinceNs !== undefined && ns !== undefined && ns < this.sinceNs) return text.subarray(0, 0);
    const skipped = Math.min(this.skipBytes, text.length);
    this.skipBytes -= skipped;
    return text.subarray(skipped);
  }
}

/**
 * Cuts a file read backwards (chunk by chunk, from its end) into lines, newest first. Bytes after
 * the last "\n" are a line cut short by a crash in mid-write: they are not a line, and their
 * count is `tornBytes`.
 */
export class BackwardLines {
  private carry: Buffer = Buffer.alloc(0);
  private sawNewline = false;
  tornBytes = 0;

  /** Takes the bytes just before those taken so far; returns the lines they complete. */
  push(chunk: Buffer): Buffer[] {
    const data = this.carry.length === 0 ? chunk : Buffer.concat([chunk, this.carry]);
    const lines: Buffer[] = [];
    let end = data.length;
    if (!this.sawNewline) {
      const nl = data.lastIndexOf(NEWLINE);
      if (nl < 0) {
        this.carry = data;
        this.tornBytes = data.length;
        return lines;
      }
      this.sawNewline = true;
      this.tornBytes = data.length - nl - 1;
      end = nl;
    }
    // data[end] is the "\n" that ends the line before it (or lies just past the data)
    let nl = end > 0 ? data.lastIndexOf(NEWLINE, end - 1) : -1;
    while (nl >= 0) {
      lines.push(data.subarray(nl + 1, end));
      end = nl;
      nl = end > 0 ? data.lastIndexOf(NEWLINE, end - 1) : -1;
    }
    this.carry = data.subarray(0, end);
    return lines;
  }

  /** True once tornBytes is final: a newline was found. */
  get tornKnown(): boolean {
    return this.sawNewline;
  }

  /** The file's first line, once its start was pushed. */
  end(): Buffer | undefined {
    return this.sawNewline ? this.carry : undefined;
  }
}
