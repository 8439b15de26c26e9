import { describe, expect, it } from 'vitest';
import { logDecoder, RawDecoder, type LogMessage } from './docker-stream.js';

const T1 = '2024-01-02T03:04:05.000000001Z';
const T2 = '2024-01-02T03:04:05.000000002Z';
const T3 = '2024-01-02T03:04:05.000000003Z';

function frame(type: number, payload: string): Buffer {
  const body = Buffer.from(payload, 'latin1');
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

type Shown = [string, string, string];
const show = (messages: LogMessage[]): Shown[] => messages.map((m) => [m.stream, m.timestamp, m.text.toString('latin1')]);

/** Decodes `bytes` fed in chunks of `size`; returns the messages and the problems reported. */
function decode(tty: boolean, bytes: Buffer, size = bytes.length || 1, maxMessage?: number): { messages: Shown[]; problems: string[] } {
  const problems: string[] = [];
  const d = tty && maxMessage !== undefined ? new RawDecoder((p) => problems.push(p), maxMessage) : logDecoder(tty, (p) => problems.push(p));
  const messages: LogMessage[] = [];
  for (let i = 0; i < bytes.length; i += size) messages.push(...d.push(bytes.subarray(i, i + size)));
  messages.push(...d.end());
  return { messages: show(messages), problems };
}

/** Joins consecutive messages of one timestamp: chunking may cut the text of a TTY message into pieces. */
function joined(messages: Shown[]): Shown[] {
  const out: Shown[] = [];
  for (const m of messages) {
    const last = out[out.length - 1];
    if (last && last[1] === m[1] && !last[2].endsWith('\n')) last[2] += m[2];
    else out.push([...m]);
  }
  return out;
}

describe('the multiplexed stream (no TTY)', () => {
  const bytes = Buffer.concat([frame(1, `${T1} one\n`), frame(2, `${T2} two\n`), frame(1, `${T3} part`), frame(1, `${T3} rest\n`)]);
  const expected: Shown[] = [
    ['stdout', T1, 'one\n'],
    ['stderr', T2, 'two\n'],
    ['stdout', T3, 'part'],
    ['stdout', T3, 'rest\n'],
  ];

  it('gives one message per frame, whatever the chunks', () => {
    for (let size = 1; size <= bytes.length; size++) expect(decode(false, bytes, size).messages, `chunks of ${size}`).toEqual(expected);
  });

  it("reports the Engine's error frames and frames without a timestamp, and drops them", () => {
    const { messages, problems } = decode(false, Buffer.concat([frame(3, 'log read failed\n'), frame(1, 'no timestamp\n'), frame(1, `${T1} ok\n`)]));
    expect(messages).toEqual([['stdout', T1, 'ok\n']]);
    expect(problems).toEqual(['Docker reported: log read failed', 'a frame of 13 bytes without a timestamp was dropped']);
  });

  it('reports a stream that ends inside a frame', () => {
    const bytes = frame(1, `${T1} cut off\n`);
    const { messages, problems } = decode(false, bytes.subarray(0, 20));
    expect(messages).toEqual([]);
    expect(problems).toEqual(['the stream ended inside a frame (20 bytes dropped)']);
  });
});

describe('the raw stream (TTY)', () => {
  it('splits messages at newlines; everything is stdout', () => {
    const bytes = Buffer.from(`${T1} one\r\n${T2} two words\r\n${T3} \r\n`);
    const expected: Shown[] = [
      ['stdout', T1, 'one\r\n'],
      ['stdout', T2, 'two words\r\n'],
      ['stdout', T3, '\r\n'],
    ];
    for (let size = 1; size <= bytes.length; size++) expect(joined(decode(true, bytes, size).messages), `chunks of ${size}`).toEqual(expected);
  });

  it('ends a message after a full line buffer when a timestamp follows', () => {
    const bytes = Buffer.from(`${T1} ${'a'.repeat(8)}${T2} ${'b'.repeat(8)}${T2} cc\n${T3} last\n`);
    const expected: Shown[] = [
      ['stdout', T1, 'a'.repeat(8)],
      ['stdout', T2, 'b'.repeat(8)],
      ['stdout', T2, 'cc\n'],
      ['stdout', T3, 'last\n'],
    ];
    for (let size = 1; size <= bytes.length; size++) expect(decode(true, bytes, size, 8).messages, `chunks of ${size}`).toEqual(expected);
  });

  it('counts the newline in the line buffer, as Docker does', () => {
    // 7 bytes and a newline fill the buffer of 8; 8 bytes and a newline do not fit
    const bytes = Buffer.from(`${T1} ${'a'.repeat(7)}\n${T2} ${'b'.repeat(8)}${T2} \n`);
    expect(decode(true, bytes, 5, 8).messages).toEqual([
      ['stdout', T1, 'a'.repeat(7) + '\n'],
      ['stdout', T2, 'b'.repeat(8)],
      ['stdout', T2, '\n'],
    ]);
  });

  it('uses 16 KiB, the line buffer of Docker json-file, by default', () => {
    const long = 'x'.repeat(16 * 1024);
    const bytes = Buffer.from(`${T1} ${long}${T1} ${long}${T1} tail\n`);
    expect(decode(true, bytes, 1000).messages.map(([, t, text]) => [t, text.length])).toEqual([
      [T1, 16384],
      [T1, 16384],
      [T1, 5],
    ]);
  });

  it('keeps the text going when no timestamp follows a full buffer (a larger line buffer), in bounded pieces', () => {
    const bytes = Buffer.from(`${T1} ${'a'.repeat(8)}${'b'.repeat(12)}\n${T2} next\n`);
    const { messages, problems } = decode(true, bytes, 3, 8);
    expect(joined(messages)).toEqual([
      ['stdout', T1, 'a'.repeat(8) + 'b'.repeat(12) + '\n'],
      ['stdout', T2, 'next\n'],
    ]);
    expect(Math.max(...messages.map((m) => m[2].length))).toBeLessThanOrEqual(8 + 3);
    expect(problems).toEqual([]);
  });

  it('hands on output cut off without a newline when the stream ends', () => {
    expect(joined(decode(true, Buffer.from(`${T1} one\r\n${T2} no newline`), 4).messages)).toEqual([
      ['stdout', T1, 'one\r\n'],
      ['stdout', T2, 'no newline'],
    ]);
  });

  it('skips text before the first timestamp, reporting it', () => {
    const { messages, problems } = decode(true, Buffer.from(`garbage line\n${T1} ok\n`), 4);
    expect(messages).toEqual([['stdout', T1, 'ok\n']]);
    expect(problems).toEqual(['the stream does not start with a timestamp: text up to the next newline dropped']);
  });

  it('reports a stream that ends inside a timestamp', () => {
    const { messages, problems } = decode(true, Buffer.from(`${T1} ok\n2024-01-02T03`));
    expect(messages).toEqual([['stdout', T1, 'ok\n']]);
    expect(problems).toEqual(['the stream ended inside a timestamp (13 bytes dropped)']);
  });
});
