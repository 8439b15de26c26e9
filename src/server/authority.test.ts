import http2 from 'node:http2';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Duplex } from 'node:stream';
import { acceptConnection, AuthorityRewriter, authorityIsValid, EMPTY_SETTINGS, FirstRequest, ProtocolError } from './authority.js';
import { encodeLiterals, HpackDecoder } from './hpack.js';

// Node's HTTP/2 (nghttp2, the same code grpc-js serves with) on both ends of a local socket: the
// client encodes with Huffman strings and a dynamic table, as grpc-go does.

interface Fixture {
  path: string;
  /** For each connection: whether the server was handed the socket itself (not a stream in front of it). */
  native: boolean[];
  close(): void;
}

const fixtures: Fixture[] = [];
afterEach(() => {
  for (const f of fixtures.splice(0)) f.close();
});

/** An HTTP/2 server answering each request with the :authority it saw, optionally behind acceptConnection. */
async function serve(rewrite: boolean): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'dcri-authority-'));
  const path = join(dir, 's.sock');
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.end(JSON.stringify({ authority: headers[':authority'], big: String(headers['x-big'] ?? '').length }));
  });
  const sockets = new Set<Socket>();
  const native: boolean[] = [];
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    if (!rewrite) h2.emit('connection', socket);
    else
      acceptConnection(socket, (connection: Duplex) => {
        native.push(connection === socket);
        h2.emit('connection', connection);
      });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const fixture = {
    path,
    native,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
      h2.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  fixtures.push(fixture);
  return fixture;
}

function request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<{ authority: string; big: number }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': '/', ...headers });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => resolve(JSON.parse(body) as { authority: string; big: number }));
    req.on('error', reject);
    req.end();
  });
}

const open = (path: string): http2.ClientHttp2Session => http2.connect('http://localhost', { createConnection: () => connect(path) });

describe('acceptConnection', () => {
  it('is needed: without it, a socket path as :authority fails the stream', async () => {
    const f = await serve(false);
    const session = open(f.path);
    await expect(request(session, { ':authority': '/var/run/cri-dockerd.sock' })).rejects.toThrow(/PROTOCOL_ERROR/);
    session.destroy();
  });

  it('answers every request of a client that sends the socket path, on one connection', async () => {
    const f = await serve(true);
    const session = open(f.path);
    for (let i = 0; i < 20; i++) {
      // repeated and varying headers exercise the client's dynamic table
      const answer = await request(session, { ':authority': '/var/run/cri-dockerd.sock', 'x-n': String(i), 'user-agent': 'grpc-go/1.51.0' });
      expect(answer.authority).toBe('localhost');
    }
    expect(f.native).toEqual([false]);
    session.close();
  });

  it('carries header blocks that span CONTINUATION frames', async () => {
    const f = await serve(true);
    const session = open(f.path);
    const answer = await request(session, { ':authority': '/run/x.sock', 'x-big': 'b'.repeat(40_000) });
    expect(answer).toEqual({ authority: 'localhost', big: 40_000 });
    session.close();
  });

  it('leaves a valid :authority as the client sent it', async () => {
    const f = await serve(true);
    const session = open(f.path);
    expect((await request(session, { ':authority': 'localhost:1234' })).authority).toBe('localhost:1234');
    expect((await request(session, { ':authority': 'localhost:1234' })).authority).toBe('localhost:1234');
    // Node's HTTP/2 reads that socket itself
    expect(f.native).toEqual([true]);
    session.close();
  });

  it('closes the connection, and only it, on bytes that are not HTTP/2 framing', async () => {
    const f = await serve(true);
    const raw = connect(f.path);
    const closed = new Promise<void>((resolve) => raw.on('close', () => resolve()));
    raw.on('error', () => undefined);
    raw.resume();
    // the preface, then a CONTINUATION with no HEADERS before it
    raw.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 1, 0x9, 0x4, 0, 0, 0, 1, 0x82])]));
    await closed;
    const session = open(f.path);
    expect((await request(session, { ':authority': '/run/x.sock' })).authority).toBe('localhost');
    session.close();
  });
});

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** A client speaking HTTP/2 frame by frame on a raw socket, as grpc-go does: it waits for the server's SETTINGS before its first request. */
class RawClient {
  readonly frames: { type: number; flags: number; streamId: number; payload: Buffer }[] = [];
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  readonly socket: Socket;

