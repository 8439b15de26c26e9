/**
 * HPACK (RFC 7541), as much as re-writing a client's request headers needs: a decoder that keeps
 * the client's dynamic table, and an encoder that writes literals only, so the peer decoding our
 * output never needs a dynamic table of its own.
 */

export interface HeaderField {
  name: string;
  value: string;
  /** The client asked that this field never be indexed by intermediaries (e.g. credentials). */
  sensitive: boolean;
}

export class HpackError extends Error {}

/** RFC 7541 Appendix A. Strings are latin1 throughout: one character per octet. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''],
  ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''],
  ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''],
  ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''], ['retry-after', ''],
  ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''], ['transfer-encoding', ''],
  ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];

const STATIC_NAME_INDEX = new Map<string, number>();
STATIC_TABLE.forEach(([name], i) => {
  if (!STATIC_NAME_INDEX.has(name)) STATIC_NAME_INDEX.set(name, i + 1);
});

/**
 * HPACK's Huffman code is canonical, so the bit length of each symbol's code is all it takes to
 * rebuild the code (RFC 7541 Appendix B): symbols listed by code length, in symbol order.
 */
const SYMBOLS_BY_CODE_LENGTH: Readonly<Record<number, readonly number[]>> = {
  5: [48, 49, 50, 97, 99, 101, 105, 111, 115, 116],
  6: [32, 37, 45, 46, 47, 51, 52, 53, 54, 55, 56, 57, 61, 65, 95, 98, 100, 102, 103, 104, 108, 109, 110, 112, 114, 117],
  7: [58, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 89, 106, 107, 113, 118, 119, 120, 121, 122],
  8: [38, 42, 44, 59, 88, 90],
  10: [33, 34, 40, 41, 63],
  11: [39, 43, 124],
  12: [35, 62],
  13: [0, 36, 64, 91, 93, 126],
  14: [94, 125],
  15: [60, 96, 123],
  19: [92, 195, 208],
  20: [128, 130, 131, 162, 184, 194, 224, 226],
  21: [153, 161, 167, 172, 176, 177, 179, 209, 216, 217, 227, 229, 230],
  22: [129, 132, 133, 134, 136, 146, 154, 156, 160, 163, 164, 169, 170, 173, 178, 181, 185, 186, 187, 189, 190, 196, 198, 228, 232, 233],
  23: [1, 135, 137, 138, 139, 140, 141, 143, 147, 149, 150, 151, 152, 155, 157, 158, 165, 166, 168, 174, 175, 180, 182, 183, 188, 191, 197, 231, 239],
  24: [9, 142, 144, 145, 148, 159, 171, 206, 215, 225, 236, 237],
  25: [199, 207, 234, 235],
  26: [192, 193, 200, 201, 202, 205, 210, 213, 218, 219, 238, 240, 242, 243, 255],
  27: [203, 204, 211, 212, 214, 221, 222, 223, 241, 244, 245, 246, 247, 248, 250, 251, 252, 253, 254],
  28: [2, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24, 25, 26, 27, 28, 29, 30, 31, 127, 220, 249],
  30: [10, 13, 22, 256],
};

const EOS = 256;

/** A binary tree over the code's bits: node 0 is the root; `symbol` is set on leaves. */
interface HuffmanNode {
  zero: number;
  one: number;
  symbol: number;
}

function buildHuffmanTree(): HuffmanNode[] {
  const nodes: HuffmanNode[] = [{ zero: -1, one: -1, symbol: -1 }];
  let code = 0;
  let length = 0;
  for (const [len, symbols] of Object.entries(SYMBOLS_BY_CODE_LENGTH).map(([l, s]) => [Number(l), s] as const).sort((a, b) => a[0] - b[0])) {
    code <<= len - length;
    length = len;
    for (const symbol of symbols) {
      let at = 0;
      for (let bit = len - 1; bit >= 0; bit--) {
        const node = nodes[at]!;
        const one = ((code >>> bit) & 1) === 1;
        let next = one ? node.one : node.zero;
        if (next === -1) {
          next = nodes.push({ zero: -1, one: -1, symbol: -1 }) - 1;
          if (one) node.one = next;
          else node.zero = next;
        }
        at = next;
      }
      nodes[at]!.symbol = symbol;
      code++;
    }
  }
  return nodes;
}

const HUFFMAN = buildHuffmanTree();

export function huffmanDecode(bytes: Buffer): string {
  const out: number[] = [];
  let at = 0;
  // bits read since the last symbol, and whether all of them were ones (legal padding is a prefix of EOS)
  let pending = 0;
  let allOnes = true;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const one = ((byte >> bit) & 1) === 1;
      const node = HUFFMAN[at]!;
      at = one ? node.one : node.zero;
      if (at === -1) throw new HpackError('invalid Huffman code');
      pending++;
      allOnes &&= one;
      const symbol = HUFFMAN[at]!.symbol;
      if (symbol !== -1) {
        if (symbol === EOS) throw new HpackError('EOS symbol inside a Huffman string');
        out.push(symbol);
        at = 0;
        pending = 0;
        allOnes = true;
      }
    }
  }
  if (pending > 7 || !allOnes) throw new HpackError('invalid Huffman padding');
  return Buffer.from(out).toString('latin1');
}

