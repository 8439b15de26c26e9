// Docker's json-file log, one entry per line, as Docker 20.10 and later write it:
//   {"log":"<escaped text>","stream":"stdout|stderr"[,"attrs":{…}],"time":"<RFC3339Nano>"}\n
// turned into CRI log lines (cri-format.ts). Pure: no I/O. The common case (an entry in Docker's own
// key order) is cut out of the bytes without building strings; anything else goes through JSON.parse.
// The same entry always gives the same bytes, which is what lets a restarted copier skip exactly
// the lines it wrote before it died (copier.ts).
import { formatMessage, MAX_LINE_CONTENT, type LogStream } from './cri-format.js';

const NEWLINE = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

const LOG_KEY = Buffer.from('{"log":"', 'latin1');
const STREAM_KEY = Buffer.from(',"stream":"', 'latin1');
const TIME_KEY = Buffer.from('"time":"', 'latin1');
const STDOUT = Buffer.from('stdout', 'latin1');
const STDERR = Buffer.from('stderr', 'latin1');
/** " stdout F " and its kin: the bytes between the timestamp and the content of a CRI line. */
const MIDDLE_LENGTH = 10;
/** Longest RFC 3339 timestamp Docker writes, with room to spare (and for the fraction filled up to nine digits). */
const MAX_TIMESTAMP = 40;

export interface ConvertOptions {
  /** A TTY's line discipline ends lines in "\r\n"; the "\r" is not the program's output. */
  tty: boolean;
  /** Longest content of one CRI line. */
  maxContent?: number;
}

export interface ConvertResult {
  /** Bytes of input taken: whole entries only (a line not yet ended by "\n" is left). */
  consumed: number;
  /** Bytes written to `out` from `outStart`. */
  written: number;
  /** Entries taken. */
  entries: number;
  /** Lines that were no entry (not JSON, or without text, stream or time): left out. */
  malformed: number;
  /** The time of the last entry taken, as Docker wrote it. */
  lastTime?: string;
  /** An entry whose CRI lines did not fit in `out` at all: write these bytes after the `written` ones. */
  oversized?: Buffer;
}

/**
 * Converts the complete entries of `input[start, end)` into CRI lines written to `out` from
 * `outStart`, as many as fit. Stops before an entry that does not fit in what is left of `out`
 * (the caller writes out what was converted and calls again); an entry that can never fit (its
 * CRI lines are larger than `out` itself) is converted into a buffer of its own, so no input
 * stalls the caller.
 */
export function convertEntries(input: Buffer, start: number, end: number, out: Buffer, outStart: number, opts: ConvertOptions): ConvertResult {
  const max = opts.maxContent ?? MAX_LINE_CONTENT;
  const result: ConvertResult = { consumed: 0, written: 0, entries: 0, malformed: 0 };
  let pos = start;
  let o = outStart;
  while (pos < end) {
    const nl = input.indexOf(NEWLINE, pos);
    if (nl < 0 || nl >= end) break;
    const entryLength = nl - pos;
    // unescaping never grows text; each CRI line of it adds a timestamp and the middle
    const bound = entryLength + (MAX_TIMESTAMP + MIDDLE_LENGTH + 1) * (Math.ceil(entryLength / max) + 1);
    if (o + bound > out.length && o > outStart) break;
    const taken = bound <= out.length - o ? convertFast(input, pos, nl, out, o, opts.tty, max) : undefined;
    if (taken !== undefined) {
      o += taken.written;
      result.lastTime = taken.time;
    } else {
      const slow = convertSlow(input, pos, nl, opts.tty, max);
      if (slow === undefined) {
        result.malformed++;
      } else if (slow.bytes.length <= out.length - o) {
        slow.bytes.copy(out, o);
        o += slow.bytes.length;
        result.lastTime = slow.time;
      } else {
        // too large for what is left: the caller writes what it has, then this entry on its own
        if (o > outStart) break;
        result.oversized = slow.bytes;
        result.lastTime = slow.time;
        result.entries++;
        pos = nl + 1;
        break;
      }
    }
    result.entries++;
    pos = nl + 1;
  }
  result.consumed = pos - start;
  result.written = o - outStart;
  return result;
}

