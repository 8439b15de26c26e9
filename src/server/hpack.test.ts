import { describe, expect, it } from 'vitest';
import { encodeLiterals, HpackDecoder, HpackError, huffmanDecode, type HeaderField } from './hpack.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const pairs = (fields: HeaderField[]): [string, string][] => fields.map((f) => [f.name, f.value]);

describe('huffmanDecode', () => {
  it.each([
    ['f1e3 c2e5 f23a 6ba0 ab90 f4ff', 'www.example.com'],
    ['a8eb 1064 9cbf', 'no-cache'],
    ['25a8 49e9 5ba9 7d7f', 'custom-key'],
    ['25a8 49e9 5bb8 e8b4 bf', 'custom-value'],
    ['', ''],
  ])('decodes the RFC 7541 example %s', (bytes, text) => {
    expect(huffmanDecode(hex(bytes))).toBe(text);
  });

  it('refuses padding that is not a prefix of EOS', () => {
    // "0" is 00000 (5 bits); padding with zeros instead of ones is invalid
    expect(() => huffmanDecode(Buffer.from([0b00000000]))).toThrow(HpackError);
  });

  it('refuses padding longer than 7 bits', () => {
    expect(() => huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff ff'))).toThrow(/padding/);
  });

  it('refuses an encoded EOS symbol', () => {
    // EOS is thirty 1 bits
    expect(() => huffmanDecode(hex('ffff ffff'))).toThrow(HpackError);
  });
});

describe('HpackDecoder', () => {
  it('decodes the RFC 7541 C.3 request sequence, keeping its dynamic table', () => {
    const d = new HpackDecoder();
    expect(pairs(d.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d')))).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ]);
    expect(pairs(d.decode(hex('8286 84be 5808 6e6f 2d63 6163 6865')))).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
      ['cache-control', 'no-cache'],
    ]);
    expect(pairs(d.decode(hex('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65')))).toEqual([
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value'],
    ]);
  });

  it('decodes the RFC 7541 C.4 request sequence (Huffman strings)', () => {
    const d = new HpackDecoder();
    expect(pairs(d.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')))).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ]);
    expect(pairs(d.decode(hex('8286 84be 5886 a8eb 1064 9cbf')))).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
      ['cache-control', 'no-cache'],
    ]);
    expect(pairs(d.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'))).at(-1)).toEqual(['custom-key', 'custom-value']);
  });

  it('marks never-indexed fields sensitive', () => {
    // literal never indexed, new name "password", value "secret"
    const block = Buffer.concat([Buffer.from([0x10, 8]), Buffer.from('password'), Buffer.from([6]), Buffer.from('secret')]);
    expect(new HpackDecoder().decode(block)).toEqual([{ name: 'password', value: 'secret', sensitive: true }]);
  });

  it('evicts the oldest entries when a size update shrinks the table', () => {
    const d = new HpackDecoder();
    d.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d')); // adds :authority (57 bytes)
    expect(() => d.decode(hex('20 be'))).toThrow(/not in the table/); // size 0 empties the table
  });

  it('refuses a size update above the allowed table size', () => {
    expect(() => new HpackDecoder(4096).decode(hex('3fe2 1f'))).toThrow(/exceeds/); // 4097
  });

  it('refuses a size update after a field', () => {
    expect(() => new HpackDecoder().decode(hex('82 20'))).toThrow(/after a header field/);
  });

  it.each([
    ['index 0', '80', /index 0/],
    ['an index past the tables', 'ff00', /not in the table/],
    ['a block cut inside a string', '4109 7777', /ends inside a string/],
    ['a block cut inside an integer', 'ff', /ends inside a field/],
    ['an integer beyond 32 bits', 'ffff ffff ffff 7f', /too large/],
  ])('refuses %s', (_what, block, message) => {
    expect(() => new HpackDecoder().decode(hex(block))).toThrow(message);
  });

  it('drops an entry larger than the whole table without failing', () => {
    const d = new HpackDecoder(64);
    const big = 'x'.repeat(100);
    // literal with incremental indexing, new name "a", a 100-byte value: 133 bytes > 64
    const plain = Buffer.concat([Buffer.from([0x40, 1, 0x61, big.length]), Buffer.from(big)]);
    expect(pairs(d.decode(plain))).toEqual([['a', big]]);
    expect(() => d.decode(hex('be'))).toThrow(/not in the table/);
  });
});

describe('encodeLiterals', () => {
  const fields: HeaderField[] = [
    { name: ':method', value: 'POST', sensitive: false },
    { name: ':authority', value: 'localhost', sensitive: false },
    { name: ':path', value: '/runtime.v1.RuntimeService/Version', sensitive: false },
    { name: 'content-type', value: 'application/grpc', sensitive: false },
    { name: 'grpc-timeout', value: '1999m', sensitive: false },
    { name: 'authorization', value: 'Bearer x', sensitive: true },
    { name: 'x-long', value: 'v'.repeat(300), sensitive: false },
  ];

  it('round-trips through a decoder, touching no dynamic table', () => {
    const d = new HpackDecoder();
    const block = encodeLiterals(fields);
    expect(d.decode(block)).toEqual(fields);
    // a second decode of the same block gives the same: nothing was indexed
    expect(d.decode(block)).toEqual(fields);
    expect(() => d.decode(hex('be'))).toThrow(/not in the table/);
  });

  it('names static-table headers by index', () => {
    expect(encodeLiterals([{ name: ':path', value: '/', sensitive: false }])).toEqual(Buffer.from([0x04, 0x01, 0x2f]));
  });
});
