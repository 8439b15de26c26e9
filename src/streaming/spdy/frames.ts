// SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 with the 3.1 session flow control frames): pure
// encoders, a streaming parser (chunks may cut frames anywhere) and the name/value header block.
// Only what kubelet's streaming protocols use: SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING,
// GOAWAY, HEADERS, WINDOW_UPDATE and DATA.

import { ByteQueue } from '../../util/byte-queue.js';

export const SPDY_VERSION = 3;

export const ControlType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes. */
export const RstStatus = {
  PROTOCOL_ERROR: 1,
  INVALID_STREAM: 2,
  REFUSED_STREAM: 3,
  UNSUPPORTED_VERSION: 4,
  CANCEL: 5,
  INTERNAL_ERROR: 6,
  FLOW_CONTROL_ERROR: 7,
  STREAM_IN_USE: 8,
  STREAM_ALREADY_CLOSED: 9,
} as const;

/** GOAWAY status codes. */
export const GoawayStatus = { OK: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2 } as const;

export type Frame =
  | { type: 'data'; streamId: number; flags: number; data: Buffer }
  | { type: 'syn_stream'; streamId: number; associatedId: number; priority: number; flags: number; headerBlock: Buffer }
  | { type: 'syn_reply'; streamId: number; flags: number; headerBlock: Buffer }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; flags: number; entries: SettingsEntry[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'headers'; streamId: number; flags: number; headerBlock: Buffer }
  | { type: 'window_update'; streamId: number; delta: number }
  | { type: 'unknown'; controlType: number; flags: number; payload: Buffer };

export interface SettingsEntry {
  flags: number;
  id: number;
  value: number;
}

export class SpdyProtocolError extends Error {}

const HEADER_BYTES = 8;
const STREAM_ID_MASK = 0x7fffffff;
/** The length field has 24 bits; a DATA frame carries at most this much. */
export const MAX_FRAME_PAYLOAD = 0xffffff;

function control(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) throw new SpdyProtocolError(`control frame of ${payload.length} bytes is too large`);
  const head = Buffer.allocUnsafe(HEADER_BYTES);
  head.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(((flags & 0xff) << 24) | payload.length, 4);
  return Buffer.concat([head, payload]);
}

/** The 8-byte header of a DATA frame; the payload follows it on the wire. */
export function dataFrameHeader(streamId: number, length: number, fin: boolean): Buffer {
  if (length > MAX_FRAME_PAYLOAD) throw new SpdyProtocolError(`DATA frame of ${length} bytes is too large`);
  const head = Buffer.allocUnsafe(HEADER_BYTES);
  head.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  head.writeUInt32BE(((fin ? FLAG_FIN : 0) << 24) | length, 4);
  return head;
}

export const encodeData = (streamId: number, data: Buffer, fin = false): Buffer => Buffer.concat([dataFrameHeader(streamId, data.length, fin), data]);

export function encodeSynStream(streamId: number, headerBlock: Buffer, opts: { fin?: boolean; unidirectional?: boolean; associatedId?: number; priority?: number } = {}): Buffer {
  const p = Buffer.allocUnsafe(10);
  p.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  p.writeUInt32BE((opts.associatedId ?? 0) & STREAM_ID_MASK, 4);
  p[8] = ((opts.priority ?? 0) & 0x7) << 5;
  p[9] = 0; // slot
  return control(ControlType.SYN_STREAM, (opts.fin ? FLAG_FIN : 0) | (opts.unidirectional ? FLAG_UNIDIRECTIONAL : 0), Buffer.concat([p, headerBlock]));
}

export function encodeSynReply(streamId: number, headerBlock: Buffer, fin = false): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  return control(ControlType.SYN_REPLY, fin ? FLAG_FIN : 0, Buffer.concat([p, headerBlock]));
}

export function encodeHeaders(streamId: number, headerBlock: Buffer, fin = false): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  return control(ControlType.HEADERS, fin ? FLAG_FIN : 0, Buffer.concat([p, headerBlock]));
}

export function encodeRstStream(streamId: number, status: number): Buffer {
  const p = Buffer.allocUnsafe(8);
  p.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  p.writeUInt32BE(status >>> 0, 4);
  return control(ControlType.RST_STREAM, 0, p);
}

export function encodeSettings(entries: SettingsEntry[], flags = 0): Buffer {
  const p = Buffer.allocUnsafe(4 + 8 * entries.length);
  p.writeUInt32BE(entries.length, 0);
  entries.forEach((e, i) => {
    p.writeUInt32BE((((e.flags & 0xff) << 24) | (e.id & 0xffffff)) >>> 0, 4 + 8 * i);
    p.writeUInt32BE(e.value >>> 0, 8 + 8 * i);
  });
  return control(ControlType.SETTINGS, flags, p);
}

export function encodePing(id: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(id >>> 0, 0);
  return control(ControlType.PING, 0, p);
}

export function encodeGoaway(lastGoodStreamId: number, status: number = GoawayStatus.OK): Buffer {
  const p = Buffer.allocUnsafe(8);
  p.writeUInt32BE(lastGoodStreamId & STREAM_ID_MASK, 0);
  p.writeUInt32BE(status >>> 0, 4);
  return control(ControlType.GOAWAY, 0, p);
}

