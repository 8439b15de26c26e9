/**
 * Bytes received in chunks, read back in pieces of any size: what streaming parsers (Docker's
 * multiplexed stream, SPDY frames) need when a chunk may end anywhere inside a frame.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private bytes = 0;

  get size(): number {
    return this.bytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** The next `n` bytes without consuming them (`n` <= size). */
  peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const all = Buffer.concat(this.chunks, this.bytes);
    this.chunks = [all];
    return all.subarray(0, n);
  }

  /** Consumes the next `n` bytes (`n` <= size); a slice of the first chunk when it holds them all. */
  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.bytes -= n;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const used = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, used);
      filled += used;
      if (used === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(used);
    }
    return out;
  }
}
