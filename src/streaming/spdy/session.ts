// A SPDY/3.1 session over one socket, either end: streams are Duplexes; a peer's SYN_STREAM comes
// out as a 'stream' event. Like Go's spdystream (kubelet's and kubectl's), it does no flow control:
// WINDOW_UPDATE and SETTINGS are read and ignored, and TCP carries the back-pressure.
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { HeaderCompressor, HeaderDecompressor } from './compression.js';
import {
  FLAG_FIN,
  FLAG_UNIDIRECTIONAL,
  FrameParser,
  GoawayStatus,
  RstStatus,
  SpdyProtocolError,
  dataFrameHeader,
  decodeHeaderBlock,
  encodeGoaway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSynReply,
  encodeSynStream,
  type Frame,
  type SpdyHeaders,
} from './frames.js';

/** DATA frames sent are cut to this size so one stream cannot hold the socket for long. */
const MAX_DATA_FRAME = 64 * 1024;

export class SpdyStream extends Duplex {
  /** Set when the peer reset the stream or the session ended before the stream did. */
  aborted = false;
  private remoteClosed: boolean;
  private replyHeaders: SpdyHeaders | undefined;

  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    readonly headers: SpdyHeaders,
    remoteFin: boolean,
  ) {
    super({ allowHalfOpen: true });
    this.remoteClosed = remoteFin;
    if (remoteFin) this.push(null);
  }

  /** Answers the peer's SYN_STREAM (a server always does before anything else on the stream). */
  reply(headers: SpdyHeaders = {}): void {
    this.session.send(encodeSynReply(this.id, this.session.compressHeaders(headers)));
  }

  /** The peer's SYN_REPLY headers, once they arrived. */
  get replied(): SpdyHeaders | undefined {
    return this.replyHeaders;
  }

  /** Aborts the stream with RST_STREAM. */
  reset(status: number = RstStatus.CANCEL): void {
    if (!this.destroyed) this.session.send(encodeRstStream(this.id, status));
    this.aborted = true;
    this.destroy();
  }

  override _read(): void {
    // no receive-side flow control: DATA is pushed as it arrives
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    let ok = true;
    for (let at = 0; at < chunk.length; at += MAX_DATA_FRAME) {
      const piece = chunk.subarray(at, at + MAX_DATA_FRAME);
      ok = this.session.send(dataFrameHeader(this.id, piece.length, false), piece);
    }
    if (ok) cb();
    else this.session.afterDrain(cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.session.send(dataFrameHeader(this.id, 0, true));
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // closed before both sides finished: tell the peer the stream is gone
    if (!(this.remoteClosed && this.writableFinished) && !this.aborted) this.session.send(encodeRstStream(this.id, RstStatus.CANCEL));
    this.session.forget(this.id);
    cb(err);
  }

  /** @internal */
  receive(data: Buffer, fin: boolean): void {
    if (this.remoteClosed) return;
    if (data.length > 0) this.push(data);
    if (fin) {
      this.remoteClosed = true;
      this.push(null);
    }
  }

  /** @internal */
  receiveReply(headers: SpdyHeaders): void {
    this.replyHeaders = headers;
    this.emit('reply', headers);
  }

  /** @internal */
  abort(): void {
    this.aborted = true;
    this.destroy();
  }
}

export interface SpdySessionEvents {
  stream: [SpdyStream];
  close: [];
}

export class SpdySession extends EventEmitter<SpdySessionEvents> {
  private readonly parser = new FrameParser();
  private readonly compressor = new HeaderCompressor();
  private readonly decompressor = new HeaderDecompressor();
  private readonly streams = new Map<number, SpdyStream>();
  private readonly queue: Frame[] = [];
  private draining = false;
  private nextStreamId: number;
  private nextPingId: number;
  private lastRemoteStreamId = 0;
  private closed = false;
  private readonly pings = new Map<number, () => void>();

