// npm run bench [-- N] [--only=lifecycle,list,stats,events,logs,node] [--node-sizes=30,110] [--poll-seconds=60] [--cycles=100]:
// prints markdown tables of dockercri against raw Docker API calls, then the goals of issue #14.
import { parseArgs } from 'node:util';
import { containerLifecycle } from './container-lifecycle.js';
import { containerStats } from './container-stats.js';
import { eventDelay } from './events.js';
import { goalsTable } from './goals.js';
import { listAtScale } from './list.js';
import { logCopy } from './logs.js';
import { nodeAtScale } from './node-scale.js';
import { sandboxLifecycle } from './sandbox-lifecycle.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    only: { type: 'string', default: 'lifecycle,list,stats,events,logs,node' },
    'log-mb': { type: 'string', default: '100' },
    'node-sizes': { type: 'string', default: '30,110' },
    'poll-seconds': { type: 'string', default: '60' },
    cycles: { type: 'string', default: '100' },
  },
});
const n = Number(positionals[0] ?? 30);
const only = new Set(values.only.split(','));
const out = (text: string): void => void process.stdout.write(`${text}\n`);

out(`dockercri benchmarks (${new Date().toISOString()}, node ${process.version})\n`);
if (only.has('lifecycle')) {
  out(await sandboxLifecycle(n));
  out(await containerLifecycle(n));
}
if (only.has('list')) out(await listAtScale(100, 50));
if (only.has('stats')) out(await containerStats());
if (only.has('events')) out(await eventDelay(20));
if (only.has('logs')) out(await logCopy(Number(values['log-mb'])));
if (only.has('node')) {
  out(await nodeAtScale({ sizes: values['node-sizes'].split(',').map(Number), pollSeconds: Number(values['poll-seconds']), statsRounds: 20, rawStatsRounds: 3, cycles: Number(values.cycles) }));
}
out(goalsTable());
