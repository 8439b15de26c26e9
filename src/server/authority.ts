import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { ByteQueue } from '../util/byte-queue.js';
import { encodeLiterals, HpackDecoder, HpackError, type HeaderField } from './hpack.js';

/**
 * grpc-go clients older than 1.56 or so (kubelet and crictl of Kubernetes 1.26, critest v1.26)
 * send the unix socket's path as the HTTP/2 :authority. nghttp2, under Node's HTTP/2 server,
 * refuses such a request with RST_STREAM PROTOCOL_ERROR, so every rpc of those clients would fail.
 * The server does not use :authority, so the first request of a connection decides: when its
 * :authority is one nghttp2 accepts, Node's HTTP/2 gets the socket itself; when not, every header
 * block of that connection is decoded and written again with :authority "localhost".
 *
 * Until that first request has come, dockercri holds the client's bytes (see FirstRequest). Handing
 * Node's HTTP/2 the socket itself, not a stream in JavaScript in front of it, lets nghttp2 read and
 * write the socket without a trip through JavaScript for every chunk.
 */

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADER = 9;
const HEADERS = 0x1;
const SETTINGS = 0x4;
const PING = 0x6;
const CONTINUATION = 0x9;
const ACK = 0x1;
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

export class ProtocolError extends Error {}

/**
 * Turns the inbound bytes of an HTTP/2 connection whose first request had an :authority nghttp2
 * refuses (FirstRequest decided so) into bytes whose header blocks all carry a valid one: each
 * block is decoded and encoded again, with literals only. Other frames pass as they are.
 */
export class AuthorityRewriter {
  private readonly queue = new ByteQueue();
  private readonly blocks = new HeaderBlocks();
  private prefaceChecked = false;
  /** Payload bytes of the current non-header frame still to forward as they come. */
  private forwardLeft = 0;

  /** The bytes to hand on for `chunk`; throws ProtocolError on what no HTTP/2 server would accept. */
  push(chunk: Buffer): Buffer[] {
    this.queue.push(chunk);
    const out: Buffer[] = [];
    if (!this.prefaceChecked) {
      const preface = prefaceSoFar(this.queue);
      if (preface === 'differs') throw new ProtocolError('not an HTTP/2 connection preface');
      if (preface === 'partial') return out;
      out.push(this.queue.take(PREFACE.length));
      this.prefaceChecked = true;
    }
    for (;;) {
      if (this.forwardLeft > 0) {
        if (this.queue.size === 0) break;
        const n = Math.min(this.forwardLeft, this.queue.size);
        out.push(this.queue.take(n));
        this.forwardLeft -= n;
        continue;
      }
      if (this.queue.size < FRAME_HEADER) break;
      const header = this.queue.peek(FRAME_HEADER);
      const length = header.readUIntBE(0, 3);
      const type = header[3]!;
      if (type !== HEADERS && type !== CONTINUATION) {
        if (this.blocks.open) throw new ProtocolError('a frame other than CONTINUATION inside a header block');
        out.push(this.queue.take(FRAME_HEADER));
        this.forwardLeft = length;
        continue;
      }
      if (this.queue.size < FRAME_HEADER + length) break;
      this.headerFrame(this.queue.take(FRAME_HEADER + length), out);
    }
    return out;
  }

  private headerFrame(frame: Buffer, out: Buffer[]): void {
    const block = this.blocks.add(frame);
    if (!block) return;
    for (const f of block.fields) if (f.name === ':authority' && !authorityIsValid(f.value)) f.value = REPLACEMENT;
    out.push(...framesFor(block.streamId, block.endStream, encodeLiterals(block.fields)));
  }
}

/** One connection's header blocks, put together from HEADERS and CONTINUATION frames and decoded whole, in order. */
class HeaderBlocks {
  private readonly decoder = new HpackDecoder(64 * 1024);
  private block: { streamId: number; endStream: boolean; fragments: Buffer[]; size: number } | undefined;

  /** Whether a block has begun and not yet ended: only its CONTINUATION frames may come next. */
  get open(): boolean {
    return this.block !== undefined;
  }

  /** Takes a HEADERS or CONTINUATION frame; returns the block it completes, decoded. */
  add(frame: Buffer): { streamId: number; endStream: boolean; fields: HeaderField[] } | undefined {
    const { type, streamId, endStream, endHeaders, fragment } = headerFragment(frame);
    if (type === HEADERS) {
      if (this.block) throw new ProtocolError('HEADERS inside a header block');
      this.block = { streamId, endStream, fragments: [], size: 0 };
    } else if (!this.block || this.block.streamId !== streamId) {
      throw new ProtocolError('CONTINUATION outside a header block');
    }
    const block = this.block;
    block.fragments.push(fragment);
    block.size += fragment.length;
    if (block.size > MAX_HEADER_BLOCK) throw new ProtocolError(`header block larger than ${MAX_HEADER_BLOCK} bytes`);
    if (!endHeaders) return undefined;
    this.block = undefined;
    try {
      return { streamId: block.streamId, endStream: block.endStream, fields: this.decoder.decode(Buffer.concat(block.fragments, block.size)) };
    } catch (err) {
      throw new ProtocolError(`cannot decode a header block: ${(err as HpackError).message}`);
    }
  }
}

