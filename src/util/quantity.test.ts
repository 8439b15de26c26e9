import { describe, expect, it } from 'vitest';
import { parseQuantity } from './quantity.js';

describe('parseQuantity', () => {
  it.each<[string, bigint]>([
    ['0', 0n],
    ['1', 1n],
    ['1000', 1000n],
    ['+7', 7n],
    ['-7', -7n],
    ['007', 7n],
    ['500k', 500_000n],
    ['10M', 10_000_000n],
    ['1G', 1_000_000_000n],
    ['2T', 2_000_000_000_000n],
    ['1P', 1_000_000_000_000_000n],
    ['3E', 3_000_000_000_000_000_000n],
    ['1Ki', 1024n],
    ['2Mi', 2_097_152n],
    ['1Gi', 1_073_741_824n],
    ['1Ti', 1_099_511_627_776n],
    ['1Pi', 1_125_899_906_842_624n],
    ['1Ei', 1_152_921_504_606_846_976n],
    ['1.5M', 1_500_000n],
    ['1.5Ki', 1536n],
    ['0.5k', 500n],
    ['.5k', 500n],
    ['1.', 1n],
    ['1e3', 1000n],
    ['1E6', 1_000_000n],
    ['2.5e+2', 250n],
    ['5e-1', 1n],
    ['1500m', 2n],
    ['1000m', 1n],
    ['1000000u', 1n],
    ['1000000000n', 1n],
    // fractions round up, away from zero, as Quantity.Value() does
    ['1.0001k', 1001n],
    ['999.5', 1000n],
    ['0.1', 1n],
    ['-1.5', -2n],
  ])('%j is %s', (text, value) => {
    expect(parseQuantity(text)).toBe(value);
  });

  it.each(['', 'lots', 'k', '.', '+', '-', '1 M', ' 1M', '1M ', '1m2', '1KI', '1ki', '1Mb', '1.2.3', '1e', '1e1.5', '1Ee3', '0x10', '1_000', 'Infinity', 'NaN', '١٢', '--1', '1e1001'])(
    '%j is not a quantity',
    (text) => {
      expect(parseQuantity(text)).toBeUndefined();
    },
  );

  it('keeps large values exact', () => {
    expect(parseQuantity('123456789012345678901234567890')).toBe(123456789012345678901234567890n);
    expect(parseQuantity('1e30')).toBe(10n ** 30n);
  });
});