  constructor(
    readonly socket: Duplex,
    readonly role: 'client' | 'server',
  ) {
    super();
    this.nextStreamId = role === 'client' ? 1 : 2;
    this.nextPingId = role === 'client' ? 1 : 2;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
    socket.on('end', () => this.destroy());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Opens a stream (SYN_STREAM); the peer's SYN_REPLY comes as the stream's 'reply' event. */
  openStream(headers: SpdyHeaders, opts: { fin?: boolean } = {}): SpdyStream {
    if (this.closed) throw new SpdyProtocolError('the session is closed');
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const stream = new SpdyStream(this, id, headers, false);
    this.streams.set(id, stream);
    this.send(encodeSynStream(id, this.compressHeaders(headers), { fin: opts.fin }));
    if (opts.fin) stream.end();
    return stream;
  }

  /** Sends a PING and resolves when the peer echoes it. */
  ping(): Promise<void> {
    const id = this.nextPingId;
    this.nextPingId += 2;
    return new Promise((resolve) => {
      this.pings.set(id, resolve);
      this.send(encodePing(id));
    });
  }

  /** GOAWAY, then the socket's end once written. */
  close(): void {
    if (this.closed) return;
    this.send(encodeGoaway(this.lastRemoteStreamId, GoawayStatus.OK));
    this.socket.end();
    this.destroy();
  }

  /** Drops the connection: every open stream is aborted. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.streams.values()]) s.abort();
    this.streams.clear();
    this.decompressor.close();
    if (!this.socket.writableEnded) this.socket.end();
    // a peer that never closes its side does not keep the socket
    setTimeout(() => this.socket.destroy(), 5000).unref();
    this.emit('close');
  }

  /** @internal Writes frames (a header and a payload may come separately); false when the socket is full. */
  send(...parts: Buffer[]): boolean {
    if (this.socket.destroyed || this.socket.writableEnded) return true;
    let ok = true;
    for (const p of parts) ok = this.socket.write(p);
    return ok;
  }

  /** @internal Calls `cb` when the socket drains or goes away. */
  afterDrain(cb: () => void): void {
    const done = (): void => {
      this.socket.off('drain', done);
      this.socket.off('close', done);
      cb();
    };
    this.socket.on('drain', done);
    this.socket.on('close', done);
  }

  /** @internal */
  compressHeaders(headers: SpdyHeaders): Buffer {
    return this.compressor.compress(encodeHeaderBlock(headers));
  }

  /** @internal */
  forget(id: number): void {
    this.streams.delete(id);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      for (const f of this.parser.push(chunk)) this.queue.push(f);
    } catch {
      this.protocolError();
      return;
    }
    if (!this.draining) void this.drain();
  }

  /** Frames are handled one at a time, in order: header blocks inflate asynchronously. */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const frame = this.queue.shift()!;
        const pending = this.handle(frame);
        if (pending) await pending;
      }
    } catch {
      this.protocolError();
    } finally {
      this.draining = false;
    }
  }

  private protocolError(): void {
    if (this.closed) return;
    this.send(encodeGoaway(this.lastRemoteStreamId, GoawayStatus.PROTOCOL_ERROR));
    this.destroy();
  }

  private handle(frame: Frame): Promise<void> | undefined {
    switch (frame.type) {
      case 'data': {
        const stream = this.streams.get(frame.streamId);
        if (stream) stream.receive(frame.data, (frame.flags & FLAG_FIN) !== 0);
        else this.send(encodeRstStream(frame.streamId, RstStatus.INVALID_STREAM));
        return undefined;
      }
      case 'syn_stream':
        return this.decompressor.decompress(frame.headerBlock).then((block) => {
          const headers = decodeHeaderBlock(block);
          const peerParity = this.role === 'server' ? 1 : 0;
          if (frame.streamId % 2 !== peerParity || frame.streamId <= this.lastRemoteStreamId) {
            this.send(encodeRstStream(frame.streamId, RstStatus.PROTOCOL_ERROR));
            return;
          }
          this.lastRemoteStreamId = frame.streamId;
          const stream = new SpdyStream(this, frame.streamId, headers, (frame.flags & FLAG_FIN) !== 0);
          // a unidirectional stream is never written by its receiver
          if (frame.flags & FLAG_UNIDIRECTIONAL) stream.end();
          this.streams.set(frame.streamId, stream);
          this.emit('stream', stream);
        });
      case 'syn_reply':
        return this.decompressor.decompress(frame.headerBlock).then((block) => {
          const stream = this.streams.get(frame.streamId);
          if (!stream) return;
          stream.receiveReply(decodeHeaderBlock(block));
          if (frame.flags & FLAG_FIN) stream.receive(Buffer.alloc(0), true);
        });
      case 'headers':
        return this.decompressor.decompress(frame.headerBlock).then(() => {
          if (frame.flags & FLAG_FIN) this.streams.get(frame.streamId)?.receive(Buffer.alloc(0), true);
        });
      case 'rst_stream':
        this.streams.get(frame.streamId)?.abort();
        return undefined;
      case 'ping': {
        const ours = frame.id % 2 === (this.role === 'client' ? 1 : 0);
        if (ours) {
          this.pings.get(frame.id)?.();
          this.pings.delete(frame.id);
        } else {
          this.send(encodePing(frame.id));
        }
        return undefined;
      }
      case 'goaway':
        // the peer opens no more streams; those open finish, then the socket closes
        return undefined;
      case 'settings':
      case 'window_update':
      case 'unknown':
        return undefined;
    }
  }
}
