import Long from 'long';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { int64, msToNs, nowNs, rfc3339ToNs } from './time.js';

describe('rfc3339ToNs', () => {
  it.each<[string | undefined, string]>([
    ['2024-01-02T03:04:05.123456789Z', '1704164645123456789'],
    ['2024-01-02T03:04:05Z', '1704164645000000000'],
    ['2024-01-02T03:04:05.1Z', '1704164645100000000'],
    ['2024-01-02T03:04:05.000000001Z', '1704164645000000001'],
    ['2024-01-02T03:04:05.999999999Z', '1704164645999999999'],
    // digits past the nanosecond are cut, not rounded
    ['2024-01-02T03:04:05.1234567899Z', '1704164645123456789'],
    ['2024-01-02T05:04:05.123456789+02:00', '1704164645123456789'],
    ['2024-01-01T22:34:05.123456789-04:30', '1704164645123456789'],
    ['2024-01-02T03:04:05.123456789+00:00', '1704164645123456789'],
    ['1970-01-01T00:00:00Z', '0'],
    ['1970-01-01T00:00:00.000000001Z', '1'],
    ['1969-12-31T23:59:59.5Z', '-500000000'],
    ['2262-04-11T23:47:16.854775807Z', '9223372036854775807'],
    // Docker's zero time and anything unparsable are 0
    ['0001-01-01T00:00:00Z', '0'],
    ['0001-01-01T00:00:00.000000000Z', '0'],
    [undefined, '0'],
    ['', '0'],
    ['yesterday', '0'],
    ['2024-01-02T03:04:05', '0'],
    ['2024-01-02T03:04:05.Z', '0'],
    ['2024-13-02T03:04:05Z', '0'],
    ['2024-01-02 03:04:05Z', '0'],
  ])('%j → %s ns', (text, ns) => {
    expect(rfc3339ToNs(text).toString()).toBe(ns);
  });

  it('returns a signed int64', () => {
    expect(rfc3339ToNs('2024-01-02T03:04:05Z').unsigned).toBe(false);
  });
});

describe('msToNs', () => {
  it.each<[number, string]>([
    [0, '0'],
    [1, '1000000'],
    [1704164645123, '1704164645123000000'],
    [1.9, '1000000'],
    [-1, '-1000000'],
    [9_223_372_036_854, '9223372036854000000'],
  ])('%d ms → %s ns', (ms, ns) => {
    expect(msToNs(ms).toString()).toBe(ns);
  });
});

describe('nowNs', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is the current time in nanoseconds', () => {
    vi.spyOn(Date, 'now').mockReturnValue(1704164645123);
    expect(nowNs().toString()).toBe('1704164645123000000');
  });
});

describe('int64', () => {
  it.each<[Long | number | null | undefined, number]>([
    [null, 0],
    [undefined, 0],
    [0, 0],
    [42, 42],
    [-7, -7],
    [Long.fromString('1704164645123456789'), 1704164645123456789],
    [Long.fromNumber(-30), -30],
  ])('%s → %d', (v, want) => {
    expect(int64(v)).toBe(want);
  });
});
