// The goals of issue #14, each filled in by the bench that measures it, printed as one table.

interface Goal {
  measure: string;
  dockercri: string;
  raw: string;
  /** dockercri against raw Docker where the goal is a ratio, else the figure compared. */
  value: number;
  goal: string;
  met: boolean | undefined;
}

const goals: Goal[] = [];

const ms = (n: number): string => (Number.isNaN(n) ? '-' : `${n.toFixed(2)} ms`);

/** A p50 ratio against raw Docker, met when at most `max`. */
export function ratioGoal(measure: string, shimP50: number, rawP50: number, max: number): void {
  const value = shimP50 / rawP50;
  goals.push({ measure, dockercri: ms(shimP50), raw: ms(rawP50), value, goal: `≤ ${max.toFixed(2)}×`, met: value <= max });
}

/**
 * A figure with its unit, met when below `max` (at most, unless `strict`); with no `max` it is
 * reported for a comparison made by hand. `raw` says what it is compared with.
 */
export function figureGoal(measure: string, value: number, unit: string, max: number | undefined, raw = '', strict = false): void {
  const goal = max === undefined ? 'by hand' : `${strict ? '<' : '≤'} ${max} ${unit}`;
  const met = max === undefined ? undefined : strict ? value < max : value <= max;
  goals.push({ measure, dockercri: `${value.toFixed(unit === 'ms' ? 1 : 2)} ${unit}`, raw, value, goal, met });
}

export function goalsTable(): string {
  const lines = [
    '### Goals of issue #14 (p50 ratios against raw Docker in this run)',
    '',
    '| measure | dockercri | raw Docker / compared with | ratio or figure | goal | met |',
    '| --- | ---: | ---: | ---: | ---: | :---: |',
    ...goals.map((g) => `| ${g.measure} | ${g.dockercri} | ${g.raw} | ${g.goal.includes('×') ? `${g.value.toFixed(2)}×` : g.value.toFixed(2)} | ${g.goal} | ${g.met === undefined ? '-' : g.met ? 'yes' : '**no**'} |`),
    '',
  ];
  return lines.join('\n');
}
