// node dist/bench/profile.js [PODS] [SECONDS]: N pods, then kubelet-like polling for S seconds, with
// DOCKERCRI_NODE_ARGS given to dockercri's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" or
// "--heapsnapshot-signal=SIGUSR2". It prints the polling window in ms since dockercri was started,
// which is where a CPU profile of the steady state begins and ends.
import { startDockercri } from '../integration/harness.js';
import { BenchPods } from './pods.js';
import { kubeletLikePolling } from './polling.js';
import { dockercriNodeArgs, rssMiB } from './proc.js';

const pods = Number(process.argv[2] ?? 30);
const seconds = Number(process.argv[3] ?? 60);
const spawned = Date.now();
const cri = await startDockercri({ args: ['--log-level=warn'], nodeArgs: dockercriNodeArgs() });
const set = new BenchPods(cri, `prof-${process.pid}`);
try {
  await set.growTo(pods);
  await new Promise((r) => setTimeout(r, 5000));
  process.stdout.write(`rss with pods ${rssMiB(cri.proc.pid!).toFixed(1)}\n`);
  const from = Date.now() - spawned;
  const r = await kubeletLikePolling(cri, cri.proc.pid!, seconds);
  process.stdout.write(`window ${from} ${Date.now() - spawned} ms\n${JSON.stringify(r)}\n`);
} finally {
  await set.removeAll();
  await cri.stop();
}
