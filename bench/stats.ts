/** Percentile (nearest rank) of a list of durations in ms. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export interface Row {
  op: string;
  shimP50: number;
  shimP95: number;
  rawP50: number;
  rawP95: number;
}

export function row(op: string, shim: readonly number[], raw: readonly number[]): Row {
  return { op, shimP50: percentile(shim, 50), shimP95: percentile(shim, 95), rawP50: percentile(raw, 50), rawP95: percentile(raw, 95) };
}

const f = (n: number): string => (Number.isNaN(n) ? '-' : n.toFixed(2));

/** A markdown table: dockercri against raw Docker, with the p50 ratio. */
export function table(title: string, rows: readonly Row[]): string {
  const lines = [
    `### ${title}`,
    '',
    '| operation | dockercri p50 ms | dockercri p95 ms | raw Docker p50 ms | raw Docker p95 ms | p50 ratio |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.op} | ${f(r.shimP50)} | ${f(r.shimP95)} | ${f(r.rawP50)} | ${f(r.rawP95)} | ${f(r.shimP50 / r.rawP50)}× |`),
    '',
  ];
  return lines.join('\n');
}

export async function timed<T>(samples: number[], work: () => Promise<T>): Promise<T> {
  const t = process.hrtime.bigint();
  const result = await work();
  samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  return result;
}