/** An empty SETTINGS frame: a server's connection preface with every setting at its default. */
export const EMPTY_SETTINGS = Buffer.from([0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]);
/** What a connection may send before its first request is complete; beyond it, nghttp2 judges. */
const MAX_HELD = MAX_HEADER_BLOCK + 64 * 1024;
/**
 * PINGs answered before the first request. A client that sends more is left to the server (or
 * closed, as for MAX_HELD): nghttp2 limits a flood of frames that need an answer, and a client that
 * never reads them would otherwise make the answers pile up in the socket's buffer here.
 */
const MAX_EARLY_PINGS = 100;

/** `close`: the client sent too much before acknowledging dockercri's SETTINGS, so no server can take the connection over. */
export type FirstRequestDecision = 'native' | 'rewrite' | 'close';

/**
 * The start of a connection, read until its first request's :authority is known.
 *
 * grpc-go sends no request before the server's SETTINGS frame has come, so the server must speak
 * first: dockercri sends EMPTY_SETTINGS as soon as the client connects, and the server that later
 * takes the connection sends its own SETTINGS after it. nghttp2 would refuse the ACK of a SETTINGS
 * frame it did not send, so the client's first SETTINGS ACK is answered here and never handed on,
 * and the decision waits for it. A PING before the first request (a keepalive without streams) is
 * answered here too, up to MAX_EARLY_PINGS of them. Everything else the client sent is held, in
 * order, for the server.
 *
 * Framing errors are not judged here: the connection goes to the server unchanged, which answers
 * them as HTTP/2 says.
 */
export class FirstRequest {
  private readonly queue = new ByteQueue();
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  private prefaceChecked = false;
  private acked = false;
  private pings = 0;
  /** The first header block's :authority once it has been read: null when it had none. */
  private authority: string | null | undefined;
  private readonly blocks = new HeaderBlocks();
  decision: FirstRequestDecision | undefined;

  /** Takes the client's next bytes; returns the frames to answer it with now. */
  push(chunk: Buffer): Buffer[] {
    if (this.decision) throw new Error('FirstRequest: the connection is decided');
    this.queue.push(chunk);
    const replies: Buffer[] = [];
    try {
      this.read(replies);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.decide('native');
    }
    if (!this.decision && this.heldBytes + this.queue.size > MAX_HELD) this.stopHolding();
    return replies;
  }

  /** The client's bytes to hand on with the connection, in the order they came. */
  take(): Buffer {
    const out = Buffer.concat(this.held, this.heldBytes);
    this.held.length = 0;
    this.heldBytes = 0;
    return out;
  }

  private read(replies: Buffer[]): void {
    if (!this.prefaceChecked) {
      const preface = prefaceSoFar(this.queue);
      if (preface === 'differs') return this.decide('native');
      if (preface === 'partial') return;
      this.hold(this.queue.take(PREFACE.length));
      this.prefaceChecked = true;
    }
    while (!this.decision && this.queue.size >= FRAME_HEADER) {
      const length = this.queue.peek(FRAME_HEADER).readUIntBE(0, 3);
      // EMPTY_SETTINGS leaves SETTINGS_MAX_FRAME_SIZE at its default
      if (length > MAX_FRAME) throw new ProtocolError(`a frame of ${length} bytes`);
      if (this.queue.size < FRAME_HEADER + length) return;
      this.frame(this.queue.take(FRAME_HEADER + length), replies);
      if (!this.decision && this.acked && this.authority !== undefined) this.decide(this.authority === null || authorityIsValid(this.authority) ? 'native' : 'rewrite');
    }
  }

  private frame(frame: Buffer, replies: Buffer[]): void {
    const type = frame[3]!;
    const flags = frame[4]!;
    const inBlock = this.blocks.open;
    if (!inBlock && type === SETTINGS && flags & ACK && !this.acked) {
      this.acked = true;
      return;
    }
    if (!inBlock && type === PING && !(flags & ACK) && frame.length === FRAME_HEADER + 8) {
      if (++this.pings > MAX_EARLY_PINGS) {
        this.hold(frame);
        return this.stopHolding();
      }
      const pong = Buffer.from(frame);
      pong[4] = ACK;
      replies.push(pong);
      return;
    }
    this.hold(frame);
    if (inBlock && type !== CONTINUATION) throw new ProtocolError('a frame other than CONTINUATION inside a header block');
    // only the first request is read; what follows it goes to the server as it came
    if ((type !== HEADERS && type !== CONTINUATION) || this.authority !== undefined) return;
    const block = this.blocks.add(frame);
    if (block) this.authority = block.fields.find((f) => f.name === ':authority')?.value ?? null;
  }

