// SPDY/3 header blocks travel in one zlib stream per direction, primed with SPDY3_DICTIONARY.
import { constants, createInflate, type Inflate } from 'node:zlib';
import { SPDY3_DICTIONARY } from './dictionary.js';

export function adler32(data: Buffer): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length; ) {
    // 3800 bytes keep b below 2^32 between reductions
    const end = Math.min(data.length, i + 3800);
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const MAX_STORED = 0xffff;

/** A sync flush's mark: an empty stored block (BFINAL=0, LEN=0, NLEN=0xffff). */
const SYNC_FLUSH_MARK = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);

/**
 * The sending side. It emits deflate "stored" blocks: a valid zlib stream (RFC 1950/1951) that
 * every inflater, Go's compress/zlib included, reads with the dictionary, while staying
 * synchronous and in frame order. Header blocks are a few dozen bytes, so nothing is lost.
 * Each block ends with a sync flush's empty stored block, as zlib's Z_SYNC_FLUSH and Go's
 * Flush() write it: Go's flate hands out a stored block's bytes only once it has read the next
 * block header, so without the mark it reads past the frame, and its one zlib.Reader per
 * connection (spdystream's Framer) then fails every later header block.
 */
export class HeaderCompressor {
  private started = false;

  compress(raw: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.started) {
      this.started = true;
      const head = Buffer.allocUnsafe(6);
      head[0] = 0x78; // deflate, 32 KiB window
      const flg = 0x20; // FDICT, level 0
      head[1] = flg + (31 - (((0x78 << 8) | flg) % 31)) % 31;
      head.writeUInt32BE(adler32(SPDY3_DICTIONARY), 2);
      parts.push(head);
    }
    for (let at = 0; at < raw.length; at += MAX_STORED) {
      const piece = raw.subarray(at, at + MAX_STORED);
      const block = Buffer.allocUnsafe(5);
      block[0] = 0x00; // BFINAL=0, BTYPE=00 (stored), padded to the byte
      block.writeUInt16LE(piece.length, 1);
      block.writeUInt16LE(~piece.length & 0xffff, 3);
      parts.push(block, piece);
    }
    parts.push(SYNC_FLUSH_MARK);
    return Buffer.concat(parts);
  }
}

/** The receiving side: one inflater for the connection, fed each frame's block in order. */
export class HeaderDecompressor {
  private readonly inflate: Inflate = createInflate({ dictionary: SPDY3_DICTIONARY });
  private out: Buffer[] = [];
  private failed: Error | undefined;

  constructor() {
    this.inflate.on('data', (c: Buffer) => this.out.push(c));
    this.inflate.on('error', (err) => (this.failed = err));
  }

  /** Inflates one header block; calls must not overlap (the session awaits each in turn). */
  decompress(block: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.inflate.write(block);
      this.inflate.flush(constants.Z_SYNC_FLUSH, () => {
        if (this.failed) return reject(this.failed);
        const result = Buffer.concat(this.out);
        this.out = [];
        resolve(result);
      });
    });
  }

  close(): void {
    this.inflate.close();
  }
}
