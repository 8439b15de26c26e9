// Go's time.ParseDuration syntax, as cri-dockerd's flags take it: "2m0s", "1m", "1.5h", "300ms".
// Sums are kept in integer nanoseconds, as Go does, so "1.15h" is exactly 4140000 ms.
const US = 1_000n;
const MS = 1_000_000n;
const S = 1_000_000_000n;
const M = 60n * S;
const H = 60n * M;
const UNIT_NS: Record<string, bigint> = { ns: 1n, us: US, 'µs': US, 'μs': US, ms: MS, s: S, m: M, h: H };

/** Parses a Go duration into milliseconds; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (/^[+-]?0$/.test(text)) return 0;
  const m = /^([+-]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(text);
  if (!m) return undefined;
  let ns = 0n;
  for (const part of text.replace(/^[+-]/, '').matchAll(/(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/g)) {
    const unit = UNIT_NS[part[3] as string] as bigint;
    const frac = part[2] ?? '';
    ns += BigInt(part[1] || '0') * unit;
    if (frac !== '') ns += (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
  }
  const ms = Number(ns) / 1e6;
  return m[1] === '-' ? -ms : ms;
}

/** `v / unit` as a decimal without trailing zeros ("1.5", "2"). */
function decimal(v: bigint, unit: bigint): string {
  const rest = v % unit;
  if (rest === 0n) return String(v / unit);
  const digits = String(unit).length - 1;
  return `${v / unit}.${String(rest).padStart(digits, '0').replace(/0+$/, '')}`;
}

/** Formats milliseconds the way Go prints a duration ("2m0s", "1h0m0s", "500ms", "1.5µs", "0s"). */
export function formatDuration(ms: number): string {
  let ns = BigInt(Math.round(ms * 1e6));
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  if (ns < 0n) ns = -ns;
  if (ns < US) return `${sign}${ns}ns`;
  if (ns < MS) return `${sign}${decimal(ns, US)}µs`;
  if (ns < S) return `${sign}${decimal(ns, MS)}ms`;
  const h = ns / H;
  const m = (ns / M) % 60n;
  const s = decimal(ns % M, S);
  if (h > 0n) return `${sign}${h}h${m}m${s}s`;
  if (m > 0n) return `${sign}${m}m${s}s`;
  return `${sign}${s}s`;
}
