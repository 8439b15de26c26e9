// Kubernetes resource quantities ("500k", "1.5M", "2Gi", "1e3") read the way apimachinery's
// resource.ParseQuantity reads them, then rounded as Quantity.Value() rounds: up, away from zero.

/** Powers of ten of the decimal SI suffixes, "" being none. */
const DECIMAL: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
/** Powers of two of the binary SI suffixes. */
const BINARY: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

/** A larger decimal exponent is refused rather than expanded into a number of that many digits. */
const MAX_EXPONENT = 1000;

const QUANTITY = /^([+-]?)(\d*)(?:\.(\d*))?(.*)$/;

/**
 * The integer value of a quantity, a fraction rounded up away from zero (so "1.0001k" is 1001),
 * or undefined when the text is not a quantity. No whitespace is allowed, as in Kubernetes.
 */
export function parseQuantity(text: string): bigint | undefined {
  const m = QUANTITY.exec(text);
  if (!m) return undefined;
  const [, sign = '', whole = '', fraction = '', suffix = ''] = m;
  if (whole === '' && fraction === '') return undefined;
  let pow10 = -fraction.length;
  let pow2 = 0;
  if (Object.hasOwn(DECIMAL, suffix)) pow10 += DECIMAL[suffix] as number;
  else if (Object.hasOwn(BINARY, suffix)) pow2 = BINARY[suffix] as number;
  else {
    const exp = /^[eE]([+-]?\d+)$/.exec(suffix);
    if (!exp) return undefined;
    const e = Number.parseInt(exp[1] as string, 10);
    if (Math.abs(e) > MAX_EXPONENT) return undefined;
    pow10 += e;
  }
  let numerator = BigInt(`${whole}${fraction}` || '0') * 2n ** BigInt(pow2);
  let denominator = 1n;
  if (pow10 >= 0) numerator *= 10n ** BigInt(pow10);
  else denominator = 10n ** BigInt(-pow10);
  const magnitude = (numerator + denominator - 1n) / denominator;
  return sign === '-' ? -magnitude : magnitude;
}
