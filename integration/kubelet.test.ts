// dockercri driven by a real kubelet (v1.32, standalone, static pods) the way a node drives it, on
// a private Docker Engine (kubelet removes every sandbox on its engine it did not make). Every
// assertion reads kubelet's own API: /pods, /containerLogs, /stats/summary, exec, attach and
// port-forward through port 10250; the one exception is the set of log files kubelet's rotation
// left, read to check that no line went missing between files.
//
// Needs ../shared/tools (kubelet-node.sh, docker-private.sh, the kubelet) or KUBELET_BIN. Without
// them the tier is skipped with one line, except in CI (CI=true), where that is a failure.
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX, startDockercri, testEnv, type Dockercri } from './harness.js';
import {
  CRI_DIR,
  ENGINE_ENDPOINT,
  NODE_NAME,
  POD_LOGS,
  containerStatus,
  describePod,
  engine,
  isReady,
  kubelet,
  kubeletAvailability,
  kubeletExec,
  kubeletGet,
  kubeletPod,
  kubeletPods,
  kubeletText,
  kubeletWs,
  removeManifest,
  waitFor,
  writeManifest,
  type Pod,
} from './kubelet-node.js';
import { freePort, httpGet } from './pods.js';

const availability = kubeletAvailability();
const inCi = process.env.CI === 'true';
if (!availability.ok && !inCi) console.log(`kubelet tier skipped: ${availability.why}`);

const SOCKET = join(CRI_DIR, 'cri.sock');
const PID_FILE = join(CRI_DIR, 'dockercri.pid');
const MiB = 1024 * 1024;
/**
 * Lines the chatty container writes: about 13 MiB, past Docker's own json-file rotation (dockercri
 * gives containers max-size 10m) and several of kubelet's at containerLogMaxSize 1Mi.
 */
const CHATTY_LINES = 25_000;
const PAD = 'x'.repeat(500);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const image = { image: BUSYBOX, imagePullPolicy: 'Never' };

let cri: Dockercri | undefined;
let hostPort = 0;

async function startCri(): Promise<Dockercri> {
  const started = await startDockercri({
    socket: SOCKET,
    args: [`--docker-endpoint=${ENGINE_ENDPOINT}`, `--cri-dockerd-root-directory=${join(CRI_DIR, 'root')}`, '--network-plugin=', '--log-level=info'],
  });
  writeFileSync(PID_FILE, `${started.proc.pid}\n`);
  return started;
}

/** A dockercri a killed earlier run left serving our socket. */
function killLeftoverCri(): void {
  try {
    const pid = Number(readFileSync(PID_FILE, 'utf8').trim());
    if (pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(SOCKET)) process.kill(pid, 'SIGKILL');
  } catch {
    // none
  }
  rmSync(CRI_DIR, { recursive: true, force: true });
  mkdirSync(CRI_DIR, { recursive: true });
}

const podNote = (name: string) => async (): Promise<string> => `${name}: ${describePod(await kubeletPod(name))}\nkubelet's last errors:\n${kubelet.errors()}`;

/** Waits until kubelet reports the pod Ready; resolves to it. */
const readyPod = (name: string, timeoutMs = 90_000): Promise<Pod> =>
  waitFor(`pod ${name} Ready`, timeoutMs, async () => {
    const p = await kubeletPod(name);
    return isReady(p) ? p : undefined;
  }, podNote(name));

/** The sequence numbers of the chatty container's lines, in order; `done` for its last line. */
const seqOf = (lines: string[]): Array<number | 'done'> =>
  lines.filter((l) => l !== '').map((l) => {
    if (l === 'done') return 'done';
    const m = /^seq (\d+) x+$/.exec(l);
    if (!m) throw new Error(`not a line the container wrote: ${JSON.stringify(l.slice(0, 80))}`);
    return Number(m[1]);
  });

/** Each number is one more than the one before: nothing lost, repeated or out of order. */
function expectConsecutive(seq: Array<number | 'done'>, what: string): void {
  const nums = seq.filter((s): s is number => s !== 'done');
  for (let i = 1; i < nums.length; i++) {
    if (nums[i] !== nums[i - 1]! + 1) throw new Error(`${what}: line ${nums[i]} follows line ${nums[i - 1]} (at ${i} of ${nums.length})`);
  }
}

