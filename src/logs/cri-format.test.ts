import { describe, expect, it } from 'vitest';
import {
  BackwardLines,
  formatCriLine,
  formatMessage,
  OverlapFilter,
  parseCriLine,
  parseDockerMessage,
  ResumeScan,
  sinceParameter,
  splitText,
  timestampNs,
  withoutTtyCarriageReturn,
  type LogStream,
} from './cri-format.js';

const TS = '2024-01-02T03:04:05.123456789Z';
const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('formatCriLine', () => {
  it.each<[boolean, string, string]>([
    [false, 'hello world', `${TS} stdout F hello world\n`],
    [true, 'part', `${TS} stdout P part\n`],
    [false, '', `${TS} stdout F \n`],
    [false, '  leading blanks kept', `${TS} stdout F   leading blanks kept\n`],
  ])('partial=%s %j', (partial, content, line) => {
    expect(formatCriLine(TS, 'stdout', partial, b(content)).toString('latin1')).toBe(line);
  });

  it('passes bytes that are not UTF-8 unchanged', () => {
    const content = Buffer.from([0xff, 0xfe, 0x00, 0xc3]);
    const line = formatCriLine(TS, 'stderr', false, content);
    expect(line.subarray(line.length - 5, line.length - 1)).toEqual(content);
    expect(line.subarray(0, line.length - 5).toString()).toBe(`${TS} stderr F `);
  });
});

describe('splitText', () => {
  const parts = (text: string, max: number): [number, boolean][] => splitText(b(text), max).map((p) => [p.content.length, p.partial]);

  it.each<[string, string, number, [number, boolean][]]>([
    ['a whole line', 'abc\n', 10, [[3, false]]],
    ['a line Docker split (no newline)', 'abc', 10, [[3, true]]],
    ['an empty line', '\n', 10, [[0, false]]],
    ['no text', '', 10, []],
    ['exactly max before the newline', 'x'.repeat(10) + '\n', 10, [[10, false]]],
    ['one byte more than max', 'x'.repeat(11) + '\n', 10, [[10, true], [1, false]]],
    ['a long line', 'x'.repeat(25) + '\n', 10, [[10, true], [10, true], [5, false]]],
    ['a long part', 'x'.repeat(20), 10, [[10, true], [10, true]]],
  ])('%s', (_name, text, max, expected) => {
    expect(parts(text, max)).toEqual(expected);
  });

  it('cuts at 16 KiB by default, the size of the parts of Docker json-file', () => {
    expect(splitText(b('x'.repeat(40 * 1024) + '\n')).map((p) => [p.content.length, p.partial])).toEqual([
      [16384, true],
      [16384, true],
      [8192, false],
    ]);
  });

  it('reassembles to the text', () => {
    const text = b('0123456789'.repeat(7) + '\n');
    const joined = Buffer.concat(splitText(text, 16).map((p) => Buffer.concat([p.content, p.partial ? b('') : b('\n')])));
    expect(joined).toEqual(text);
  });
});

describe('formatMessage', () => {
  it('writes the parts of one message as consecutive lines with its timestamp and stream', () => {
    expect(formatMessage(TS, 'stderr', b('abcdefg\n'), 3).toString()).toBe(`${TS} stderr P abc\n${TS} stderr P def\n${TS} stderr F g\n`);
  });
});

describe('parseCriLine', () => {
  it.each<[string, { timestamp: string; stream: LogStream; partial: boolean; content: string } | undefined]>([
    [`${TS} stdout F hello`, { timestamp: TS, stream: 'stdout', partial: false, content: 'hello' }],
    [`${TS} stderr P a b  c `, { timestamp: TS, stream: 'stderr', partial: true, content: 'a b  c ' }],
    [`${TS} stdout F `, { timestamp: TS, stream: 'stdout', partial: false, content: '' }],
    // kubelet accepts tags after the first, separated by ':'
    [`${TS} stdout F:x hi`, { timestamp: TS, stream: 'stdout', partial: false, content: 'hi' }],
    ['2024-01-02T03:04:05.1Z stdout F short fraction', { timestamp: '2024-01-02T03:04:05.1Z', stream: 'stdout', partial: false, content: 'short fraction' }],
    ['2024-01-02T05:04:05.123+02:00 stdout F offset', { timestamp: '2024-01-02T05:04:05.123+02:00', stream: 'stdout', partial: false, content: 'offset' }],
    [`${TS} stdout F`, undefined],
    [`${TS} stdin F x`, undefined],
    [`${TS} stdout X x`, undefined],
    ['yesterday stdout F x', undefined],
    ['{"log":"docker json\\n","stream":"stdout","time":"2024-01-02T03:04:05Z"}', undefined],
    ['', undefined],
  ])('%j', (line, expected) => {
    const parsed = parseCriLine(b(line));
    expect(parsed && { ...parsed, content: parsed.content.toString('latin1') }).toEqual(expected);
  });

  it('reads back what formatCriLine writes', () => {
    const line = formatCriLine(TS, 'stderr', true, b('x y'));
    const parsed = parseCriLine(line.subarray(0, line.length - 1))!;
    expect(parsed.timestamp).toBe(TS);
    expect(parsed.stream).toBe('stderr');
    expect(parsed.partial).toBe(true);
    expect(parsed.content.toString()).toBe('x y');
  });
});