  constructor(path: string) {
    this.socket = connect(path);
    this.socket.on('error', () => undefined);
    this.socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      while (this.buffer.length >= 9 && this.buffer.length >= 9 + this.buffer.readUIntBE(0, 3)) {
        const len = this.buffer.readUIntBE(0, 3);
        this.frames.push({ type: this.buffer[3]!, flags: this.buffer[4]!, streamId: this.buffer.readUInt32BE(5), payload: this.buffer.subarray(9, 9 + len) });
        this.buffer = this.buffer.subarray(9 + len);
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  /** Waits until a frame the test is looking for has come. */
  async until(match: (f: RawClient['frames'][number]) => boolean): Promise<RawClient['frames'][number]> {
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}

const getRequest = (authority: string): Buffer =>
  frame(
    0x1,
    0x1 | 0x4,
    1,
    encodeLiterals([
      { name: ':method', value: 'GET', sensitive: false },
      { name: ':scheme', value: 'http', sensitive: false },
      { name: ':path', value: '/', sensitive: false },
      { name: ':authority', value: authority, sensitive: false },
    ]),
  );

describe('acceptConnection with a client that waits for the server to speak first', () => {
  it.each([
    ['localhost', 'localhost', true],
    ['/var/run/cri-dockerd.sock', 'localhost', false],
  ])(':authority %s is answered as %s (socket itself: %s)', async (authority, seen, native) => {
    const f = await serve(true);
    const c = new RawClient(f.path);
    c.send(PREFACE, frame(0x4, 0, 0, Buffer.alloc(0)));
    // the server's preface comes before the client has sent any request
    const first = await c.until((fr) => fr.type === 0x4 && fr.flags === 0);
    expect(c.frames[0]).toBe(first);
    expect(first.payload.length).toBe(0);
    c.send(frame(0x4, 0x1, 0, Buffer.alloc(0)), getRequest(authority));
    const data = await c.until((fr) => fr.type === 0x0 && fr.streamId === 1);
    expect(JSON.parse(data.payload.toString()).authority).toBe(seen);
    // the SETTINGS frame of the server behind, which the client acknowledges as usual
    expect(c.frames.filter((fr) => fr.type === 0x4 && fr.flags === 0).length).toBe(2);
    expect(c.frames.some((fr) => fr.type === 0x7)).toBe(false);
    expect(f.native).toEqual([native]);
    c.socket.destroy();
  });

  it('answers a PING that comes before the first request', async () => {
    const f = await serve(true);
    const c = new RawClient(f.path);
    const payload = Buffer.from('keepaliv');
    c.send(PREFACE, frame(0x4, 0, 0, Buffer.alloc(0)), frame(0x6, 0, 0, payload));
    const pong = await c.until((fr) => fr.type === 0x6);
    expect(pong.flags).toBe(0x1);
    expect(pong.payload).toEqual(payload);
    expect(f.native).toEqual([]);
    c.socket.destroy();
  });

  it('closes a client that sends PING after PING without acknowledging the SETTINGS', async () => {
    const f = await serve(true);
    const c = new RawClient(f.path);
    const closed = new Promise<void>((resolve) => c.socket.on('close', () => resolve()));
    const ping = frame(0x6, 0, 0, Buffer.from('keepaliv'));
    c.send(PREFACE, frame(0x4, 0, 0, Buffer.alloc(0)), ...Array.from({ length: 150 }, () => ping));
    await closed;
    expect(c.frames.filter((fr) => fr.type === 0x6).length).toBeLessThanOrEqual(100);
    expect(f.native).toEqual([]);
  });

  it('closes a connection that ends before its first request', async () => {
    const f = await serve(true);
    const c = new RawClient(f.path);
    const closed = new Promise<void>((resolve) => c.socket.on('close', () => resolve()));
    c.send(PREFACE, frame(0x4, 0, 0, Buffer.alloc(0)));
    await c.until((fr) => fr.type === 0x4);
    c.socket.end();
    await closed;
    expect(f.native).toEqual([]);
  });
});


function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return Buffer.concat([h, payload]);
}

const headersBlock = (authority: string): Buffer =>
  encodeLiterals([
    { name: ':method', value: 'POST', sensitive: false },
    { name: ':authority', value: authority, sensitive: false },
    { name: ':path', value: '/x', sensitive: false },
  ]);

/** Splits the rewriter's output back into frames and decodes its header blocks. */
function framesOf(bytes: Buffer): { type: number; flags: number; payload: Buffer }[] {
  const out = [];
  let at = PREFACE.length;
  while (at < bytes.length) {
    const len = bytes.readUIntBE(at, 3);
    out.push({ type: bytes[at + 3]!, flags: bytes[at + 4]!, payload: bytes.subarray(at + 9, at + 9 + len) });
    at += 9 + len;
  }
  return out;
}

describe('AuthorityRewriter', () => {
  it('rewrites, fed one byte at a time, keeping END_STREAM and dropping padding and priority', () => {
    const r = new AuthorityRewriter();
    const block = headersBlock('/run/a.sock');
    const padded = Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 16]), block, Buffer.alloc(3)]);
    const input = Buffer.concat([PREFACE, frame(0x4, 0, 0, Buffer.alloc(0)), frame(0x1, 0x1 | 0x4 | 0x8 | 0x20, 1, padded), frame(0x0, 0x1, 3, Buffer.from('data'))]);
    const out: Buffer[] = [];
    for (const b of input) out.push(...r.push(Buffer.from([b])));
    const frames = framesOf(Buffer.concat(out));
    expect(frames.map((f) => [f.type, f.flags])).toEqual([
      [0x4, 0],
      [0x1, 0x1 | 0x4],
      [0x0, 0x1],
    ]);
    expect(new HpackDecoder().decode(frames[1]!.payload).find((f) => f.name === ':authority')?.value).toBe('localhost');
    expect(frames[2]!.payload.toString()).toBe('data');
  });

  it('keeps a valid :authority of a later request and replaces an invalid one', () => {
    const r = new AuthorityRewriter();
    const input = Buffer.concat([PREFACE, frame(0x1, 0x4, 1, headersBlock('example:50051')), frame(0x1, 0x4, 3, headersBlock('/run/later.sock'))]);
    const frames = framesOf(Buffer.concat(r.push(input)));
    const decoder = new HpackDecoder();
    expect(frames.map((f) => decoder.decode(f.payload).find((h) => h.name === ':authority')?.value)).toEqual(['example:50051', 'localhost']);
  });

  it('refuses what is not HTTP/2, at its first byte that differs from the preface', () => {
    expect(() => new AuthorityRewriter().push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).toThrow(ProtocolError);
    const r = new AuthorityRewriter();
    expect(r.push(PREFACE.subarray(0, 5))).toEqual([]);
    expect(() => r.push(Buffer.from('X'))).toThrow(/preface/);
  });

  it.each([
    ['a CONTINUATION without HEADERS', frame(0x9, 0x4, 1, Buffer.from([0x82]))],
    ['a DATA frame inside a header block', Buffer.concat([frame(0x1, 0, 1, Buffer.from([0x82])), frame(0x0, 0, 1, Buffer.alloc(0))])],
    ['padding longer than the frame', frame(0x1, 0x4 | 0x8, 1, Buffer.from([9, 0x82]))],
    ['an undecodable header block', frame(0x1, 0x4, 1, Buffer.from([0x80]))],
  ])('refuses %s', (_what, frames) => {
    expect(() => new AuthorityRewriter().push(Buffer.concat([PREFACE, frames]))).toThrow(ProtocolError);
  });
});