/** The content lines of CRI log files (partial lines joined), in file order. */
function criLines(text: string): string[] {
  const out: string[] = [];
  let partial = '';
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /^\S+ (stdout|stderr) ([PF]) (.*)$/.exec(line);
    if (!m) throw new Error(`not a CRI log line: ${JSON.stringify(line.slice(0, 80))}`);
    partial += m[3];
    if (m[2] === 'F') {
      out.push(partial);
      partial = '';
    }
  }
  return out;
}

const web = (port: number) => ({
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    terminationGracePeriodSeconds: 2,
    initContainers: [{ name: 'init', ...image, command: ['sh', '-c', 'echo init-done > /work/index.html; echo init ran'], volumeMounts: [{ name: 'work', mountPath: '/work' }] }],
    containers: [
      {
        name: 'httpd',
        ...image,
        command: ['httpd', '-f', '-p', '8080', '-h', '/work'],
        ports: [{ containerPort: 8080, hostPort: port }],
        readinessProbe: { httpGet: { path: '/index.html', port: 8080 }, periodSeconds: 1 },
        livenessProbe: { exec: { command: ['cat', '/work/index.html'] }, periodSeconds: 2 },
        resources: { limits: { memory: '64Mi', cpu: '250m' } },
        volumeMounts: [{ name: 'work', mountPath: '/work' }],
      },
      { name: 'ticker', ...image, command: ['sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done'] },
      { name: 'mem', ...image, command: ['sh', '-c', 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=32 2>/dev/null; exec sleep 100000'], resources: { limits: { memory: '128Mi' } } },
    ],
    volumes: [{ name: 'work', emptyDir: {} }],
  },
});

const crash = {
  metadata: { name: 'crash', namespace: 'default' },
  spec: { terminationGracePeriodSeconds: 1, restartPolicy: 'Always', containers: [{ name: 'crash', ...image, command: ['sh', '-c', 'echo run; sleep 1; exit 7'] }] },
};

// the liveness probe fails once (the file goes after 4 s), kubelet restarts the container, and the
// second run keeps the file: one restart, then stable
const liveness = {
  metadata: { name: 'liveness', namespace: 'default' },
  spec: {
    terminationGracePeriodSeconds: 1,
    containers: [
      {
        name: 'probed',
        ...image,
        command: ['sh', '-c', 'touch /tmp/alive; if [ ! -e /state/once ]; then touch /state/once; sleep 4; rm /tmp/alive; fi; exec sleep 100000'],
        // failing once is what restarts it: an exec that only ran slow (over the default 1 s, as
        // under the whole suite on two cores) must not count as a failure
        livenessProbe: { exec: { command: ['cat', '/tmp/alive'] }, initialDelaySeconds: 1, periodSeconds: 1, failureThreshold: 1, timeoutSeconds: 10 },
        volumeMounts: [{ name: 'state', mountPath: '/state' }],
      },
    ],
    volumes: [{ name: 'state', emptyDir: {} }],
  },
};

const chatty = {
  metadata: { name: 'chatty', namespace: 'default' },
  spec: {
    terminationGracePeriodSeconds: 1,
    containers: [
      {
        name: 'chatty',
        ...image,
        // in bursts of 500 lines, kubelet rotating the file several times meanwhile; `done` comes
        // after a pause, so it normally lands in a fresh small file
        command: ['sh', '-c', `i=0; while [ $i -lt ${CHATTY_LINES} ]; do j=0; while [ $j -lt 500 ]; do echo "seq $i ${PAD}"; i=$((i+1)); j=$((j+1)); done; sleep 0.2; done; sleep 5; echo done; exec sleep 100000`],
      },
    ],
  },
};

/** Whether a TCP connection to host:port is refused (nothing listens or forwards there). */
function refused(host: string, port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = connect({ host, port, timeout: 3000 });
    s.once('connect', () => (s.destroy(), r(false)));
    s.once('timeout', () => (s.destroy(), r(true)));
    s.once('error', () => (s.destroy(), r(true)));
  });
}

describe.skipIf(availability.ok || !inCi)('kubelet tier (CI)', () => {
  it('has a kubelet to run against', () => {
    throw new Error(`CI needs the kubelet tier: ${availability.ok ? '' : availability.why}`);
  });
});

