// npm run bench:soak [-- --pods=110 --minutes=10 --cycles=1000 --concurrency=2 --network=cni|bridge]
// N pods held under kubelet-like polling while pods are created and deleted beside them; RSS and
// CPU of dockercri sampled every 10 s. The cycles are spread over the polling window (cycle i starts
// no sooner than i/N of 95% of it), so the last half, where growth is judged, sees them too: two at
// a time and unpaced, 1,000 were done in 6.5 of the 10 minutes. It passes when no call failed, RSS
// did not grow over the last half, and nothing is left behind in Docker, CNI or the checkpoint
// directory.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freeSubnet, removeNatRules } from '../integration/cni-net.js';
import { startDockercri } from '../integration/harness.js';
import { docker, sh } from '../integration/pods.js';
import { BenchPods, type Pod } from './pods.js';
import { kubeletLikePolling, type PollingResult } from './polling.js';
import { cpuSeconds, rssMiB } from './proc.js';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '110' },
    minutes: { type: 'string', default: '10' },
    cycles: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '2' },
    network: { type: 'string', default: existsSync('/usr/lib/cni/bridge') ? 'cni' : 'bridge' },
  },
});
const pods = Number(values.pods);
const seconds = Number(values.minutes) * 60;
const cycles = Number(values.cycles);
const SAMPLE_MS = 10_000;
/** RSS may wander this much over the last half and still count as flat (GC and allocator noise). */
const FLAT_MIB = 3;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const f1 = (n: number): string => n.toFixed(1);

// a CNI network of the soak's own: a bridge, host-local addresses in a /24 nothing here uses
const tag = randomBytes(3).toString('hex');
const work = mkdtempSync(join(tmpdir(), 'dockercri-soak-'));
const netName = `dcri-soak-${tag}`;
const bridge = `dcsk${tag}`;
const ipStore = join('/var/lib/cni/networks', netName);
const cacheDir = join(work, 'cni-cache');
const args = ['--log-level=warn'];
if (values.network === 'cni') {
  const prefix = await freeSubnet();
  const confDir = join(work, 'cni-conf');
  mkdirSync(confDir);
  writeFileSync(
    join(confDir, '10-soak.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: netName,
      plugins: [
        { type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: `${prefix}.0/24` }]], routes: [{ dst: '0.0.0.0/0' }] } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }),
  );
  args.push('--network-plugin=cni', '--cni-bin-dir=/usr/lib/cni', `--cni-conf-dir=${confDir}`, `--cni-cache-dir=${cacheDir}`);
}

const cri = await startDockercri({ args });
const pid = cri.proc.pid as number;
const held = new BenchPods(cri, `soak-${process.pid}`);
const failures: string[] = [];
const fail = (what: string, err: Error): void => {
  if (failures.length < 50) failures.push(`${what}: ${err.message.split('\n')[0]}`);
  else failures.length++;
};
const samples: { atS: number; rss: number; cpu: number }[] = [];
let cyclesDone = 0;
let polling: PollingResult | undefined;
const leftovers: string[] = [];
const t0 = Date.now();
try {
  await held.growTo(pods);
  const started = Date.now();
  const sample = (): void => void samples.push({ atS: (Date.now() - started) / 1000, rss: rssMiB(pid), cpu: cpuSeconds(pid) });
  sample();
  const sampler = setInterval(sample, SAMPLE_MS);
  let next = 0;
  const spacingMs = (seconds * 1000 * 0.95) / cycles;
  const cycler = async (): Promise<void> => {
    while (next < cycles) {
      const due = started + next * spacingMs;
      next++;
      if (Date.now() < due) await sleep(due - Date.now());
      let pod: Pod | undefined;
      try {
        pod = await held.runOne();
        await held.removeOne(pod);
        cyclesDone++;
      } catch (err) {
        fail('pod cycle', err as Error);
        const left = pod;
        if (left) await held.removeOne(left).catch(() => cri.runtime.RemovePodSandbox({ podSandboxId: left.podSandboxId }).catch(() => undefined));
      }
    }
  };
  const cycling = Promise.all(Array.from({ length: Number(values.concurrency) }, cycler));
  let cyclingDone = false;
  void cycling.then(() => (cyclingDone = true));
  polling = await kubeletLikePolling(cri, pid, seconds, { until: () => cyclingDone, onError: (rpc, err) => fail(rpc, err) });
  await cycling;
  clearInterval(sampler);
  sample();
} finally {
  await held.removeAll();
  // what dockercri made must be gone once its pods are removed
  leftovers.push(...(await docker('ps', '-aq', '--filter', `label=bench=${held.tag}`)).split('\n').filter(Boolean).map((id) => `Docker container ${id}`));
  leftovers.push(...readdirSync(join(cri.dir, 'root', 'sandbox'), { withFileTypes: true }).filter((e) => e.isFile()).map((e) => `checkpoint ${e.name}`));
  if (values.network === 'cni') {
    leftovers.push(...(existsSync(ipStore) ? readdirSync(ipStore).filter((n) => /^[0-9a-f.:]+$/.test(n)) : []).map((ip) => `host-local address ${ip}`));
    leftovers.push(...(existsSync(join(cacheDir, 'results')) ? readdirSync(join(cacheDir, 'results')) : []).map((f) => `CNI cache ${f}`));
  }
  await cri.stop();
  for (const id of leftovers.filter((l) => l.startsWith('Docker')).map((l) => l.split(' ')[2] as string)) await docker('rm', '-f', id).catch(() => undefined);
  if (values.network === 'cni') {
    await removeNatRules((rule) => rule.includes(netName)).catch(() => undefined);
    await sh('ip', 'link', 'del', bridge).catch(() => undefined);
    rmSync(ipStore, { recursive: true, force: true });
  }
  rmSync(work, { recursive: true, force: true });
}

