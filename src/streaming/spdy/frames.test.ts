import { createServer, connect, type Socket } from 'node:net';
import { constants, inflateSync, createDeflate } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { adler32, HeaderCompressor, HeaderDecompressor } from './compression.js';
import { SPDY3_DICTIONARY } from './dictionary.js';
import {
  FLAG_FIN,
  FrameParser,
  SpdyProtocolError,
  decodeHeaderBlock,
  encodeData,
  encodeGoaway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
  type Frame,
} from './frames.js';
import { SpdySession, type SpdyStream } from './session.js';

describe('SPDY/3 dictionary', () => {
  it('is the spec dictionary: 1423 bytes, adler32 0xe3c6a7c2', () => {
    expect(SPDY3_DICTIONARY.length).toBe(1423);
    expect(adler32(SPDY3_DICTIONARY)).toBe(0xe3c6a7c2);
    expect(SPDY3_DICTIONARY.subarray(0, 11).toString('latin1')).toBe('\0\0\0\x07options');
  });
});

describe('adler32', () => {
  it('matches known values', () => {
    expect(adler32(Buffer.from('Wikipedia'))).toBe(0x11e60398);
    expect(adler32(Buffer.alloc(0))).toBe(1);
    expect(adler32(Buffer.alloc(100_000, 0xff))).toBe(adler32(Buffer.alloc(100_000, 0xff)));
  });
});

describe('frame encoders, byte for byte', () => {
  it('DATA', () => {
    expect(encodeData(5, Buffer.from('hi'), true).toString('hex')).toBe('00000005' + '01000002' + '6869');
  });
  it('SYN_STREAM', () => {
    expect(encodeSynStream(1, Buffer.from('ab'), { fin: true, unidirectional: true, priority: 2 }).toString('hex')).toBe('80030001' + '0300000c' + '00000001' + '00000000' + '4000' + '6162');
  });
  it('SYN_REPLY, RST_STREAM, PING, GOAWAY, WINDOW_UPDATE, SETTINGS', () => {
    expect(encodeSynReply(2, Buffer.alloc(0)).toString('hex')).toBe('80030002' + '00000004' + '00000002');
    expect(encodeRstStream(3, 5).toString('hex')).toBe('80030003' + '00000008' + '00000003' + '00000005');
    expect(encodePing(7).toString('hex')).toBe('80030006' + '00000004' + '00000007');
    expect(encodeGoaway(9, 1).toString('hex')).toBe('80030007' + '00000008' + '00000009' + '00000001');
    expect(encodeWindowUpdate(1, 65536).toString('hex')).toBe('80030009' + '00000008' + '00000001' + '00010000');
    expect(encodeSettings([{ flags: 1, id: 7, value: 65536 }]).toString('hex')).toBe('80030004' + '0000000c' + '00000001' + '01000007' + '00010000');
  });
});

describe('FrameParser', () => {
  const all = Buffer.concat([
    encodeSynStream(1, Buffer.from('hdr')),
    encodeData(1, Buffer.from('hello')),
    encodeData(1, Buffer.alloc(0), true),
    encodeSettings([{ flags: 0, id: 4, value: 100 }]),
    encodePing(1),
    encodeRstStream(1, 5),
    encodeWindowUpdate(0, 10),
    encodeGoaway(1, 0),
  ]);
  const expected: Frame[] = [
    { type: 'syn_stream', streamId: 1, associatedId: 0, priority: 0, flags: 0, headerBlock: Buffer.from('hdr') },
    { type: 'data', streamId: 1, flags: 0, data: Buffer.from('hello') },
    { type: 'data', streamId: 1, flags: FLAG_FIN, data: Buffer.alloc(0) },
    { type: 'settings', flags: 0, entries: [{ flags: 0, id: 4, value: 100 }] },
    { type: 'ping', id: 1 },
    { type: 'rst_stream', streamId: 1, status: 5 },
    { type: 'window_update', streamId: 0, delta: 10 },
    { type: 'goaway', lastGoodStreamId: 1, status: 0 },
  ];
  it('decodes a whole buffer', () => {
    expect(new FrameParser().push(all)).toEqual(expected);
  });
  it('decodes byte by byte and at every cut', () => {
    const p = new FrameParser();
    const out: Frame[] = [];
    for (const b of all) out.push(...p.push(Buffer.from([b])));
    expect(out).toEqual(expected);
    for (let cut = 1; cut < all.length; cut += 7) {
      const q = new FrameParser();
      expect([...q.push(all.subarray(0, cut)), ...q.push(all.subarray(cut))]).toEqual(expected);
    }
  });
  it('rejects another SPDY version', () => {
    const v2 = encodePing(1);
    v2.writeUInt16BE(0x8002, 0);
    expect(() => new FrameParser().push(v2)).toThrow(SpdyProtocolError);
  });
  it('keeps unknown control frames', () => {
    const f = encodePing(1);
    f.writeUInt16BE(0x0a, 2);
    expect(new FrameParser().push(f)).toEqual([{ type: 'unknown', controlType: 10, flags: 0, payload: Buffer.from('00000001', 'hex') }]);
  });
});