describe('authorityIsValid', () => {
  it.each([
    ['localhost', true],
    ['localhost:1234', true],
    ['[::1]:80', true],
    ['', true],
    ['/var/run/cri-dockerd.sock', false],
    ['unix:///run/x.sock', false],
    ['a b', false],
  ])('%s → %s', (authority, valid) => {
    expect(authorityIsValid(authority)).toBe(valid);
  });
});

describe('FirstRequest', () => {
  const settings = frame(0x4, 0, 0, Buffer.alloc(0));
  const settingsAck = frame(0x4, 0x1, 0, Buffer.alloc(0));
  const windowUpdate = frame(0x8, 0, 0, Buffer.from([0, 0, 0x10, 0]));
  const data = frame(0x0, 0x1, 1, Buffer.from('body'));
  /** What becomes of a connection the reader stops holding: closed before its SETTINGS ACK, handed on after it. */
  const UNTIL_ACKED = [
    ['closes', false, 'close'],
    ['hands on', true, 'native'],
  ] as const;

  it('waits for the first request and the ACK of its own SETTINGS, fed one byte at a time, and holds all but that ACK', () => {
    const f = new FirstRequest();
    const input = Buffer.concat([PREFACE, settings, windowUpdate, frame(0x1, 0x4, 1, headersBlock('localhost')), data]);
    for (const b of input) expect(f.push(Buffer.from([b]))).toEqual([]);
    expect(f.decision).toBeUndefined();
    f.push(settingsAck);
    expect(f.decision).toBe('native');
    expect(f.take()).toEqual(input);
  });

  it('decides once the request is complete when the ACK came first, and hands on what came with it', () => {
    const f = new FirstRequest();
    const block = headersBlock('/run/a.sock');
    const later = frame(0x1, 0x4, 3, headersBlock('localhost'));
    f.push(Buffer.concat([PREFACE, settings, settingsAck, frame(0x1, 0, 1, block.subarray(0, 5))]));
    expect(f.decision).toBeUndefined();
    f.push(Buffer.concat([frame(0x9, 0x4, 1, block.subarray(5)), later]));
    expect(f.decision).toBe('rewrite');
    expect(f.take()).toEqual(Buffer.concat([PREFACE, settings, frame(0x1, 0, 1, block.subarray(0, 5)), frame(0x9, 0x4, 1, block.subarray(5)), later]));
  });

  it('strips only the first SETTINGS ACK', () => {
    const f = new FirstRequest();
    f.push(Buffer.concat([PREFACE, settings, settingsAck, settingsAck, frame(0x1, 0x4, 1, headersBlock('localhost'))]));
    expect(f.decision).toBe('native');
    expect(f.take()).toEqual(Buffer.concat([PREFACE, settings, settingsAck, frame(0x1, 0x4, 1, headersBlock('localhost'))]));
  });

  it('answers a PING and holds it back; a PING ACK is held', () => {
    const f = new FirstRequest();
    const replies = f.push(Buffer.concat([PREFACE, settings, frame(0x6, 0, 0, Buffer.from('12345678')), frame(0x6, 0x1, 0, Buffer.from('abcdefgh'))]));
    expect(replies).toEqual([frame(0x6, 0x1, 0, Buffer.from('12345678'))]);
    f.push(Buffer.concat([settingsAck, frame(0x1, 0x4, 1, headersBlock('localhost'))]));
    expect(f.take()).toEqual(Buffer.concat([PREFACE, settings, frame(0x6, 0x1, 0, Buffer.from('abcdefgh')), frame(0x1, 0x4, 1, headersBlock('localhost'))]));
  });

  it('takes a request without :authority as one the server accepts', () => {
    const f = new FirstRequest();
    f.push(Buffer.concat([PREFACE, settingsAck, frame(0x1, 0x4, 1, encodeLiterals([{ name: ':method', value: 'POST', sensitive: false }]))]));
    expect(f.decision).toBe('native');
  });

  it('hands what is not HTTP/2 on at once, byte for byte', () => {
    const f = new FirstRequest();
    f.push(Buffer.from('GE'));
    expect(f.decision).toBe('native');
    expect(f.take()).toEqual(Buffer.from('GE'));
  });

  it.each([
    ['a CONTINUATION without HEADERS', frame(0x9, 0x4, 1, Buffer.from([0x82]))],
    ['a DATA frame inside a header block', Buffer.concat([frame(0x1, 0, 1, Buffer.from([0x82])), frame(0x0, 0, 1, Buffer.alloc(0))])],
    ['an undecodable header block', frame(0x1, 0x4, 1, Buffer.from([0x80]))],
    ['a frame larger than the default maximum', Buffer.from([0x01, 0, 0, 0x0, 0, 0, 0, 0, 1])],
  ])('leaves %s, and all after it, to the server', (_what, frames) => {
    const f = new FirstRequest();
    const input = Buffer.concat([PREFACE, settings, frames, data]);
    f.push(input);
    expect(f.decision).toBe('native');
    expect(f.take()).toEqual(input);
  });

  it.each(UNTIL_ACKED)('stops holding a client that sends megabytes without a request: %s it when its SETTINGS ACK has come: %s', (_what, acked, decision) => {
    const f = new FirstRequest();
    f.push(Buffer.concat([PREFACE, settings, ...(acked ? [settingsAck] : [])]));
    const chunk = frame(0x0, 0, 1, Buffer.alloc(16_384));
    let pushed = 0;
    while (!f.decision && pushed < 200) {
      f.push(chunk);
      pushed++;
    }
    expect(f.decision).toBe(decision);
    expect(pushed).toBeLessThan(200);
    expect(f.take().length).toBe(PREFACE.length + settings.length + pushed * chunk.length);
  });

  it.each(UNTIL_ACKED)('answers 100 PINGs before the first request, then %s the connection when its SETTINGS ACK has come: %s', (_what, acked, decision) => {
    const f = new FirstRequest();
    f.push(Buffer.concat([PREFACE, settings, ...(acked ? [settingsAck] : [])]));
    const ping = frame(0x6, 0, 0, Buffer.from('12345678'));
    for (let i = 0; i < 100; i++) expect(f.push(ping)).toHaveLength(1);
    expect(f.decision).toBeUndefined();
    // the 101st goes to the server unanswered, with what came after it
    expect(f.push(Buffer.concat([ping, data]))).toEqual([]);
    expect(f.decision).toBe(decision);
    expect(f.take()).toEqual(Buffer.concat([PREFACE, settings, ping, data]));
  });

  it('is the preface a server may send first', () => {
    expect(EMPTY_SETTINGS).toEqual(frame(0x4, 0, 0, Buffer.alloc(0)));
  });
});