describe('parseDockerMessage', () => {
  it('splits the timestamp from the text, which keeps its newline', () => {
    const m = parseDockerMessage(b(`${TS} hello world\n`))!;
    expect(m.timestamp).toBe(TS);
    expect(m.text.toString()).toBe('hello world\n');
  });

  it('keeps an empty text', () => {
    expect(parseDockerMessage(b(`${TS} `))!.text.length).toBe(0);
  });

  it.each(['hello world\n', `${TS}`, ` ${TS} x`, 'x'.repeat(50) + ' y'])('rejects %j', (payload) => {
    expect(parseDockerMessage(b(payload))).toBeUndefined();
  });
});

describe('timestamps', () => {
  it.each<[string, bigint | undefined]>([
    [TS, 1704164645123456789n],
    ['2024-01-02T03:04:05Z', 1704164645000000000n],
    ['2024-01-02T03:04:05.000000001Z', 1704164645000000001n],
    ['2024-01-02T05:04:05.123456789+02:00', 1704164645123456789n],
    ['2024-01-02 03:04:05Z', undefined],
    ['nonsense', undefined],
  ])('timestampNs(%j)', (ts, ns) => {
    expect(timestampNs(ts)).toBe(ns);
  });

  it.each<[bigint, string]>([
    [1704164645123456789n, '1704164645.123456789'],
    [1704164645000000001n, '1704164645.000000001'],
    [1704164645000000000n, '1704164645.000000000'],
    [-5n, '0.000000000'],
  ])('sinceParameter(%s) = %s', (ns, since) => {
    expect(sinceParameter(ns)).toBe(since);
  });
});

describe('withoutTtyCarriageReturn', () => {
  it.each<[string, string]>([
    ['line\r\n', 'line\n'],
    ['\r\n', '\n'],
    ['line\n', 'line\n'],
    ['a\rb\r\n', 'a\rb\n'],
    ['partial\r', 'partial\r'],
    ['', ''],
  ])('%j → %j', (text, expected) => {
    expect(withoutTtyCarriageReturn(b(text)).toString()).toBe(expected);
  });
});

describe('BackwardLines', () => {
  /** Feeds `file` from its end in chunks of `size`, as the resume scan reads it. */
  function readBackward(file: string, size: number): { lines: string[]; torn: number } {
    const bytes = b(file);
    const reader = new BackwardLines();
    const lines: string[] = [];
    for (let end = bytes.length; end > 0; end -= size) {
      lines.push(...reader.push(bytes.subarray(Math.max(0, end - size), end)).map((l) => l.toString('latin1')));
    }
    const first = reader.end();
    if (first !== undefined) lines.push(first.toString('latin1'));
    return { lines, torn: reader.tornBytes };
  }

  it.each<[string, string, string[], number]>([
    ['whole lines', 'a\nbb\nccc\n', ['ccc', 'bb', 'a'], 0],
    ['a torn last line', 'a\nbb\ncc', ['bb', 'a'], 2],
    ['empty lines', '\n\nx\n', ['x', '', ''], 0],
    ['one line', 'only\n', ['only'], 0],
    ['no newline at all', 'torn', [], 4],
    ['an empty file', '', [], 0],
  ])('%s, in chunks of every size', (_name, file, lines, torn) => {
    for (let size = 1; size <= file.length + 1; size++) {
      expect(readBackward(file, size), `chunk size ${size}`).toEqual({ lines, torn });
    }
  });
});

const NS = 1_000_000_000n;
const at = (seconds: number, nanos = 0): string => new Date(Date.UTC(2024, 0, 2, 3, 4, seconds)).toISOString().replace('.000Z', `.${String(nanos).padStart(9, '0')}Z`);
const criLine = (ts: string, content: string, partial = false, stream: LogStream = 'stdout'): Buffer => {
  const line = formatCriLine(ts, stream, partial, b(content));
  return line.subarray(0, line.length - 1);
};