// RSS over the last half: least-squares growth across it, and its range
const half = samples.filter((s) => s.atS >= (samples.at(-1)?.atS ?? 0) / 2);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const mx = mean(half.map((s) => s.atS));
const my = mean(half.map((s) => s.rss));
const slope = half.reduce((a, s) => a + (s.atS - mx) * (s.rss - my), 0) / Math.max(1e-9, half.reduce((a, s) => a + (s.atS - mx) ** 2, 0));
const growth = slope * ((half.at(-1)?.atS ?? 0) - (half[0]?.atS ?? 0));
const flat = growth <= FLAT_MIB;
const failedCalls = failures.length;
const lines = [
  `### Soak: ${pods} pods under kubelet-like polling for ${f1((polling?.seconds ?? 0) / 60)} min, ${cyclesDone} of ${cycles} pod create/delete cycles beside them (${values.concurrency} at a time, ${values.network} networking), total ${f1((Date.now() - t0) / 60_000)} min`,
  '',
  `- RSS: ${f1(samples[0]?.rss ?? NaN)} MiB at the start, ${f1(Math.min(...samples.map((s) => s.rss)))}–${f1(Math.max(...samples.map((s) => s.rss)))} MiB over the run, ${f1(samples.at(-1)?.rss ?? NaN)} MiB at the end; growth over the last half (least squares) ${growth.toFixed(2)} MiB: ${flat ? 'flat' : '**growing**'} (limit ${FLAT_MIB} MiB)`,
  `- CPU: dockercri ${polling ? polling.runtimeCpu.toFixed(1) : '-'} s over the polling window (${polling ? ((100 * polling.runtimeCpu) / polling.seconds).toFixed(1) : '-'}% of a core, cycles included); dockerd ${polling?.dockerdCpu?.toFixed(1) ?? '-'} s (everyone's)`,
  `- calls: ${polling?.calls ?? 0} polling rpcs, ${failedCalls === 0 ? 'none failed' : `**${failedCalls} failed**`}${failures.length > 0 ? `: ${failures.slice(0, 5).join('; ')}` : ''}`,
  `- left behind: ${leftovers.length === 0 ? 'nothing (Docker containers, checkpoints' + (values.network === 'cni' ? ', host-local addresses, CNI cache' : '') + ')' : `**${leftovers.join(', ')}**`}`,
  '',
  '| s | RSS MiB | dockercri CPU s in the 10 s before |',
  '| ---: | ---: | ---: |',
  ...samples.map((s, i) => `| ${s.atS.toFixed(0)} | ${f1(s.rss)} | ${i === 0 ? '-' : (s.cpu - (samples[i - 1] as { cpu: number }).cpu).toFixed(2)} |`),
  '',
];
process.stdout.write(lines.join('\n'));
process.exitCode = failedCalls === 0 && flat && leftovers.length === 0 && cyclesDone === cycles ? 0 : 1;
