import http2 from 'node:http2';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthorityRewriter, authorityIsValid, ProtocolError, withValidAuthority } from './authority.js';
import { encodeLiterals, HpackDecoder } from './hpack.js';

// Node's HTTP/2 (nghttp2, the same code grpc-js serves with) on both ends of a local socket: the
// client encodes with Huffman strings and a dynamic table, as grpc-go does.

interface Fixture {
  path: string;
  close(): void;
}

const fixtures: Fixture[] = [];
afterEach(() => {
  for (const f of fixtures.splice(0)) f.close();
});

/** An HTTP/2 server answering each request with the :authority it saw, optionally behind the rewriter. */
async function serve(rewrite: boolean): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'dcri-authority-'));
  const path = join(dir, 's.sock');
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200 });
    stream.end(JSON.stringify({ authority: headers[':authority'], big: String(headers['x-big'] ?? '').length }));
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    h2.emit('connection', rewrite ? withValidAuthority(socket) : socket);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const fixture = {
    path,
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

describe('withValidAuthority', () => {
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
    expect(r.rewriting).toBe(true);
    const frames = framesOf(Buffer.concat(out));
    expect(frames.map((f) => [f.type, f.flags])).toEqual([
      [0x4, 0],
      [0x1, 0x1 | 0x4],
      [0x0, 0x1],
    ]);
    expect(new HpackDecoder().decode(frames[1]!.payload).find((f) => f.name === ':authority')?.value).toBe('localhost');
    expect(frames[2]!.payload.toString()).toBe('data');
  });

  it('passes a connection with a valid :authority through byte for byte', () => {
    const r = new AuthorityRewriter();
    const input = Buffer.concat([PREFACE, frame(0x1, 0x4, 1, headersBlock('localhost')), frame(0x1, 0x4, 3, headersBlock('/run/later.sock'))]);
    expect(Buffer.concat(r.push(input))).toEqual(input);
    expect(r.passingThrough).toBe(true);
  });

  it('passes what is not HTTP/2 through untouched', () => {
    const r = new AuthorityRewriter();
    const input = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(Buffer.concat(r.push(input))).toEqual(input);
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