/** Docker's own key order, cut out of the bytes; undefined when the entry is not in that shape. */
function convertFast(input: Buffer, start: number, end: number, out: Buffer, o: number, tty: boolean, max: number): { written: number; time: string } | undefined {
  if (!startsWith(input, start, LOG_KEY)) return undefined;
  const textStart = start + LOG_KEY.length;
  let hasEscape = false;
  let q = textStart;
  // the closing quote: the first one not escaped
  for (;;) {
    q = input.indexOf(QUOTE, q);
    if (q < 0 || q >= end) return undefined;
    let backslashes = 0;
    while (q - 1 - backslashes >= textStart && input[q - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes > 0) hasEscape = true;
    if (backslashes % 2 === 0) break;
    q++;
  }
  if (!hasEscape) {
    const b = input.indexOf(BACKSLASH, textStart);
    hasEscape = b >= 0 && b < q;
  }
  if (!startsWith(input, q + 1, STREAM_KEY)) return undefined;
  const streamStart = q + 1 + STREAM_KEY.length;
  let stream: LogStream;
  if (startsWith(input, streamStart, STDOUT)) stream = 'stdout';
  else if (startsWith(input, streamStart, STDERR)) stream = 'stderr';
  else return undefined;
  if (input[streamStart + 6] !== QUOTE) return undefined;
  const timeKey = input.indexOf(TIME_KEY, streamStart + 7);
  if (timeKey < 0 || timeKey >= end) return undefined;
  const timeStart = timeKey + TIME_KEY.length;
  const timeEnd = input.indexOf(QUOTE, timeStart);
  if (timeEnd < 0 || timeEnd >= end || timeEnd - timeStart > MAX_TIMESTAMP || timeEnd === timeStart) return undefined;
  const headerLength = fixedTimeLength(input, timeStart, timeEnd) + MIDDLE_LENGTH;
  // the text goes where the content of a single CRI line starts; the header is written in front once P or F is known
  const contentAt = o + headerLength;
  let textLength: number;
  if (!hasEscape) {
    textLength = input.copy(out, contentAt, textStart, q);
  } else {
    const n = unescapeInto(input, textStart, q, out, contentAt);
    if (n === undefined) return undefined;
    textLength = n;
  }
  if (textLength === 0) return { written: 0, time: input.toString('latin1', timeStart, timeEnd) };
  const complete = out[contentAt + textLength - 1] === NEWLINE;
  if (complete && tty && textLength >= 2 && out[contentAt + textLength - 2] === CR) {
    out[contentAt + textLength - 2] = NEWLINE;
    textLength--;
  }
  const contentLength = complete ? textLength - 1 : textLength;
  if (contentLength > max) {
    // longer than one CRI line: split, through the general formatter
    const text = Buffer.from(out.subarray(contentAt, contentAt + textLength));
    const time = input.toString('latin1', timeStart, timeEnd);
    const bytes = formatMessage(fixedTime(time), stream, text, max);
    return { written: bytes.copy(out, o), time };
  }
  let h = putFixedTime(input, timeStart, timeEnd, out, o);
  out[h++] = 0x20;
  h += (stream === 'stdout' ? STDOUT : STDERR).copy(out, h);
  out[h++] = 0x20;
  out[h++] = complete ? 0x46 : 0x50; // F or P
  out[h++] = 0x20;
  if (!complete) out[contentAt + textLength] = NEWLINE;
  return { written: headerLength + contentLength + 1, time: input.toString('latin1', timeStart, timeEnd) };
}

/** Any entry JSON.parse reads, with keys in any order. */
function convertSlow(input: Buffer, start: number, end: number, tty: boolean, max: number): { bytes: Buffer; time: string } | undefined {
  let entry: unknown;
  try {
    entry = JSON.parse(input.toString('utf8', start, end));
  } catch {
    return undefined;
  }
  const { log, stream, time } = (entry ?? {}) as { log?: unknown; stream?: unknown; time?: unknown };
  if (typeof log !== 'string' || (stream !== 'stdout' && stream !== 'stderr') || typeof time !== 'string' || time === '' || time.length > MAX_TIMESTAMP) return undefined;
  let text = Buffer.from(log, 'utf8');
  if (tty && text.length >= 2 && text[text.length - 1] === NEWLINE && text[text.length - 2] === CR) text = Buffer.concat([text.subarray(0, text.length - 2), Buffer.of(NEWLINE)]);
  return { bytes: formatMessage(fixedTime(time), stream, text, max), time };
}

/**
 * Docker writes times with trailing zeros of the fraction left out (RFC3339Nano); CRI lines get
 * all nine digits, so every line's timestamp has the same width and sorts as text, as kubelet's
 * own runtimes write them. Times not in UTC ("Z") are left as they are.
 */
const FRACTION_DIGITS = 9;

function fractionDigits(input: Buffer, timeStart: number, timeEnd: number): number | undefined {
  if (input[timeEnd - 1] !== 0x5a) return undefined; // Z
  const dot = input.indexOf(0x2e, timeStart);
  if (dot < 0 || dot >= timeEnd) return 0;
  return timeEnd - 1 - dot - 1;
}

function fixedTimeLength(input: Buffer, timeStart: number, timeEnd: number): number {
  const digits = fractionDigits(input, timeStart, timeEnd);
  if (digits === undefined || digits >= FRACTION_DIGITS) return timeEnd - timeStart;
  return timeEnd - timeStart + FRACTION_DIGITS - digits + (digits === 0 ? 1 : 0);
}

/** Writes the time at `out[o]` with nine fraction digits; returns the offset after it. */
function putFixedTime(input: Buffer, timeStart: number, timeEnd: number, out: Buffer, o: number): number {
  const digits = fractionDigits(input, timeStart, timeEnd);
  if (digits === undefined || digits >= FRACTION_DIGITS) return o + input.copy(out, o, timeStart, timeEnd);
  o += input.copy(out, o, timeStart, timeEnd - 1);
  if (digits === 0) out[o++] = 0x2e;
  for (let i = digits; i < FRACTION_DIGITS; i++) out[o++] = 0x30;
  out[o++] = 0x5a;
  return o;
}

export function fixedTime(time: string): string {
  const b = Buffer.from(time, 'latin1');
  const out = Buffer.allocUnsafe(fixedTimeLength(b, 0, b.length));
  putFixedTime(b, 0, b.length, out, 0);
  return out.toString('latin1');
}

function startsWith(buf: Buffer, at: number, prefix: Buffer): boolean {
  if (at + prefix.length > buf.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[at + i] !== prefix[i]) return false;
  return true;
}

const HEX: Record<number, number> = {};
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[0x41 + i] = 10 + i;
  HEX[0x61 + i] = 10 + i;
}

