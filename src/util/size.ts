// Sizes as Docker's log options write them.

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i;
const UNIT: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Docker's max-size ("10m", "500k"; binary units as Docker reads them); undefined when unset or unreadable. */
export function parseLogSize(value: string | undefined): number | undefined {
  const m = value === undefined ? null : SIZE.exec(value.trim());
  if (!m) return undefined;
  return Math.floor(Number(m[1]) * UNIT[m[2]!.toLowerCase()]!);
}
