// Helpers of the tests that run the real CNI plugins: a subnet of their own, the libcni cache they
// leave, and cleanup of what a failed test may leave in the host's nat table.
import { randomInt } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { splitRule } from './harness.js';
import { sh } from './pods.js';

/** "10.a.b" of a /24 with a in [from, to) that no route or address on this host touches yet. */
export async function freeSubnet(from = 100, to = 200): Promise<string> {
  const used = (await sh('ip', '-4', 'route', 'show', 'table', 'all')) + (await sh('ip', '-4', 'addr'));
  for (let i = 0; i < 50; i++) {
    const candidate = `10.${randomInt(from, to)}.${randomInt(0, 256)}`;
    if (!used.includes(`${candidate}.`)) return candidate;
  }
  throw new Error('no free 10.x.y.0/24 found');
}

/** The libcni result files under `cacheDir` whose names hold `match` (a sandbox id), sorted. */
export const cacheResults = async (cacheDir: string, match = ''): Promise<string[]> =>
  (await readdir(join(cacheDir, 'results')).catch(() => [] as string[])).filter((f) => f.includes(match)).sort();

/** Whether a network interface of this name exists in the host's namespace. */
export const linkExists = (name: string): Promise<boolean> =>
  sh('ip', 'link', 'show', 'dev', name).then(
    () => true,
    () => false,
  );

/** Deletes the nat rules `select` picks and the CNI-DN-* chains they belong to or jump to. */
export async function removeNatRules(select: (rule: string) => boolean): Promise<void> {
  const lines = (await sh('iptables', '-t', 'nat', '-S')).split('\n').filter((l) => l.startsWith('-A ') && select(l));
  const chains = new Set<string>();
  for (const line of lines) {
    const args = splitRule(line);
    const target = args[args.indexOf('-j') + 1];
    if (target?.startsWith('CNI-DN-')) chains.add(target);
    if (args[1]?.startsWith('CNI-DN-')) chains.add(args[1]);
    await sh('iptables', '-t', 'nat', '-D', ...args.slice(1)).catch(() => undefined);
  }
  for (const chain of chains) {
    await sh('iptables', '-t', 'nat', '-F', chain).catch(() => undefined);
    await sh('iptables', '-t', 'nat', '-X', chain).catch(() => undefined);
  }
}