class Reader {
  at = 0;
  constructor(private readonly block: Buffer) {}

  get done(): boolean {
    return this.at >= this.block.length;
  }

  peek(): number {
    if (this.at >= this.block.length) throw new HpackError('header block ends inside a field');
    return this.block[this.at]!;
  }

  /** An integer with an N-bit prefix (RFC 7541 5.1). */
  integer(prefixBits: number): number {
    const max = (1 << prefixBits) - 1;
    let value = this.peek() & max;
    this.at++;
    if (value < max) return value;
    let shift = 0;
    for (;;) {
      const b = this.peek();
      this.at++;
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (value > 0xffffffff) throw new HpackError('integer too large');
      if ((b & 0x80) === 0) return value;
    }
  }

  string(): string {
    const huffman = (this.peek() & 0x80) !== 0;
    const length = this.integer(7);
    if (this.at + length > this.block.length) throw new HpackError('header block ends inside a string');
    const raw = this.block.subarray(this.at, this.at + length);
    this.at += length;
    return huffman ? huffmanDecode(raw) : raw.toString('latin1');
  }
}

const ENTRY_OVERHEAD = 32;

/** Decodes one peer's header blocks in order, keeping its dynamic table between them. */
export class HpackDecoder {
  /** Newest first, as HPACK numbers them. */
  private readonly dynamic: [string, string][] = [];
  private size = 0;
  private maxSize: number;

  /** `limit`: the SETTINGS_HEADER_TABLE_SIZE the decoding side allows (4096 unless it said otherwise). */
  constructor(private readonly limit = 4096) {
    this.maxSize = limit;
  }

  decode(block: Buffer): HeaderField[] {
    const r = new Reader(block);
    const fields: HeaderField[] = [];
    let fieldSeen = false;
    while (!r.done) {
      const b = r.peek();
      if (b & 0x80) {
        const [name, value] = this.entry(r.integer(7));
        fields.push({ name, value, sensitive: false });
      } else if (b & 0x40) {
        const nameIndex = r.integer(6);
        const name = nameIndex === 0 ? r.string() : this.entry(nameIndex)[0];
        const value = r.string();
        this.add(name, value);
        fields.push({ name, value, sensitive: false });
      } else if (b & 0x20) {
        if (fieldSeen) throw new HpackError('dynamic table size update after a header field');
        const size = r.integer(5);
        if (size > this.limit) throw new HpackError(`dynamic table size ${size} exceeds the allowed ${this.limit}`);
        this.maxSize = size;
        this.evict(0);
        continue;
      } else {
        const sensitive = (b & 0x10) !== 0;
        const nameIndex = r.integer(4);
        const name = nameIndex === 0 ? r.string() : this.entry(nameIndex)[0];
        fields.push({ name, value: r.string(), sensitive });
      }
      fieldSeen = true;
    }
    return fields;
  }

  private entry(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
    const e = this.dynamic[index - STATIC_TABLE.length - 1];
    if (!e) throw new HpackError(`index ${index} is not in the table`);
    return e;
  }

  private add(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    this.evict(entrySize);
    // an entry larger than the whole table empties it and is not added (RFC 7541 4.4)
    if (entrySize > this.maxSize) return;
    this.dynamic.unshift([name, value]);
    this.size += entrySize;
  }

  private evict(room: number): void {
    while (this.size + room > this.maxSize && this.dynamic.length > 0) {
      const [name, value] = this.dynamic.pop()!;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}

function writeInteger(out: number[], value: number, prefixBits: number, firstByteFlags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(firstByteFlags | value);
    return;
  }
  out.push(firstByteFlags | max);
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

function writeString(out: number[], s: string): void {
  writeInteger(out, s.length, 7, 0);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0xff);
}

/**
 * A header block of literals that touch no dynamic table ("without indexing", or "never indexed"
 * for sensitive fields), names taken from the static table where they are in it.
 */
export function encodeLiterals(fields: readonly HeaderField[]): Buffer {
  const out: number[] = [];
  for (const f of fields) {
    const flags = f.sensitive ? 0x10 : 0x00;
    const nameIndex = STATIC_NAME_INDEX.get(f.name);
    if (nameIndex !== undefined) writeInteger(out, nameIndex, 4, flags);
    else {
      out.push(flags);
      writeString(out, f.name);
    }
    writeString(out, f.value);
  }
  return Buffer.from(out);
}
