// node dist/bench/external.js --endpoint=unix:///path.sock --pid=PID [--pods=30] [--seconds=60]
// The kubelet-like polling of the node bench against a CRI runtime already serving at --endpoint
// (process PID), for comparisons by hand with another runtime on the same Docker Engine: it runs
// the pods through that runtime, measures the runtime's and dockerd's CPU, and removes the pods.
import { parseArgs } from 'node:util';
import { connectCri } from '../integration/harness.js';
import { BenchPods } from './pods.js';
import { kubeletLikePolling } from './polling.js';
import { rssMiB } from './proc.js';

const { values } = parseArgs({ options: { endpoint: { type: 'string' }, pid: { type: 'string' }, pods: { type: 'string', default: '30' }, seconds: { type: 'string', default: '60' } } });
if (!values.endpoint?.startsWith('unix://') || !values.pid) throw new Error('usage: external.js --endpoint=unix:///path.sock --pid=PID [--pods=30] [--seconds=60]');
const pid = Number(values.pid);
const cri = connectCri(values.endpoint.slice('unix://'.length));
const pods = new BenchPods(cri, `bench-ext-${process.pid}`);
try {
  await pods.growTo(Number(values.pods));
  await new Promise((r) => setTimeout(r, 3000));
  // a runtime may not implement every rpc (cri-dockerd answers ListPodSandboxStats UNIMPLEMENTED)
  const failed = new Map<string, string>();
  const r = await kubeletLikePolling(cri, pid, Number(values.seconds), { onError: (rpc, err) => failed.set(rpc, err.message.split('\n')[0] ?? '') });
  process.stdout.write(
    `${values.pods} pods, ${r.seconds.toFixed(0)} s of kubelet-like polling: runtime CPU ${r.runtimeCpu.toFixed(2)} s, dockerd CPU ${r.dockerdCpu?.toFixed(2) ?? '-'} s, runtime RSS ${rssMiB(pid).toFixed(1)} MiB, ${r.calls} rpcs answered, ${r.failed} failed${[...failed].map(([rpc, msg]) => `; ${rpc}: ${msg}`).join('')}\n`,
  );
} finally {
  await pods.removeAll();
  cri.close();
}