  private hold(bytes: Buffer): void {
    this.held.push(bytes);
    this.heldBytes += bytes.length;
  }

  /** Gives up waiting for the first request: the connection goes to the server, or is closed before the ACK came. */
  private stopHolding(): void {
    // handed on before the ACK came, the connection would pass that ACK to a server that never sent the SETTINGS
    this.decide(this.acked ? 'native' : 'close');
  }

  private decide(decision: FirstRequestDecision): void {
    this.decision = decision;
    if (this.queue.size > 0) this.hold(this.queue.take(this.queue.size));
  }
}

/**
 * Reads the start of a client's connection (see FirstRequest), then hands it to `serve`: the
 * socket itself, with the bytes read so far put back, or, for a client whose :authority nghttp2
 * refuses, a stream that rewrites its header blocks. A connection that ends before its first
 * request is closed.
 */
export function acceptConnection(socket: Socket, serve: (connection: Duplex) => void, onRewrite?: () => void): void {
  const first = new FirstRequest();
  const onData = (chunk: Buffer): void => {
    try {
      for (const reply of first.push(chunk)) socket.write(reply);
    } catch (err) {
      // a fault of this reader costs the one connection, never the process
      socket.destroy(err as Error);
      return;
    }
    if (!first.decision) return;
    socket.off('data', onData);
    socket.off('end', onEnd);
    const held = first.take();
    if (first.decision === 'close') {
      socket.destroy();
    } else if (first.decision === 'native') {
      socket.pause();
      if (held.length > 0) socket.unshift(held);
      serve(socket);
    } else {
      onRewrite?.();
      serve(withValidAuthority(socket, held));
    }
  };
  const onEnd = (): void => {
    socket.destroy();
  };
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.write(EMPTY_SETTINGS);
}

/** How the bytes at the front of `queue` compare with the client's connection preface. */
function prefaceSoFar(queue: ByteQueue): 'differs' | 'partial' | 'whole' {
  const n = Math.min(queue.size, PREFACE.length);
  if (!queue.peek(n).equals(PREFACE.subarray(0, n))) return 'differs';
  return n < PREFACE.length ? 'partial' : 'whole';
}

/** The header block fragment a HEADERS or CONTINUATION frame carries, without padding and priority. */
function headerFragment(frame: Buffer): { type: number; streamId: number; endStream: boolean; endHeaders: boolean; fragment: Buffer } {
  const type = frame[3]!;
  const flags = frame[4]!;
  const streamId = frame.readUInt32BE(5) & 0x7fffffff;
  let fragment = frame.subarray(FRAME_HEADER);
  if (type === HEADERS) {
    let padding = 0;
    if (flags & PADDED) {
      if (fragment.length < 1) throw new ProtocolError('HEADERS frame too short for its padding');
      padding = fragment[0]!;
      fragment = fragment.subarray(1);
    }
    if (flags & PRIORITY) fragment = fragment.subarray(5);
    if (padding > fragment.length) throw new ProtocolError('HEADERS padding longer than the frame');
    fragment = fragment.subarray(0, fragment.length - padding);
  }
  return { type, streamId, endStream: type === HEADERS && (flags & END_STREAM) !== 0, endHeaders: (flags & END_HEADERS) !== 0, fragment };
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
 * `socket` as a Duplex whose inbound bytes (`initial` first: what was read from it already) went
 * through an AuthorityRewriter. Outbound bytes go to the socket unchanged, with its backpressure.
 */
export function withValidAuthority(socket: Socket, initial?: Buffer): Duplex {
  const rewriter = new AuthorityRewriter();
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
  const onData = (chunk: Buffer): void => {
    let pieces: Buffer[];
    try {
      pieces = rewriter.push(chunk);
    } catch (err) {
      duplex.destroy(err as Error);
      return;
    }
    let more = true;
    for (const p of pieces) more = duplex.push(p);
    if (!more) socket.pause();
  };
  if (initial && initial.length > 0) onData(initial);
  socket.on('data', onData);
  socket.on('end', () => duplex.push(null));
  socket.on('error', (err) => duplex.destroy(err));
  socket.on('close', () => duplex.destroy());
  return duplex;
}