describe('header blocks', () => {
  it('round-trip with lower-cased names and NUL-joined repeats', () => {
    const raw = encodeHeaderBlock({ streamType: 'stdin', port: '80' });
    expect(raw.toString('hex')).toBe('00000002' + '0000000a' + Buffer.from('streamtype').toString('hex') + '00000005' + Buffer.from('stdin').toString('hex') + '00000004' + Buffer.from('port').toString('hex') + '00000002' + Buffer.from('80').toString('hex'));
    expect(decodeHeaderBlock(raw)).toEqual({ streamtype: 'stdin', port: '80' });
  });
  it('rejects truncation', () => {
    const raw = encodeHeaderBlock({ a: 'b' });
    expect(() => decodeHeaderBlock(raw.subarray(0, raw.length - 1))).toThrow(SpdyProtocolError);
  });
  it('the compressor writes a zlib stream any inflater reads with the dictionary', () => {
    const c = new HeaderCompressor();
    const one = c.compress(encodeHeaderBlock({ streamtype: 'error' }));
    const two = c.compress(encodeHeaderBlock({ streamtype: 'stdout' }));
    const out = inflateSync(Buffer.concat([one, two]), { dictionary: SPDY3_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH });
    expect(out).toEqual(Buffer.concat([encodeHeaderBlock({ streamtype: 'error' }), encodeHeaderBlock({ streamtype: 'stdout' })]));
    // the zlib header names the dictionary by its adler32
    expect(one.readUInt32BE(2)).toBe(0xe3c6a7c2);
    expect(((one[0]! << 8) | one[1]!) % 31).toBe(0);
  });
  it('the compressor ends every block with a sync flush, which Go needs to stop at the frame end', () => {
    const c = new HeaderCompressor();
    for (const h of [{ streamtype: 'error' }, {}, { streamtype: 'stdout' }] as Array<Record<string, string>>) {
      expect(c.compress(encodeHeaderBlock(h)).subarray(-5).toString('hex')).toBe('000000ffff');
    }
  });
  it('the decompressor reads real deflate output (one stream, sync-flushed per block) and its own', async () => {
    const deflate = createDeflate({ dictionary: SPDY3_DICTIONARY });
    const chunks: Buffer[] = [];
    deflate.on('data', (c: Buffer) => chunks.push(c));
    const block = (h: Record<string, string>): Promise<Buffer> =>
      new Promise((resolve) => {
        deflate.write(encodeHeaderBlock(h));
        deflate.flush(constants.Z_SYNC_FLUSH, () => resolve(Buffer.concat(chunks.splice(0))));
      });
    const d = new HeaderDecompressor();
    for (const h of [{ streamtype: 'error' }, { streamtype: 'data', port: '80', requestid: '0' }, { a: 'b' }] as Array<Record<string, string>>) {
      expect(decodeHeaderBlock(await d.decompress(await block(h)))).toEqual(h);
    }
    const mine = new HeaderDecompressor();
    const c = new HeaderCompressor();
    for (const h of [{ x: '1' }, { y: '2' }] as Array<Record<string, string>>) expect(decodeHeaderBlock(await mine.decompress(c.compress(encodeHeaderBlock(h))))).toEqual(h);
  });
});

describe('SpdySession over a socket', () => {
  async function pair(): Promise<{ client: SpdySession; server: SpdySession; close(): void }> {
    let serverSocket!: Socket;
    const srv = createServer((s) => (serverSocket = s));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    while (!serverSocket) await new Promise((r) => setTimeout(r, 5));
    return { client: new SpdySession(socket, 'client'), server: new SpdySession(serverSocket, 'server'), close: () => srv.close() };
  }

  it('opens streams, replies, carries data both ways with half-close, and pings', async () => {
    const { client, server, close } = await pair();
    server.on('stream', (s: SpdyStream) => {
      s.reply({ ok: 'yes' });
      s.pipe(s); // echo until the client's FIN, then FIN back
    });
    const s = client.openStream({ streamType: 'stdin' });
    const reply = new Promise((r) => s.once('reply', r));
    const big = Buffer.alloc(1024 * 1024 + 3, 7);
    const got: Buffer[] = [];
    s.on('data', (c: Buffer) => got.push(c));
    const ended = new Promise((r) => s.once('end', r));
    s.end(big);
    expect(await reply).toEqual({ ok: 'yes' });
    await ended;
    expect(Buffer.concat(got).equals(big)).toBe(true);
    await client.ping();
    await server.ping();
    client.close();
    await new Promise<void>((r) => server.once('close', () => r()));
    close();
  });

  it('a reset from the peer aborts the stream', async () => {
    const { client, server, close } = await pair();
    server.on('stream', (s: SpdyStream) => s.reset());
    const s = client.openStream({ a: 'b' });
    await new Promise((r) => s.once('close', r));
    expect(s.aborted).toBe(true);
    client.destroy();
    server.destroy();
    close();
  });

  it('answers garbage with GOAWAY and closes', async () => {
    const { client, server, close } = await pair();
    const closed = new Promise<void>((r) => server.once('close', () => r()));
    client.socket.write(Buffer.from('80020006000000040000000a', 'hex'));
    await closed;
    client.destroy();
    close();
  });
});
