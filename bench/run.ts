// npm run bench [-- N]: prints markdown tables of dockercri against raw Docker API calls.
import { containerLifecycle } from './container-lifecycle.js';
import { containerStats } from './container-stats.js';
import { eventDelay } from './events.js';
import { listAtScale } from './list.js';
import { sandboxLifecycle } from './sandbox-lifecycle.js';

const n = Number(process.argv[2] ?? 30);
process.stdout.write(`dockercri benchmarks (${new Date().toISOString()}, node ${process.version})\n\n`);
process.stdout.write(await sandboxLifecycle(n));
process.stdout.write('\n');
process.stdout.write(await containerLifecycle(n));
process.stdout.write('\n');
process.stdout.write(await listAtScale(100, 50));
process.stdout.write('\n');
process.stdout.write(await containerStats());
process.stdout.write('\n');
process.stdout.write(await eventDelay(20));