describe.skipIf(!availability.ok)('kubelet drives dockercri', () => {
  beforeAll(async () => {
    // what a killed earlier run may have left: its kubelet, its dockercri, its engine
    await kubelet.down().catch(() => undefined);
    killLeftoverCri();
    rmSync(POD_LOGS, { recursive: true, force: true });
    await engine.down(true);
    await engine.up();
    const env = testEnv();
    await engine.load(BUSYBOX, env.pauseImage);
    cri = await startCri();
    await kubelet.up(SOCKET, ['containerLogMaxSize: 1Mi', 'containerLogMaxFiles: 10', 'containerLogMonitorInterval: 3s'].join('\n'));
    hostPort = await freePort();
    writeManifest(web(hostPort));
    writeManifest(crash);
    writeManifest(liveness);
  }, 300_000);

  afterAll(async () => {
    const failures: unknown[] = [];
    await kubelet.down().catch((err) => failures.push(err));
    await cri?.stop().catch((err) => failures.push(err));
    await engine.down().catch((err) => failures.push(err));
    if (failures.length > 0) throw failures[0];
  }, 300_000);

  it('runs the init container to completion, then the pod Ready by its HTTP probe, serving on its host port', async () => {
    const p = await readyPod('web');
    const init = containerStatus(p, 'init');
    expect(init?.state.terminated?.exitCode).toBe(0);
    expect(init?.state.terminated?.reason).toBe('Completed');
    expect(p.status.podIP).toMatch(/^10\.213\.0\.\d+$/);
    for (const name of ['httpd', 'ticker', 'mem']) expect(containerStatus(p, name)?.state.running, name).toBeTruthy();
    // the file the init container wrote, through the host port and the pod IP
    expect(await waitFor('host port answering', 30_000, () => httpGet('127.0.0.1', hostPort).catch(() => undefined))).toBe('init-done\n');
    expect(await httpGet(p.status.podIP!, 8080)).toBe('init-done\n');
    expect((await kubeletText(`/containerLogs/default/web-${NODE_NAME}/init`)).trim()).toBe('init ran');
  }, 180_000);

  it('serves exec through kubelet: stdout, stderr and the exit code; the limits are in the cgroup', async () => {
    const r = await kubeletExec('web', 'httpd', ['sh', '-c', 'cat /work/index.html; echo to-stderr >&2; exit 3']);
    expect(r.stdout).toBe('init-done\n');
    expect(r.stderr).toBe('to-stderr\n');
    expect(JSON.parse(r.status)).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
    const ok = await kubeletExec('web', 'httpd', ['true']);
    expect(JSON.parse(ok.status)).toMatchObject({ status: 'Success' });
    // cgroup v1 here (the container sees its own cgroup at the controller's root); v2 has memory.max and cpu.max
    const limits = await kubeletExec('web', 'httpd', ['sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max']);
    const nums = limits.stdout.trim().split(/\s+/).map(Number);
    expect(nums[0]).toBe(64 * MiB);
    expect(nums[1]! / nums[2]!).toBeCloseTo(0.25, 5);
  });

  it('serves attach and port-forward through kubelet', async () => {
    const attached = await kubeletWs(`/attach/default/web-${NODE_NAME}/ticker?output=1&error=1`, ['v5.channel.k8s.io'], {
      untilMs: 20_000,
      done: (r) => /tick \d+\n.*tick \d+\n/s.test(r.channels.get(1)?.toString() ?? ''),
    });
    expect(attached.protocol).toBe('v5.channel.k8s.io');
    const ticks = [...(attached.channels.get(1)?.toString() ?? '').matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    expect(ticks[1]).toBe(ticks[0]! + 1);

    const request = Buffer.concat([Buffer.from([0]), Buffer.from('GET /index.html HTTP/1.0\r\n\r\n')]);
    const forwarded = await kubeletWs(`/portForward/default/web-${NODE_NAME}?port=8080`, ['v4.channel.k8s.io', 'portforward.k8s.io'], {
      send: [request],
      untilMs: 20_000,
      done: (r) => (r.channels.get(0)?.toString() ?? '').includes('init-done'),
    });
    // each channel starts with the port (little endian), then the data
    const data = forwarded.channels.get(0) ?? Buffer.alloc(0);
    expect(data.readUInt16LE(0)).toBe(8080);
    expect(data.subarray(2).toString()).toMatch(/^HTTP\/1\.[01] 200 OK\r\n[\s\S]*\r\n\r\ninit-done\n$/);
  });

  it('answers containerLogs with tailLines', async () => {
    await waitFor('ticker has logged 4 lines', 30_000, async () => ((await kubeletText(`/containerLogs/default/web-${NODE_NAME}/ticker`)).split('\n').length > 4 ? true : undefined));
    const last = (await kubeletText(`/containerLogs/default/web-${NODE_NAME}/ticker?tailLines=3`)).split('\n').filter((l) => l !== '');
    expect(last).toHaveLength(3);
    const n = last.map((l) => Number(/^tick (\d+)$/.exec(l)?.[1]));
    expect(n).toEqual([n[0], n[0]! + 1, n[0]! + 2]);
  });

  it('reports stats of the pod and its containers in /stats/summary', async () => {
    type Summary = { pods: Array<{ podRef: { name: string }; memory?: { workingSetBytes?: number }; containers?: Array<{ name: string; cpu?: { usageCoreNanoSeconds?: number }; memory?: { workingSetBytes?: number } }> }> };
    const stats = await waitFor('stats of the web pod with its mem container at 32 MiB', 60_000, async () => {
      const s = JSON.parse(await kubeletText('/stats/summary?only_cpu_and_memory=true')) as Summary;
      const p = s.pods.find((x) => x.podRef.name === `web-${NODE_NAME}`);
      const mem = p?.containers?.find((c) => c.name === 'mem');
      return (mem?.memory?.workingSetBytes ?? 0) >= 32 * MiB ? p : undefined;
    });
    for (const name of ['httpd', 'ticker']) {
      const c = stats.containers?.find((x) => x.name === name);
      expect(c?.cpu?.usageCoreNanoSeconds ?? 0, name).toBeGreaterThan(0);
      expect(c?.memory?.workingSetBytes ?? 0, name).toBeGreaterThan(0);
    }
    expect(stats.memory?.workingSetBytes ?? 0).toBeGreaterThanOrEqual(32 * MiB);
  }, 120_000);

  it('restarts a crashing container with back-off, reporting its exit code and its previous logs', async () => {
    const p = await waitFor('crash restarted twice', 110_000, async () => {
      const pod = await kubeletPod('crash');
      return (containerStatus(pod, 'crash')?.restartCount ?? 0) >= 2 ? pod : undefined;
    }, podNote('crash'));
    const c = containerStatus(p, 'crash')!;
    expect(c.lastState.terminated?.exitCode).toBe(7);
    expect(c.lastState.terminated?.reason).toBe('Error');
    expect((await kubeletText(`/containerLogs/default/crash-${NODE_NAME}/crash?previous=true`)).trim()).toBe('run');
    removeManifest('crash');
  }, 150_000);

  it('restarts a container whose liveness probe fails, once', async () => {
    const p = await waitFor('probed restarted and running again', 90_000, async () => {
      const pod = await kubeletPod('liveness');
      const c = containerStatus(pod, 'probed');
      return (c?.restartCount ?? 0) >= 1 && c?.state.running ? pod : undefined;
    }, podNote('liveness'));
    const c = containerStatus(p, 'probed')!;
    // the probe failed, kubelet stopped it: sleep as PID 1 ignores SIGTERM, so it was killed
    expect(c.restartCount).toBe(1);
    expect(c.lastState.terminated?.exitCode).toBe(137);
  }, 120_000);

  it('rotates the log of a chatty container: kubelet shows every line once, in order', async () => {
    writeManifest(chatty);
    try {
      await checkChatty((await readyPod('chatty')).metadata.uid);
    } finally {
      removeManifest('chatty');
    }
  }, 240_000);

  async function checkChatty(uid: string): Promise<void> {
    const path = `/containerLogs/default/chatty-${NODE_NAME}/chatty`;
    const dir = join(POD_LOGS, `default_chatty-${NODE_NAME}_${uid}`, 'chatty');
    /** The lines of every file kubelet's rotation kept (gzipped but the newest), oldest first. */
    const filed = (): Array<number | 'done'> => {
      const rotated = readdirSync(dir).filter((f) => /^0\.log\.\d{8}-\d{6}(\.gz)?$/.test(f)).sort();
      return seqOf([...rotated, '0.log'].flatMap((f) => {
        const raw = readFileSync(join(dir, f));
        return criLines((f.endsWith('.gz') ? gunzipSync(raw) : raw).toString());
      }));
    };
    // while it writes, every answer kubelet gives is one unbroken run of lines; the run ends once
    // the last line is written and the current file is below the size kubelet rotates at
    let all: Array<number | 'done'> | undefined;
    let last = '';
    const deadline = Date.now() + 180_000;
    for (let answer = 1; ; answer++) {
      if (Date.now() > deadline) throw new Error(`chatty did not finish within 180 s; last answer: ${last}`);
      const r = await kubeletGet(path, 30_000);
      // between kubelet's rename of 0.log and the new file ReopenContainerLog makes, kubelet answers
      // 200 with its own error as the body: no lines this time, not wrong lines
      const rotating = r.body.startsWith('failed to try resolving symlinks in path');
      const shown = r.status === 200 && !rotating ? seqOf(r.body.split('\n')) : [];
      expectConsecutive(shown, `containerLogs answer ${answer}`);
      last = `HTTP ${r.status}, ${r.body.length} bytes, ends ${JSON.stringify(r.body.slice(-80))}; ${describePod(await kubeletPod('chatty'))}`;
      if (all) {
        // what kubelet shows at the end is the newest lines, up to the last (none when the file
        // holding `done` was rotated too)
        expect(shown).toEqual(all.slice(all.length - shown.length));
        break;
      }
      let files: Array<number | 'done'> | undefined;
      try {
        if (statSync(join(dir, '0.log')).size < MiB) files = filed();
      } catch (err) {
        // kubelet rotated or compressed a file between the listing and the read
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (files?.at(-1) === 'done') all = files;
      else await sleep(1000);
    }
    expect(readdirSync(dir).filter((f) => f.startsWith('0.log.')).length, `rotated files: ${readdirSync(dir).join(' ')}`).toBeGreaterThanOrEqual(2);
    expectConsecutive(all, 'the rotated files, oldest first');
    expect(all[0]).toBe(0);
    expect(all.length).toBe(CHATTY_LINES + 1);
  }

  it('keeps every pod as it was when dockercri is killed (-9) and restarted', async () => {
    const fingerprint = async (): Promise<string> =>
      (await kubeletPods())
        .filter((p) => ['web', 'liveness'].some((n) => p.metadata.name === `${n}-${NODE_NAME}`))
        .flatMap((p) => (p.status.containerStatuses ?? []).map((c) => `${p.metadata.name}/${c.name}=${c.containerID}#${c.restartCount}`))
        .sort()
        .join(' ');
    await readyPod('web');
    await readyPod('liveness');
    const before = await fingerprint();
    expect(before.split(' ')).toHaveLength(4);

    await cri!.stop('SIGKILL');
    cri = undefined;
    await sleep(3000);
    cri = await startCri();
    // kubelet relists every second and syncs every pod every 10 s: 30 s in which nothing may change
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      expect(await fingerprint()).toBe(before);
      await sleep(2000);
    }
    expect(isReady(await kubeletPod('web'))).toBe(true);
    // and the new process's streaming server answers kubelet
    expect((await kubeletExec('web', 'httpd', ['cat', '/work/index.html'])).stdout).toBe('init-done\n');
  }, 120_000);

  it('brings every pod back after a restart of the Docker Engine', async () => {
    const before = containerStatus(await kubeletPod('web'), 'httpd')?.containerID;
    await engine.down();
    await engine.up();
    const p = await waitFor('web Ready again in new containers', 240_000, async () => {
      const pod = await kubeletPod('web');
      const id = containerStatus(pod, 'httpd')?.containerID;
      return isReady(pod) && id && id !== before ? pod : undefined;
    }, podNote('web'));
    expect(containerStatus(p, 'init')?.state.terminated?.exitCode).toBe(0);
    await readyPod('liveness', 120_000);
    expect(await waitFor('host port answering again', 60_000, () => httpGet('127.0.0.1', hostPort).catch(() => undefined))).toBe('init-done\n');
  }, 360_000);

  it('tears a removed pod down: gone from kubelet, its host port and IP released', async () => {
    const p = await readyPod('web');
    const ip = p.status.podIP!;
    expect(await httpGet(ip, 8080)).toBe('init-done\n');
    removeManifest('web');
    await waitFor('web gone from /pods', 60_000, async () => ((await kubeletPod('web')) ? undefined : true));
    await waitFor('web gone from /runningpods', 60_000, async () => ((await kubeletText('/runningpods/')).includes(`web-${NODE_NAME}`) ? undefined : true));
    expect(await waitFor('host port released', 60_000, async () => ((await refused('127.0.0.1', hostPort)) ? true : undefined))).toBe(true);
    expect(await waitFor('pod IP released', 60_000, async () => ((await refused(ip, 8080)) ? true : undefined))).toBe(true);
  }, 120_000);
});

