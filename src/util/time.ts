import Long from 'long';

const NS_PER_MS = Long.fromInt(1_000_000);

/** Milliseconds since the epoch as CRI's int64 nanoseconds, exactly (a double would lose digits). */
export function msToNs(ms: number): Long {
  return Long.fromNumber(Math.trunc(ms)).multiply(NS_PER_MS);
}

export const nowNs = (): Long => msToNs(Date.now());

/**
 * An RFC 3339 time with up to nanosecond digits (Docker's format) as int64 nanoseconds;
 * zero for Docker's "zero time" (0001-01-01...) and for anything unparsable.
 */
export function rfc3339ToNs(text: string | undefined): Long {
  if (!text || text.startsWith('0001-01-01')) return Long.ZERO;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!m) return Long.ZERO;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) return Long.ZERO;
  const frac = ((m[2] ?? '') + '000000000').slice(0, 9);
  return msToNs(seconds).add(Long.fromString(frac));
}

/** An int64 from a decoded request (Long, number or undefined) as a JS number. */
export function int64(v: Long | number | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}