describe('ResumeScan', () => {
  /** Feeds lines newest first until the scan stops; returns the result and how many it read. */
  function scan(lines: Buffer[], slackNs = 2n * NS): { point: ReturnType<ResumeScan['result']>; read: number } {
    const s = new ResumeScan(slackNs);
    let read = 0;
    for (const line of [...lines].reverse()) {
      read++;
      if (!s.add(line)) break;
    }
    return { point: s.result(), read };
  }

  it('starts from the beginning when nothing was written', () => {
    expect(scan([]).point).toBeUndefined();
    expect(scan([b('garbage'), b('')]).point).toBeUndefined();
  });

  it('asks from the last timestamp minus the slack and skips the text written since', () => {
    const lines = [criLine(at(0), 'zero'), criLine(at(1), 'one'), criLine(at(5), 'five'), criLine(at(6), 'six'), criLine(at(7), 'seven')];
    const { point, read } = scan(lines);
    expect(point).toEqual({ sinceNs: timestampNs(at(5)), skipBytes: 'five\nsix\nseven\n'.length });
    // at(1) is older than since - slack: the scan stops there
    expect(read).toBe(4);
  });

  it('counts the parts of a split line, which share a timestamp, byte by byte', () => {
    const t = at(10, 5);
    const lines = [criLine(at(1), 'old'), criLine(t, 'x'.repeat(16), true), criLine(t, 'y'.repeat(16), true)];
    expect(scan(lines).point).toEqual({ sinceNs: timestampNs(t)! - 2n * NS, skipBytes: 32 });
  });

  it('counts lines a little out of timestamp order (two streams racing)', () => {
    const lines = [criLine(at(3, 2), 'b', false, 'stderr'), criLine(at(3, 1), 'a'), criLine(at(3, 3), 'c')];
    expect(scan(lines).point).toEqual({ sinceNs: timestampNs(at(3, 3))! - 2n * NS, skipBytes: 6 });
  });

  it('passes over lines that are not CRI lines', () => {
    const lines = [criLine(at(3), 'a'), b('not a line'), criLine(at(4), 'b')];
    expect(scan(lines).point).toEqual({ sinceNs: timestampNs(at(4))! - 2n * NS, skipBytes: 4 });
  });
});

describe('OverlapFilter', () => {
  it('passes everything without a resume point', () => {
    const f = new OverlapFilter(undefined);
    expect(f.newText(at(0), b('a\n')).toString()).toBe('a\n');
  });

  it('drops the skipped bytes, ending inside a message, then passes all', () => {
    const f = new OverlapFilter({ sinceNs: timestampNs(at(1))!, skipBytes: 5 });
    expect(f.newText(at(1), b('abc\n')).toString()).toBe('');
    expect(f.newText(at(2), b('defg\n')).toString()).toBe('efg\n');
    expect(f.newText(at(0), b('old but after the overlap\n')).toString()).toBe('old but after the overlap\n');
  });

  it('drops messages older than since while skipping, as Docker would have', () => {
    const f = new OverlapFilter({ sinceNs: timestampNs(at(5))!, skipBytes: 2 });
    expect(f.newText(at(4), b('older\n')).toString()).toBe('');
    expect(f.newText(at(5), b('ab\n')).toString()).toBe('\n');
  });
});

describe('resuming after a crash at any line', () => {
  interface Message {
    ts: string;
    stream: LogStream;
    text: Buffer;
  }

  /** A deterministic Docker log: equal timestamps for split lines, stdout and stderr slightly out of order. */
  function dockerLog(): Message[] {
    const messages: Message[] = [];
    let ms = 0;
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let i = 0; i < 150; i++) {
      ms += Math.floor(random() * 400);
      const when = (offsetMs: number): string => {
        const total = ms + offsetMs;
        return at(Math.floor(total / 1000), (total % 1000) * 1_000_000 + (i % 1000));
      };
      const kind = random();
      if (kind < 0.1) {
        // a long line: Docker's parts share the first part's timestamp
        const t = when(0);
        messages.push({ ts: t, stream: 'stdout', text: b('L'.repeat(40)) }, { ts: t, stream: 'stdout', text: b('M'.repeat(40)) }, { ts: t, stream: 'stdout', text: b(`end ${i}\n`) });
      } else if (kind < 0.2) {
        // stderr logged first with the later timestamp
        messages.push({ ts: when(3), stream: 'stderr', text: b(`err ${i}\n`) }, { ts: when(1), stream: 'stdout', text: b(`out ${i}\n`) });
      } else {
        messages.push({ ts: when(0), stream: random() < 0.5 ? 'stdout' : 'stderr', text: b(`line ${i} ${'z'.repeat(Math.floor(random() * 30))}\n`) });
      }
    }
    return messages;
  }

  const MAX = 16;
  const write = (messages: Message[], filter: OverlapFilter): Buffer =>
    Buffer.concat(messages.map((m) => formatMessage(m.ts, m.stream, filter.newText(m.ts, m.text), MAX)));

  it('neither loses nor doubles a byte', () => {
    const log = dockerLog();
    const full = write(log, new OverlapFilter(undefined));
    const reader = new BackwardLines();
    const newestFirst = [...reader.push(full), reader.end()!];
    const lineEnds = [0];
    for (let i = 0; i < full.length; i++) if (full[i] === 0x0a) lineEnds.push(i + 1);
    for (const [k, cut] of lineEnds.entries()) {
      const written = full.subarray(0, cut);
      const s = new ResumeScan(2n * NS);
      for (const line of newestFirst.slice(newestFirst.length - k)) if (!s.add(line)) break;
      const point = s.result();
      // Docker's since: every message at or after it, in file order
      const since = point ? log.filter((m) => timestampNs(m.ts)! >= point.sinceNs) : log;
      const rest = write(since, new OverlapFilter(point));
      expect(Buffer.concat([written, rest]).equals(full), `cut after ${cut} bytes`).toBe(true);
    }
  });
});
