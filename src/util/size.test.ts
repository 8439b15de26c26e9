import { describe, expect, it } from 'vitest';
import { parseLogSize } from './size.js';

describe('parseLogSize', () => {
  it.each<[string | undefined, number | undefined]>([
    ['10m', 10 * 1024 * 1024],
    ['512k', 512 * 1024],
    ['1g', 1024 ** 3],
    ['100', 100],
    ['1.5M', 1.5 * 1024 * 1024],
    ['2mb', 2 * 1024 * 1024],
    [' 3k ', 3 * 1024],
    ['', undefined],
    ['ten', undefined],
    ['-1m', undefined],
    [undefined, undefined],
  ])('%j is %j bytes', (value, want) => {
    expect(parseLogSize(value)).toBe(want);
  });
});
