import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { ByteQueue } from '../util/byte-queue.js';
import { encodeLiterals, HpackDecoder, HpackError } from './hpack.js';

/**
 * grpc-go clients older than 1.56 or so (kubelet and crictl of Kubernetes 1.26, critest v1.26)
 * send the unix socket's path as the HTTP/2 :authority. nghttp2, under Node's HTTP/2 server,
 * refuses such a request with RST_STREAM PROTOCOL_ERROR, so every rpc of those clients would fail.
 * The server does not use :authority, so the first request of a connection decides: when its
 * :authority is one nghttp2 accepts, the connection passes through untouched; when not, every
 * header block of that connection is decoded and written again with :authority "localhost".
 */

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADER = 9;
const HEADERS = 0x1;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** Every HTTP/2 peer accepts frames this large (RFC 9113 4.2). */
const MAX_FRAME = 16_384;
/** A header block larger than this is refused: gRPC metadata is a few hundred bytes. */
const MAX_HEADER_BLOCK = 1024 * 1024;
const REPLACEMENT = 'localhost';

/** The characters nghttp2 accepts in :authority (RFC 3986's authority, plus '%' escapes). */
const VALID_AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:%@[\]]*$/;

export const authorityIsValid = (authority: string): boolean => VALID_AUTHORITY.test(authority);

type Mode = 'undecided' | 'passthrough' | 'rewrite';

export class ProtocolError extends Error {}

/** Turns a client's inbound HTTP/2 bytes into bytes whose header blocks carry a valid :authority. */
export class AuthorityRewriter {
  private readonly queue = new ByteQueue();
  private readonly decoder = new HpackDecoder(64 * 1024);
  private prefaceChecked = false;
  private mode: Mode = 'undecided';
  /** Payload bytes of the current non-header frame still to forward as they come. */
  private forwardLeft = 0;
  private block: { streamId: number; endStream: boolean; fragments: Buffer[]; size: number; frames: Buffer[] } | undefined;

  get rewriting(): boolean {
    return this.mode === 'rewrite';
  }

  get passingThrough(): boolean {
    return this.mode === 'passthrough';
  }

  /** The bytes to hand on for `chunk`; throws ProtocolError on what no HTTP/2 server would accept. */
  push(chunk: Buffer): Buffer[] {
    if (this.mode === 'passthrough') return [chunk];
    this.queue.push(chunk);
    const out: Buffer[] = [];
    if (!this.prefaceChecked) {
      if (this.queue.size < PREFACE.length) {
        if (!PREFACE.subarray(0, this.queue.size).equals(this.queue.peek(this.queue.size))) this.passThrough(out);
        return out;
      }
      const preface = this.queue.take(PREFACE.length);
      out.push(preface);
      this.prefaceChecked = true;
      // not HTTP/2 with prior knowledge: nothing to rewrite, and the server answers it as it will
      if (!preface.equals(PREFACE)) {
        this.passThrough(out);
        return out;
      }
    }
    for (;;) {
      if (this.forwardLeft > 0) {
        if (this.queue.size === 0) break;
        const n = Math.min(this.forwardLeft, this.queue.size);
        out.push(this.queue.take(n));
        this.forwardLeft -= n;
        continue;
      }
      if (this.passingThrough) {
        this.passThrough(out);
        break;
      }
      if (this.queue.size < FRAME_HEADER) break;
      const header = this.queue.peek(FRAME_HEADER);
      const length = header.readUIntBE(0, 3);
      const type = header[3]!;
      if (type !== HEADERS && type !== CONTINUATION) {
        if (this.block) throw new ProtocolError('a frame other than CONTINUATION inside a header block');
        out.push(this.queue.take(FRAME_HEADER));
        this.forwardLeft = length;
        continue;
      }
      if (this.queue.size < FRAME_HEADER + length) break;
      this.headerFrame(this.queue.take(FRAME_HEADER + length), out);
    }
    return out;
  }