export function encodeWindowUpdate(streamId: number, delta: number): Buffer {
  const p = Buffer.allocUnsafe(8);
  p.writeUInt32BE(streamId & STREAM_ID_MASK, 0);
  p.writeUInt32BE(delta & STREAM_ID_MASK, 4);
  return control(ControlType.WINDOW_UPDATE, 0, p);
}

function need(payload: Buffer, n: number, what: string): void {
  if (payload.length < n) throw new SpdyProtocolError(`${what} frame of ${payload.length} bytes is shorter than ${n}`);
}

function decodeControl(type: number, flags: number, p: Buffer): Frame {
  switch (type) {
    case ControlType.SYN_STREAM:
      need(p, 10, 'SYN_STREAM');
      return { type: 'syn_stream', streamId: p.readUInt32BE(0) & STREAM_ID_MASK, associatedId: p.readUInt32BE(4) & STREAM_ID_MASK, priority: p[8]! >> 5, flags, headerBlock: p.subarray(10) };
    case ControlType.SYN_REPLY:
      need(p, 4, 'SYN_REPLY');
      return { type: 'syn_reply', streamId: p.readUInt32BE(0) & STREAM_ID_MASK, flags, headerBlock: p.subarray(4) };
    case ControlType.HEADERS:
      need(p, 4, 'HEADERS');
      return { type: 'headers', streamId: p.readUInt32BE(0) & STREAM_ID_MASK, flags, headerBlock: p.subarray(4) };
    case ControlType.RST_STREAM:
      need(p, 8, 'RST_STREAM');
      return { type: 'rst_stream', streamId: p.readUInt32BE(0) & STREAM_ID_MASK, status: p.readUInt32BE(4) };
    case ControlType.SETTINGS: {
      need(p, 4, 'SETTINGS');
      const n = p.readUInt32BE(0);
      need(p, 4 + 8 * n, 'SETTINGS');
      const entries: SettingsEntry[] = [];
      for (let i = 0; i < n; i++) {
        const head = p.readUInt32BE(4 + 8 * i);
        entries.push({ flags: head >>> 24, id: head & 0xffffff, value: p.readUInt32BE(8 + 8 * i) });
      }
      return { type: 'settings', flags, entries };
    }
    case ControlType.PING:
      need(p, 4, 'PING');
      return { type: 'ping', id: p.readUInt32BE(0) };
    case ControlType.GOAWAY:
      need(p, 4, 'GOAWAY');
      // SPDY/2 peers send no status
      return { type: 'goaway', lastGoodStreamId: p.readUInt32BE(0) & STREAM_ID_MASK, status: p.length >= 8 ? p.readUInt32BE(4) : 0 };
    case ControlType.WINDOW_UPDATE:
      need(p, 8, 'WINDOW_UPDATE');
      return { type: 'window_update', streamId: p.readUInt32BE(0) & STREAM_ID_MASK, delta: p.readUInt32BE(4) & STREAM_ID_MASK };
    default:
      return { type: 'unknown', controlType: type, flags, payload: p };
  }
}

/** Cuts a byte stream into frames. */
export class FrameParser {
  private readonly queue = new ByteQueue();

  push(chunk: Buffer): Frame[] {
    this.queue.push(chunk);
    const frames: Frame[] = [];
    while (this.queue.size >= HEADER_BYTES) {
      const head = this.queue.peek(HEADER_BYTES);
      const length = head.readUInt32BE(4) & 0xffffff;
      if (this.queue.size < HEADER_BYTES + length) break;
      this.queue.take(HEADER_BYTES);
      const payload = this.queue.take(length);
      const flags = head[4]!;
      if (head[0]! & 0x80) {
        const version = head.readUInt16BE(0) & 0x7fff;
        if (version !== SPDY_VERSION) throw new SpdyProtocolError(`SPDY version ${version} is not supported`);
        frames.push(decodeControl(head.readUInt16BE(2), flags, payload));
      } else {
        frames.push({ type: 'data', streamId: head.readUInt32BE(0) & STREAM_ID_MASK, flags, data: payload });
      }
    }
    return frames;
  }
}

/** Headers of a stream: lower-case names; several values of one name joined by NUL, as on the wire. */
export type SpdyHeaders = Record<string, string>;

/** The uncompressed name/value block: a count, then length-prefixed names and values (32-bit lengths). */
export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const count = Buffer.allocUnsafe(4);
  const entries = Object.entries(headers);
  count.writeUInt32BE(entries.length, 0);
  parts.push(count);
  for (const [name, value] of entries) {
    for (const s of [name.toLowerCase(), value]) {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.allocUnsafe(4);
      len.writeUInt32BE(b.length, 0);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer): SpdyHeaders {
  const fail = (): never => {
    throw new SpdyProtocolError('truncated header block');
  };
  if (block.length < 4) fail();
  const n = block.readUInt32BE(0);
  let at = 4;
  const read = (): string => {
    if (at + 4 > block.length) fail();
    const len = block.readUInt32BE(at);
    at += 4;
    if (at + len > block.length) fail();
    const s = block.toString('utf8', at, at + len);
    at += len;
    return s;
  };
  const headers: SpdyHeaders = {};
  for (let i = 0; i < n; i++) {
    const name = read().toLowerCase();
    const value = read();
    headers[name] = name in headers ? `${headers[name]}\0${value}` : value;
  }
  return headers;
}
