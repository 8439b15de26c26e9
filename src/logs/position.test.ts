import { describe, expect, it } from 'vitest';
import { decodePosition, encodePosition, RECORD_SIZE, type LogPosition } from './position.js';

const p: LogPosition = { source: { ino: 1582784, head: Buffer.from('{"log":"a\\n"').toString('base64'), offset: 4096 }, target: { ino: 77, size: 12345 }, lastTime: '2026-12-02T18:51:57.4Z' };

describe('log position records', () => {
  it('are always RECORD_SIZE bytes, so one write replaces the whole record', () => {
    const buf = encodePosition(p);
    expect(buf.length).toBe(RECORD_SIZE);
    expect(buf[RECORD_SIZE - 1]).toBe(0x0a);
    expect(decodePosition(buf)).toEqual(p);
    const { lastTime: _t, ...withoutTime } = p;
    expect(decodePosition(encodePosition(withoutTime))).toEqual(withoutTime);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['spaces', Buffer.alloc(RECORD_SIZE, 0x20)],
    ['not JSON', Buffer.from('garbage')],
    ['another version', Buffer.from(JSON.stringify({ ...p, v: 2 }))],
    ['a negative offset', Buffer.from(JSON.stringify({ v: 1, ...p, source: { ...p.source, offset: -1 } }))],
    ['a missing head', Buffer.from(JSON.stringify({ v: 1, source: { ino: 1, offset: 0 }, target: p.target }))],
    ['a fractional size', Buffer.from(JSON.stringify({ v: 1, ...p, target: { ino: 1, size: 1.5 } }))],
  ])('a record that is %s is none', (_name, buf) => {
    expect(decodePosition(buf)).toBeUndefined();
  });
});