  private passThrough(out: Buffer[]): void {
    this.mode = 'passthrough';
    if (this.queue.size > 0) out.push(this.queue.take(this.queue.size));
  }

  private headerFrame(frame: Buffer, out: Buffer[]): void {
    const type = frame[3]!;
    const flags = frame[4]!;
    const streamId = frame.readUInt32BE(5) & 0x7fffffff;
    let payload = frame.subarray(FRAME_HEADER);
    if (type === HEADERS) {
      if (this.block) throw new ProtocolError('HEADERS inside a header block');
      let padding = 0;
      if (flags & PADDED) {
        if (payload.length < 1) throw new ProtocolError('HEADERS frame too short for its padding');
        padding = payload[0]!;
        payload = payload.subarray(1);
      }
      if (flags & PRIORITY) payload = payload.subarray(5);
      if (padding > payload.length) throw new ProtocolError('HEADERS padding longer than the frame');
      payload = payload.subarray(0, payload.length - padding);
      this.block = { streamId, endStream: (flags & END_STREAM) !== 0, fragments: [], size: 0, frames: [] };
    } else if (!this.block || this.block.streamId !== streamId) {
      throw new ProtocolError('CONTINUATION outside a header block');
    }
    const block = this.block;
    block.fragments.push(payload);
    block.frames.push(frame);
    block.size += payload.length;
    if (block.size > MAX_HEADER_BLOCK) throw new ProtocolError(`header block larger than ${MAX_HEADER_BLOCK} bytes`);
    if ((flags & END_HEADERS) === 0) return;
    this.block = undefined;

    let fields;
    try {
      fields = this.decoder.decode(Buffer.concat(block.fragments, block.size));
    } catch (err) {
      throw new ProtocolError(`cannot decode a header block: ${(err as HpackError).message}`);
    }
    if (this.mode === 'undecided') {
      const authority = fields.find((f) => f.name === ':authority');
      this.mode = authority === undefined || authorityIsValid(authority.value) ? 'passthrough' : 'rewrite';
    }
    if (this.mode === 'passthrough') {
      out.push(...block.frames);
      return;
    }
    for (const f of fields) if (f.name === ':authority' && !authorityIsValid(f.value)) f.value = REPLACEMENT;
    out.push(...framesFor(block.streamId, block.endStream, encodeLiterals(fields)));
  }
}

/** A header block cut into one HEADERS frame and as many CONTINUATION frames as it needs. */
function framesFor(streamId: number, endStream: boolean, block: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let at = 0;
  do {
    const piece = block.subarray(at, at + MAX_FRAME);
    const first = at === 0;
    at += piece.length;
    const header = Buffer.alloc(FRAME_HEADER);
    header.writeUIntBE(piece.length, 0, 3);
    header[3] = first ? HEADERS : CONTINUATION;
    header[4] = (first && endStream ? END_STREAM : 0) | (at >= block.length ? END_HEADERS : 0);
    header.writeUInt32BE(streamId, 5);
    frames.push(header, piece);
  } while (at < block.length);
  return frames;
}

/**
 * `socket` as a Duplex whose inbound bytes went through an AuthorityRewriter. Outbound bytes go
 * to the socket unchanged, with its backpressure.
 */
export function withValidAuthority(socket: Socket, onRewrite?: () => void): Duplex {
  const rewriter = new AuthorityRewriter();
  let announced = false;
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    let pieces: Buffer[];
    try {
      pieces = rewriter.push(chunk);
    } catch (err) {
      duplex.destroy(err as Error);
      return;
    }
    if (!announced && rewriter.rewriting) {
      announced = true;
      onRewrite?.();
    }
    let more = true;
    for (const p of pieces) more = duplex.push(p);
    if (!more) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (err) => duplex.destroy(err));
  socket.on('close', () => duplex.destroy());
  return duplex;
}
