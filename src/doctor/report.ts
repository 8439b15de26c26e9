import type { Check } from './checks.js';

const STATUS_WIDTH = 6;
const NAME_WIDTH = 15;

/** One line per check: status, name, what was found and, for a warn or fail, the fix. */
export function formatCheck(check: Check): string {
  const fix = check.status !== 'ok' && check.fix ? ` — fix: ${check.fix}` : '';
  return `${check.status.padEnd(STATUS_WIDTH)}${check.name.padEnd(NAME_WIDTH)}${check.detail}${fix}`;
}

export function summary(checks: readonly Check[]): string {
  const count = (s: Check['status']): number => checks.filter((c) => c.status === s).length;
  const fails = count('fail');
  const verdict = fails > 0 ? 'fix the failures before pointing kubelet at dockercri' : 'this node is ready for dockercri';
  return `${checks.length} checks: ${count('ok')} ok, ${count('warn')} warn, ${fails} fail — ${verdict}`;
}

export function formatReport(checks: readonly Check[]): string {
  return `${[...checks.map(formatCheck), summary(checks)].join('\n')}\n`;
}

/** 1 when any check fails, else 0 (warnings do not fail the node). */
export function exitStatus(checks: readonly Check[]): number {
  return checks.some((c) => c.status === 'fail') ? 1 : 0;
}
