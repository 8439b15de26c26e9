import { describe, expect, it } from 'vitest';
import { StdcopyDemuxer, StdcopyError, type Frame } from './stdcopy.js';

function frame(type: number, payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

const show = (frames: Frame[]): [string, string][] => frames.map((f) => [f.stream, f.payload.toString('latin1')]);

/** Feeds `bytes` cut at the given offsets. */
function demux(bytes: Buffer, cuts: number[], max?: number): { frames: Frame[]; pending: number } {
  const d = new StdcopyDemuxer(max);
  const frames: Frame[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    frames.push(...d.push(bytes.subarray(start, cut)));
    start = cut;
  }
  return { frames, pending: d.pending };
}

describe('StdcopyDemuxer', () => {
  const stream = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err\n'), frame(1, ''), frame(3, 'engine error'), frame(0, 'in'), frame(1, 'x'.repeat(300))]);
  const expected: [string, string][] = [
    ['stdout', 'out one\n'],
    ['stderr', 'err\n'],
    ['stdout', ''],
    ['system', 'engine error'],
    ['stdin', 'in'],
    ['stdout', 'x'.repeat(300)],
  ];

  it('reads frames from one chunk', () => {
    expect(show(demux(stream, []).frames)).toEqual(expected);
  });

  it('reads the same frames whatever one cut splits the stream', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { frames, pending } = demux(stream, [cut]);
      expect(show(frames), `cut at ${cut}`).toEqual(expected);
      expect(pending).toBe(0);
    }
  });

  it('reads the same frames from one-byte chunks', () => {
    expect(show(demux(stream, Array.from({ length: stream.length }, (_, i) => i)).frames)).toEqual(expected);
  });

  it('keeps an incomplete frame until its end arrives', () => {
    const d = new StdcopyDemuxer();
    const bytes = frame(2, 'hello');
    expect(d.push(bytes.subarray(0, 5))).toEqual([]);
    expect(d.pending).toBe(5);
    expect(d.push(bytes.subarray(5, 10))).toEqual([]);
    expect(d.pending).toBe(10);
    expect(show(d.push(bytes.subarray(10)))).toEqual([['stderr', 'hello']]);
    expect(d.pending).toBe(0);
  });

  it('passes payload bytes unchanged', () => {
    const payload = Buffer.from([0, 1, 2, 0xff, 0x0a, 0xc3]);
    expect(demux(frame(1, payload), [3, 9]).frames[0]!.payload).toEqual(payload);
  });

  it.each<[string, Buffer]>([
    ['an unknown stream type', Buffer.from([5, 0, 0, 0, 0, 0, 0, 1, 0x41])],
    ['a header whose padding is not zero', Buffer.from([1, 0, 1, 0, 0, 0, 0, 1, 0x41])],
    ['raw text (a TTY stream)', Buffer.from('2024-01-02T03:04:05.000000000Z hello\n')],
  ])('rejects %s', (_name, bytes) => {
    expect(() => new StdcopyDemuxer().push(bytes)).toThrow(StdcopyError);
  });

  it('refuses a frame larger than its limit rather than buffering it', () => {
    const header = Buffer.from([1, 0, 0, 0, 0x10, 0, 0, 0]);
    expect(() => new StdcopyDemuxer(1024).push(header)).toThrow(/exceeds the limit/);
  });
});