function hex4(buf: Buffer, at: number, end: number): number | undefined {
  if (at + 4 > end) return undefined;
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const d = HEX[buf[at + i]!];
    if (d === undefined) return undefined;
    v = v * 16 + d;
  }
  return v;
}

/** Writes the JSON string body `input[start, end)` unescaped, as UTF-8, at `out[o]`; undefined when it is no valid JSON string. */
export function unescapeInto(input: Buffer, start: number, end: number, out: Buffer, o: number): number | undefined {
  const o0 = o;
  let i = start;
  while (i < end) {
    const b = input.indexOf(BACKSLASH, i);
    const runEnd = b < 0 || b >= end ? end : b;
    if (runEnd > i) o += input.copy(out, o, i, runEnd);
    if (runEnd === end) break;
    i = runEnd + 1;
    if (i >= end) return undefined;
    const c = input[i++]!;
    switch (c) {
      case 0x22: out[o++] = 0x22; break; // "
      case 0x5c: out[o++] = 0x5c; break; // \
      case 0x2f: out[o++] = 0x2f; break; // /
      case 0x62: out[o++] = 0x08; break; // b
      case 0x66: out[o++] = 0x0c; break; // f
      case 0x6e: out[o++] = 0x0a; break; // n
      case 0x72: out[o++] = 0x0d; break; // r
      case 0x74: out[o++] = 0x09; break; // t
      case 0x75: { // uXXXX, maybe a surrogate pair
        let cp = hex4(input, i, end);
        if (cp === undefined) return undefined;
        i += 4;
        if (cp >= 0xd800 && cp <= 0xdbff && input[i] === BACKSLASH && input[i + 1] === 0x75) {
          const low = hex4(input, i + 2, end);
          if (low !== undefined && low >= 0xdc00 && low <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            i += 6;
          }
        }
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; // a lone surrogate: what Go and JSON.parse make of it
        o = putCodePoint(out, o, cp);
        break;
      }
      default:
        return undefined;
    }
  }
  return o - o0;
}

function putCodePoint(out: Buffer, o: number, cp: number): number {
  if (cp < 0x80) {
    out[o++] = cp;
  } else if (cp < 0x800) {
    out[o++] = 0xc0 | (cp >> 6);
    out[o++] = 0x80 | (cp & 0x3f);
  } else if (cp < 0x10000) {
    out[o++] = 0xe0 | (cp >> 12);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  } else {
    out[o++] = 0xf0 | (cp >> 18);
    out[o++] = 0x80 | ((cp >> 12) & 0x3f);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  }
  return o;
}
