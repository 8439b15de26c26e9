import { describe, expect, it } from 'vitest';
import { convertEntries, unescapeInto } from './json-file.js';

const T = '2026-12-02T18:51:57.405558052Z';
const entry = (log: string, stream = 'stdout', time = T): string => `${JSON.stringify({ log, stream, time })}\n`;

function convert(text: string, opts: { tty?: boolean; maxContent?: number; outSize?: number } = {}): { out: string; consumed: number; entries: number; malformed: number; lastTime?: string } {
  const input = Buffer.from(text, 'utf8');
  const out = Buffer.alloc(opts.outSize ?? 1 << 16);
  const r = convertEntries(input, 0, input.length, out, 0, { tty: opts.tty ?? false, maxContent: opts.maxContent });
  return { out: Buffer.concat([out.subarray(0, r.written), r.oversized ?? Buffer.alloc(0)]).toString('utf8'), consumed: r.consumed, entries: r.entries, malformed: r.malformed, lastTime: r.lastTime };
}

describe('convertEntries', () => {
  it.each([
    ['a whole line', entry('hello\n'), `${T} stdout F hello\n`],
    ['stderr', entry('oops\n', 'stderr'), `${T} stderr F oops\n`],
    ['a line Docker split (no newline): a P part', entry('part'), `${T} stdout P part\n`],
    ['an empty line', entry('\n'), `${T} stdout F \n`],
    ['escapes Docker writes', '{"log":"a\\"b\\\\c\\u0009q\\u003c\\u003e\\u0026\\u0001\\n","stream":"stdout","time":"' + T + '"}\n', `${T} stdout F a"b\\c\tq<>&\u0001\n`],
    ['UTF-8 passed through', entry('é ✓ 𝄞\n'), `${T} stdout F é ✓ 𝄞\n`],
    ['a surrogate pair escaped', '{"log":"\\ud834\\udd1e\\n","stream":"stdout","time":"' + T + '"}\n', `${T} stdout F 𝄞\n`],
    ['a lone surrogate becomes U+FFFD', '{"log":"\\ud834x\\n","stream":"stdout","time":"' + T + '"}\n', `${T} stdout F \ufffdx\n`],
    ['attrs between stream and time', '{"log":"x\\n","stream":"stdout","attrs":{"k":"v"},"time":"' + T + '"}\n', `${T} stdout F x\n`],
    ['keys in another order (through JSON.parse)', `{"time":"${T}","stream":"stderr","log":"y\\n"}\n`, `${T} stderr F y\n`],
    ['a backslash right before the closing quote', '{"log":"ends in \\\\","stream":"stdout","time":"' + T + '"}\n', `${T} stdout P ends in \\\n`],
    ['carriage returns inside a line stay', entry('x\ry\n'), `${T} stdout F x\ry\n`],
  ])('%s', (_name, input, want) => {
    const r = convert(input);
    expect(r.out).toBe(want);
    expect(r.consumed).toBe(Buffer.byteLength(input));
    expect(r.malformed).toBe(0);
  });

  it.each([
    ['2026-12-02T18:51:57.4055Z', '2026-12-02T18:51:57.405500000Z'],
    ['2026-12-02T18:51:57Z', '2026-12-02T18:51:57.000000000Z'],
    ['2026-12-02T18:51:57.123456789Z', '2026-12-02T18:51:57.123456789Z'],
    ['2026-12-02T18:51:57.5+01:00', '2026-12-02T18:51:57.5+01:00'],
  ])('writes the time %s with nine fraction digits: %s', (time, want) => {
    expect(convert(entry('x\n', 'stdout', time)).out).toBe(`${want} stdout F x\n`);
    expect(convert(`{"stream":"stdout","time":"${time}","log":"y\\n"}\n`).out).toBe(`${want} stdout F y\n`);
  });

  it('drops the carriage return a TTY puts before the newline, only for TTY containers', () => {
    expect(convert(entry('x\ry\r\n'), { tty: true }).out).toBe(`${T} stdout F x\ry\n`);
    expect(convert(entry('x\r\n')).out).toBe(`${T} stdout F x\r\n`);
  });

  it('leaves a line not yet ended by a newline, and reports the last time taken', () => {
    const text = entry('one\n', 'stdout', '2026-01-01T00:00:00.1Z') + entry('two\n').slice(0, 20);
    const r = convert(text);
    expect(r.out).toBe('2026-01-01T00:00:00.100000000Z stdout F one\n');
    expect(r.consumed).toBe(Buffer.byteLength(entry('one\n', 'stdout', '2026-01-01T00:00:00.1Z')));
    expect(r.lastTime).toBe('2026-01-01T00:00:00.1Z');
  });

  it('leaves out and counts lines that are no entry', () => {
    const r = convert(`not json\n{"log":1,"stream":"stdout","time":"${T}"}\n{"log":"x\\n","stream":"stdin","time":"${T}"}\n${entry('ok\n')}`);
    expect(r.out).toBe(`${T} stdout F ok\n`);
    expect(r.malformed).toBe(3);
    expect(r.entries).toBe(4);
  });

  it('cuts text longer than one CRI line into P parts and an F', () => {
    expect(convert(entry('abcdefgh\n'), { maxContent: 3 }).out).toBe(`${T} stdout P abc\n${T} stdout P def\n${T} stdout F gh\n`);
    expect(convert(entry('abcdef'), { maxContent: 3 }).out).toBe(`${T} stdout P abc\n${T} stdout P def\n`);
  });

  it('stops before an entry that does not fit and takes it on the next call; one that never fits comes on its own', () => {
    const text = entry('a'.repeat(100) + '\n') + entry('b'.repeat(100) + '\n');
    const input = Buffer.from(text);
    const out = Buffer.alloc(300);
    const first = convertEntries(input, 0, input.length, out, 0, { tty: false });
    expect(first.entries).toBe(1);
    const second = convertEntries(input, first.consumed, input.length, out, 0, { tty: false });
    expect(second.entries).toBe(1);
    expect(first.consumed + second.consumed).toBe(input.length);
    const tiny = convert(entry('c'.repeat(500) + '\n'), { outSize: 64 });
    expect(tiny.out).toBe(`${T} stdout F ${'c'.repeat(500)}\n`);
  });

  it('gives the same bytes for the same entries however the input is cut', () => {
    const lines = Array.from({ length: 200 }, (_, i) => entry(`${i} ${'é'.repeat(i % 7)}\t\n`, i % 3 ? 'stdout' : 'stderr')).join('');
    const input = Buffer.from(lines);
    const whole = convert(lines).out;
    const out = Buffer.alloc(700);
    const pieces: Buffer[] = [];
    let pos = 0;
    while (pos < input.length) {
      const r = convertEntries(input, pos, Math.min(input.length, pos + 333), out, 0, { tty: false });
      pieces.push(Buffer.from(out.subarray(0, r.written)));
      pos += r.consumed;
      if (r.consumed === 0) break;
    }
    expect(Buffer.concat(pieces).toString()).toBe(whole);
  });
});

describe('unescapeInto', () => {
  it('refuses what is no JSON string', () => {
    const out = Buffer.alloc(16);
    for (const bad of ['\\', '\\x', '\\u12', '\\u12zz']) expect(unescapeInto(Buffer.from(bad), 0, bad.length, out, 0)).toBeUndefined();
  });
});
