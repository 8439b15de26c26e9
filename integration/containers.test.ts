// CRI containers through the real dockercri process on Docker's bridge networking, checked from
// inside the containers (ExecSync and the CRI log file), with docker inspect and with the host's
// /proc. Every pod and container is named uniquely and carries this file's run label, so the file
// runs in parallel with the others; afterAll removes whatever a failed test left behind. The tests
// of the log file run on a private engine (see there why).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../src/errors.js';
import type { runtime } from '../src/gen/api.js';
import { PrivateEngine } from './engine.js';
import { BUSYBOX, grpcError, startDockercri, testEnv, uniq, type Dockercri } from './harness.js';
import { NS, TEST_LABEL, containersWith, docker, eventually, inspect, ns, podConfig, removeRunContainers, sh, uniquePrefix } from './pods.js';

const run = uniq('ctr');
const State = { CREATED: 0, RUNNING: 1, EXITED: 2, UNKNOWN: 3 } as const;
const Propagation = { PRIVATE: 0, HOST_TO_CONTAINER: 1, BIDIRECTIONAL: 2 } as const;
const Profile = { RuntimeDefault: 0, Unconfined: 1 } as const;
const BUSYBOX_USER = 'dockercri-test/busybox-user:latest';
const BUSYBOX_USERNAME = 'dockercri-test/busybox-username:latest';
/** An image with an ENTRYPOINT and a CMD, built from BUSYBOX by beforeAll (nothing is pulled). */
const ENTRYPOINT_IMAGE = `dockercri-test/entrypoint-${run}:latest`;
const MiB = 1024 * 1024;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type ContainerStatus = runtime.v1.IContainerStatus;
type Container = runtime.v1.IContainer;
type Filter = runtime.v1.IContainerFilter;

interface Pod {
  sandboxId: string;
  config: Record<string, unknown> & { metadata: { name: string; namespace: string; uid: string }; logDirectory: string };
}

interface ContainerOptions {
  name?: string;
  attempt?: number;
  image?: string;
  command?: string[];
  args?: string[];
  envs?: Array<{ key: string; value: Buffer }>;
  workingDir?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  mounts?: Array<Record<string, unknown>>;
  logPath?: string;
  linux?: Record<string, unknown>;
  /** The container's PID namespace mode (CONTAINER unless given). */
  pid?: number;
}

let cri: Dockercri;
let root: string;
let tmp: string;
const pods = new Set<string>();

/** Starts dockercri on the shared engine, or on a private one, with the file's root directory for that engine. */
const start = (engine?: PrivateEngine): Promise<Dockercri> =>
  startDockercri({ args: [`--cri-dockerd-root-directory=${engine ? join(engine.dir, 'cri-root') : root}`, ...(engine ? [`--docker-endpoint=${engine.endpoint}`] : [])] });

async function runPod(o: { pid?: number; network?: number } = {}): Promise<Pod> {
  const base = podConfig({ run, pid: o.pid ?? NS.CONTAINER, network: o.network ?? NS.POD });
  const meta = base.metadata as Pod['config']['metadata'];
  const config = { ...base, logDirectory: join(tmp, 'pods', `${meta.namespace}_${meta.name}_${meta.uid}`) } as Pod['config'];
  const sandboxId = (await cri.runtime.RunPodSandbox({ config })).podSandboxId ?? '';
  expect(sandboxId).toMatch(/^[0-9a-f]{64}$/);
  pods.add(sandboxId);
  return { sandboxId, config };
}

async function removePod(sandboxId: string): Promise<void> {
  // as kubelet does; most containers here run sleep as PID 1, which ignores SIGTERM
  const containers = (await cri.runtime.ListContainers({ filter: { podSandboxId: sandboxId } })).containers ?? [];
  await Promise.all(containers.map((c) => cri.runtime.StopContainer({ containerId: c.id, timeout: 0 })));
  await cri.runtime.StopPodSandbox({ podSandboxId: sandboxId });
  await cri.runtime.RemovePodSandbox({ podSandboxId: sandboxId });
  pods.delete(sandboxId);
}

/** A ContainerConfig with a unique name, the run label and a log path. */
function containerConfig(o: ContainerOptions = {}): Record<string, unknown> & { metadata: { name: string; attempt: number }; logPath: string } {
  const name = o.name ?? uniq('c');
  const pid = o.pid ?? NS.CONTAINER;
  const linux = o.linux ?? {};
  const sc = (linux.securityContext ?? {}) as Record<string, unknown>;
  return {
    metadata: { name, attempt: o.attempt ?? 0 },
    image: { image: o.image ?? BUSYBOX },
    command: o.command ?? ['sleep', '100000'],
    args: o.args ?? [],
    envs: o.envs ?? [],
    workingDir: o.workingDir ?? '',
    labels: { [TEST_LABEL]: run, ...(o.labels ?? {}) },
    annotations: o.annotations ?? {},
    mounts: o.mounts ?? [],
    logPath: o.logPath ?? `${name}/0.log`,
    linux: { ...linux, securityContext: { ...sc, namespaceOptions: { network: NS.POD, ipc: NS.POD, pid, ...((sc.namespaceOptions ?? {}) as object) } } },
  };
}

async function createContainer(pod: Pod, o: ContainerOptions = {}): Promise<string> {
  const config = containerConfig(o);
  const containerId = (await cri.runtime.CreateContainer({ podSandboxId: pod.sandboxId, config, sandboxConfig: pod.config })).containerId ?? '';
  expect(containerId).toMatch(/^[0-9a-f]{64}$/);
  return containerId;
}

async function runContainer(pod: Pod, o: ContainerOptions = {}): Promise<string> {
  const containerId = await createContainer(pod, o);
  await cri.runtime.StartContainer({ containerId });
  return containerId;
}

async function status(containerId: string): Promise<ContainerStatus> {
  const s = (await cri.runtime.ContainerStatus({ containerId })).status;
  expect(s).toBeTruthy();
  return s!;
}

/** Waits for the container to exit by itself (the status follows Docker's events) and returns its status. */
async function exited(containerId: string, attempts = 300): Promise<ContainerStatus> {
  expect(await eventually(async () => (await status(containerId)).state === State.EXITED, attempts), `container ${containerId} exits`).toBe(true);
  return status(containerId);
}

interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

async function exec(containerId: string, cmd: string[], timeout = 0): Promise<ExecResult> {
  const r = await cri.runtime.ExecSync({ containerId, cmd, timeout });
  return { stdout: Buffer.from(r.stdout ?? []).toString('utf8'), stderr: Buffer.from(r.stderr ?? []).toString('utf8'), exitCode: r.exitCode ?? -1 };
}

/** stdout of a command that must succeed in the container. */
async function execOk(containerId: string, ...cmd: string[]): Promise<string> {
  const r = await exec(containerId, cmd);
  expect(r, `${cmd.join(' ')} succeeds`).toMatchObject({ exitCode: 0 });
  return r.stdout;
}

/** The value of a field of /proc/<pid>/status inside the container. */
async function procStatus(containerId: string, pid: string, field: string): Promise<string> {
  const text = await execOk(containerId, 'cat', `/proc/${pid}/status`);
  return new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
}

const list = async (filter: Filter): Promise<Container[]> => (await cri.runtime.ListContainers({ filter })).containers ?? [];
const ids = (cs: Container[]): string[] => cs.map((c) => c.id ?? '').sort();

// ---- CRI log files ---------------------------------------------------------------------------------

interface LogLine {
  timestamp: string;
  stream: string;
  tag: string;
  content: string;
}

const CRI_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) (P|F) (.*)$/s;

function parseLog(text: string): LogLine[] {
  if (text === '') return [];
  expect(text.endsWith('\n'), 'a CRI log file ends with a newline').toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => {
      const m = CRI_LINE.exec(l);
      expect(m, `a CRI log line: ${JSON.stringify(l.slice(0, 100))}`).not.toBeNull();
      return { timestamp: m![1]!, stream: m![2]!, tag: m![3]!, content: m![4]! };
    });
}

const readLog = async (path: string): Promise<LogLine[]> => parseLog(await readFile(path, 'utf8').catch(() => ''));

/** A stream's output as the container wrote it: P parts joined, each F ended with "\n". */
const reassemble = (lines: LogLine[], stream: string): string =>
  lines
    .filter((l) => l.stream === stream)
    .map((l) => l.content + (l.tag === 'F' ? '\n' : ''))
    .join('');

/** The numbers of a counter container's stdout, in file order. */
const counters = (lines: LogLine[]): number[] => reassemble(lines, 'stdout').split('\n').filter((l) => l !== '').map(Number);

/** A shell loop printing 0..count-1, one every 20 ms. */
const counterScript = (count: number): string => `i=0; while [ $i -lt ${count} ]; do echo $i; i=$((i+1)); usleep 20000; done`;

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

async function logHas(path: string, what: (lines: LogLine[]) => boolean, attempts = 300): Promise<boolean> {
  return eventually(async () => what(await readLog(path)), attempts);
}

// -----------------------------------------------------------------------------------------------------

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dcri-ctr-root-'));
  tmp = await mkdtemp(join(tmpdir(), 'dcri-ctr-'));
  const context = join(tmp, 'entrypoint-image');
  await mkdir(context);
  await writeFile(join(context, 'Dockerfile'), `FROM ${BUSYBOX}\nENTRYPOINT ["echo", "entrypoint"]\nCMD ["image-cmd"]\n`);
  await promisify(execFile)('docker', ['build', '-q', '--label', `${TEST_LABEL}=${run}`, '-t', ENTRYPOINT_IMAGE, context], { env: { ...process.env, DOCKER_BUILDKIT: '0' } });
  cri = await start();
});

afterAll(async () => {
  for (const sandboxId of pods) await removePod(sandboxId).catch(() => undefined);
  await removeRunContainers(run);
  await cri?.stop();
  await docker('rmi', '-f', ENTRYPOINT_IMAGE).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
  await rm(tmp, { recursive: true, force: true });
});

describe('container lifecycle', () => {
  let pod: Pod;
  beforeAll(async () => {
    pod = await runPod();
  });

  it('creates CREATED, starts RUNNING, stops on SIGTERM to EXITED Completed, removes idempotently', async () => {
    const name = uniq('life');
    const labels = { app: 'life', 'example.com/tier': 'back' };
    const annotations = { 'example.com/note': 'hello, container', empty: '' };
    // the trap makes PID 1 honour SIGTERM
    const command = ['sh', '-c', 'trap "exit 0" TERM; echo ready; sleep 100000 & wait'];
    const before = Date.now();
    const containerId = await createContainer(pod, { name, attempt: 2, command, labels, annotations });

    const created = await status(containerId);
    expect(created.id).toBe(containerId);
    expect(created.state).toBe(State.CREATED);
    expect(created.metadata).toMatchObject({ name, attempt: 2 });
    expect(ns(created.createdAt)).toBeGreaterThanOrEqual(BigInt(before - 1000) * 1_000_000n);
    expect(ns(created.startedAt)).toBe(0n);
    expect(ns(created.finishedAt)).toBe(0n);
    expect(created.image?.image).toBe(BUSYBOX);
    expect(created.imageRef).toMatch(/^sha256:[0-9a-f]{64}$|@sha256:[0-9a-f]{64}$/);
    expect({ ...created.labels }).toEqual({ [TEST_LABEL]: run, ...labels });
    expect({ ...created.annotations }).toEqual(annotations);
    expect(created.logPath).toBe(join(pod.config.logDirectory, name, '0.log'));
    expect(created.reason ?? '').toBe('');

    const c = await inspect(containerId);
    const meta = pod.config.metadata;
    expect(c.Name).toBe(`/k8s_${name}_${meta.name}_${meta.namespace}_${meta.uid}_2`);
    expect(c.Config.Labels).toMatchObject({
      'io.kubernetes.docker.type': 'container',
      'io.kubernetes.sandbox.id': pod.sandboxId,
      'io.kubernetes.container.logpath': join(pod.config.logDirectory, name, '0.log'),
      app: 'life',
      'example.com/tier': 'back',
      'annotation.example.com/note': 'hello, container',
      'annotation.empty': '',
    });
    expect(c.HostConfig.NetworkMode).toBe(`container:${pod.sandboxId}`);

    await cri.runtime.StartContainer({ containerId });
    const running = await status(containerId);
    expect(running.state).toBe(State.RUNNING);
    expect(ns(running.startedAt)).toBeGreaterThanOrEqual(ns(running.createdAt));
    expect(ns(running.finishedAt)).toBe(0n);
    expect(await logHas(created.logPath ?? '', (lines) => reassemble(lines, 'stdout').startsWith('ready\n'))).toBe(true);

    // the script exits 0 on SIGTERM; a container killed after the 10 s would show 137
    await cri.runtime.StopContainer({ containerId, timeout: 10 });
    const stopped = await status(containerId);
    expect(stopped.state).toBe(State.EXITED);
    expect(stopped.exitCode).toBe(0);
    expect(stopped.reason).toBe('Completed');
    expect(ns(stopped.finishedAt)).toBeGreaterThanOrEqual(ns(stopped.startedAt));

    await cri.runtime.StopContainer({ containerId, timeout: 10 });
    expect((await status(containerId)).state).toBe(State.EXITED);

    await cri.runtime.RemoveContainer({ containerId });
    expect(await containersWith({ id: containerId })).toEqual([]);
    await cri.runtime.RemoveContainer({ containerId });
    expect((await grpcError(cri.runtime.ContainerStatus({ containerId }))).code).toBe(Code.NOT_FOUND);
    expect(await readFile(created.logPath ?? '').catch((err: NodeJS.ErrnoException) => err.code)).toBe('ENOENT');
  });

  it('kills at once with timeout 0: EXITED with exit code 137 and reason Error', async () => {
    // sleep as PID 1 has no SIGTERM handler, so only SIGKILL ends it
    const containerId = await runContainer(pod, { command: ['sleep', '100000'] });
    expect((await status(containerId)).state).toBe(State.RUNNING);
    await cri.runtime.StopContainer({ containerId, timeout: 0 });
    const s = await status(containerId);
    expect(s.state).toBe(State.EXITED);
    expect(s.exitCode).toBe(137);
    expect(s.reason).toBe('Error');
    expect(ns(s.finishedAt)).toBeGreaterThan(0n);
    await cri.runtime.RemoveContainer({ containerId });
  });

  it('reports a container that exits by itself with its exit code: 0 Completed, 3 Error', async () => {
    const ok = await runContainer(pod, { command: ['sh', '-c', 'exit 0'] });
    const failed = await runContainer(pod, { command: ['sh', '-c', 'echo bye >&2; exit 3'] });
    const okStatus = await exited(ok);
    expect([okStatus.exitCode, okStatus.reason]).toEqual([0, 'Completed']);
    const failedStatus = await exited(failed);
    expect([failedStatus.exitCode, failedStatus.reason]).toEqual([3, 'Error']);
    expect(ns(failedStatus.finishedAt)).toBeGreaterThanOrEqual(ns(failedStatus.startedAt));
    // stopping what already exited is success and changes nothing
    await cri.runtime.StopContainer({ containerId: failed, timeout: 10 });
    expect((await status(failed)).exitCode).toBe(3);
  });

  it('makes each container of the image a tag names now: after docker tag moves it, and not after RemoveImage', async () => {
    const tag = `dockercri-test/retag-${run}:latest`;
    const imageOf = async (containerId: string): Promise<string> => (await docker('inspect', '-f', '{{.Image}}', containerId)).trim();
    const busyboxId = (await docker('image', 'inspect', '-f', '{{.Id}}', BUSYBOX)).trim();
    const entrypointId = (await docker('image', 'inspect', '-f', '{{.Id}}', ENTRYPOINT_IMAGE)).trim();
    await docker('tag', BUSYBOX, tag);
    try {
      expect(await imageOf(await createContainer(pod, { image: tag }))).toBe(busyboxId);
      expect(await imageOf(await createContainer(pod, { image: tag }))).toBe(busyboxId);
      // moved outside dockercri: Docker's image event reaches dockercri a moment later
      await docker('tag', ENTRYPOINT_IMAGE, tag);
      let last = '';
      expect(await eventually(async () => (last = await imageOf(await createContainer(pod, { image: tag }))) === entrypointId, 20), `made from ${last}`).toBe(true);
      // removed through dockercri: known before RemoveImage answers
      await cri.images.RemoveImage({ image: { image: tag } });
      const err = await grpcError(cri.runtime.CreateContainer({ podSandboxId: pod.sandboxId, config: containerConfig({ image: tag }), sandboxConfig: pod.config }));
      expect(err.code).toBe(Code.NOT_FOUND);
    } finally {
      await docker('rmi', tag).catch(() => undefined);
    }
  });

  it('answers NOT_FOUND for Start and Status of an unknown container, success for Stop and Remove', async () => {
    const containerId = 'f'.repeat(64);
    expect((await grpcError(cri.runtime.StartContainer({ containerId }))).code).toBe(Code.NOT_FOUND);
    expect((await grpcError(cri.runtime.ContainerStatus({ containerId }))).code).toBe(Code.NOT_FOUND);
    await cri.runtime.StopContainer({ containerId, timeout: 1 });
    await cri.runtime.RemoveContainer({ containerId });
    // a bad request is still refused, known id or not
    expect((await grpcError(cri.runtime.StopContainer({ containerId, timeout: -1 }))).code).toBe(Code.INVALID_ARGUMENT);
    expect((await grpcError(cri.runtime.StopContainer({ containerId: '', timeout: 1 }))).code).toBe(Code.INVALID_ARGUMENT);
  });
});

describe('ListContainers and StreamContainers', () => {
  const group = uniq('g');
  let podA: Pod;
  let podB: Pod;
  let running1: string;
  let created2: string;
  let running3: string;

  beforeAll(async () => {
    [podA, podB] = await Promise.all([runPod(), runPod()]);
    [running1, created2, running3] = await Promise.all([
      runContainer(podA, { labels: { group, tier: 'one' }, annotations: { note: 'a' } }),
      createContainer(podA, { labels: { group, tier: 'two' } }),
      runContainer(podB, { labels: { group, tier: 'one' } }),
    ]);
  });

  it('lists by label selector with each container described as CRI says', async () => {
    const all = await list({ labelSelector: { group } });
    expect(ids(all)).toEqual([running1, created2, running3].sort());
    const one = all.find((c) => c.id === running1)!;
    expect(one.podSandboxId).toBe(podA.sandboxId);
    expect(one.state).toBe(State.RUNNING);
    expect(one.image?.image).toBe(BUSYBOX);
    // kubelet's image GC matches this against ListImages' ids
    const busyboxId = (await cri.images.ImageStatus({ image: { image: BUSYBOX } })).image?.id;
    expect(one.imageRef).toBe(busyboxId);
    expect({ ...one.labels }).toEqual({ [TEST_LABEL]: run, group, tier: 'one' });
    expect({ ...one.annotations }).toEqual({ note: 'a' });
    expect(ns(one.createdAt)).toBeGreaterThan(0n);
    expect(all.find((c) => c.id === created2)!.state).toBe(State.CREATED);
    expect(ids(await list({ labelSelector: { group, tier: 'one' } }))).toEqual([running1, running3].sort());
    expect(await list({ labelSelector: { group, tier: 'three' } })).toEqual([]);
  });

  it('filters by ID, unique ID prefix, state and sandbox ID, alone and together', async () => {
    expect(ids(await list({ id: running1 }))).toEqual([running1]);
    const everyone = ((await cri.runtime.ListContainers({})).containers ?? []).map((c) => c.id ?? '');
    expect(everyone).toEqual(expect.arrayContaining([running1, created2, running3]));
    expect(ids(await list({ id: uniquePrefix(running1, everyone) }))).toEqual([running1]);
    expect(ids(await list({ labelSelector: { group }, state: { state: State.RUNNING } }))).toEqual([running1, running3].sort());
    expect(ids(await list({ labelSelector: { group }, state: { state: State.CREATED } }))).toEqual([created2]);
    expect(ids(await list({ labelSelector: { group }, state: { state: State.EXITED } }))).toEqual([]);
    expect(ids(await list({ podSandboxId: podA.sandboxId }))).toEqual([running1, created2].sort());
    expect(ids(await list({ podSandboxId: podB.sandboxId }))).toEqual([running3]);
    expect(ids(await list({ podSandboxId: podA.sandboxId, state: { state: State.RUNNING } }))).toEqual([running1]);
    expect(ids(await list({ id: running3, podSandboxId: podA.sandboxId }))).toEqual([]);
    expect(await list({ id: 'f'.repeat(64) })).toEqual([]);
  });

  it('streams what it lists', async () => {
    for (const filter of [{ labelSelector: { group } }, { podSandboxId: podA.sandboxId }, { labelSelector: { group }, state: { state: State.RUNNING } }]) {
      const messages = (await cri.runtime.StreamContainers({ filter })) as runtime.v1.IStreamContainersResponse[];
      const streamed = messages.flatMap((m) => m.containers ?? []);
      expect(ids(streamed)).toEqual(ids(await list(filter)));
    }
  });

  it('forgets the containers of a removed pod', async () => {
    await removePod(podB.sandboxId);
    expect(await list({ podSandboxId: podB.sandboxId })).toEqual([]);
    expect(await containersWith({ id: running3 })).toEqual([]);
    expect(ids(await list({ labelSelector: { group } }))).toEqual([running1, created2].sort());
  });
});

describe('inside the container', () => {
  let pod: Pod;
  beforeAll(async () => {
    pod = await runPod();
  });

  it('has the environment, bytes values included, and the working directory it was given', async () => {
    const containerId = await runContainer(pod, {
      envs: [
        { key: 'GREETING', value: Buffer.from('hello world') },
        { key: 'EMPTY', value: Buffer.from('') },
        { key: 'UNICODE', value: Buffer.from('grüße=€') },
      ],
      workingDir: '/work/dir',
    });
    const env = (await execOk(containerId, 'env')).split('\n');
    expect(env).toEqual(expect.arrayContaining(['GREETING=hello world', 'EMPTY=', 'UNICODE=grüße=€', 'PATH=/bin:/usr/bin:/sbin:/usr/sbin']));
    // the main process too, not only exec'd ones
    const environ = (await execOk(containerId, 'cat', '/proc/1/environ')).split('\0');
    expect(environ).toEqual(expect.arrayContaining(['GREETING=hello world', 'UNICODE=grüße=€']));
    expect((await execOk(containerId, 'pwd')).trim()).toBe('/work/dir');
    expect(await execOk(containerId, 'readlink', '/proc/1/cwd')).toBe('/work/dir\n');
  });

  it("runs command and args over the image's ENTRYPOINT and CMD as CRI says", async () => {
    const cases: Array<{ o: ContainerOptions; out: string }> = [
      { o: { command: [], args: [] }, out: 'entrypoint image-cmd' },
      { o: { command: ['echo', 'command-only'], args: [] }, out: 'command-only' },
      { o: { command: [], args: ['args', 'only'] }, out: 'entrypoint args only' },
      { o: { command: ['echo', 'command'], args: ['and', 'args'] }, out: 'command and args' },
    ];
    const started = await Promise.all(cases.map(async (c) => ({ ...c, containerId: await runContainer(pod, { image: ENTRYPOINT_IMAGE, ...c.o }) })));
    for (const c of started) {
      const s = await exited(c.containerId);
      expect(s.exitCode).toBe(0);
      // the first line only: see the logs tests for why another dockercri may write the log a second time
      const printed = async (): Promise<string> => (await readLog(s.logPath ?? '')).find((l) => l.stream === 'stdout')?.content ?? '';
      expect(await eventually(async () => (await printed()) === c.out), `${JSON.stringify(c.o)} prints ${JSON.stringify(c.out)}, not ${JSON.stringify(await printed())}`).toBe(true);
    }
  });

  it('runs as run_as_user, run_as_group and supplemental groups, as status.user says', async () => {
    const containerId = await runContainer(pod, {
      linux: { securityContext: { runAsUser: { value: 1234 }, runAsGroup: { value: 5678 }, supplementalGroups: [4000, 4001] } },
    });
    expect((await execOk(containerId, 'id', '-u')).trim()).toBe('1234');
    expect((await execOk(containerId, 'id', '-g')).trim()).toBe('5678');
    expect((await execOk(containerId, 'id', '-G')).trim().split(' ').sort()).toEqual(['4000', '4001', '5678']);
    expect(await procStatus(containerId, '1', 'Uid')).toMatch(/^1234\s/);
    // Docker (as containerd) lists the primary group among the supplementary ones too
    expect((await procStatus(containerId, '1', 'Groups')).split(/\s+/).sort()).toEqual(['4000', '4001', '5678']);
    const user = (await status(containerId)).user?.linux;
    expect(ns(user?.uid)).toBe(1234n);
    expect(ns(user?.gid)).toBe(5678n);
    expect((user?.supplementalGroups ?? []).map((g) => String(g)).sort()).toEqual(['4000', '4001', '5678']);
  });

  it('reports the identity the first process started with, not the one it later changes to', async () => {
    // root at first; two seconds on, the same process (pid 1) becomes nobody
    const containerId = await runContainer(pod, { command: ['sh', '-c', 'sleep 2; exec su -s /bin/sh nobody -c "exec sleep 3600"'] });
    expect(ns((await status(containerId)).user?.linux?.uid)).toBe(0n);
    expect(await eventually(async () => /^65534\s/.test(await procStatus(containerId, '1', 'Uid')))).toBe(true);
    const user = (await status(containerId)).user?.linux;
    expect(ns(user?.uid)).toBe(0n);
    expect(ns(user?.gid)).toBe(0n);
  });

  it("runs as the image's USER (uid 1000, or the name www) when the security context names none", async () => {
    const byUid = await runContainer(pod, { image: BUSYBOX_USER });
    const byName = await runContainer(pod, { image: BUSYBOX_USERNAME });
    for (const containerId of [byUid, byName]) {
      expect((await execOk(containerId, 'id', '-u')).trim()).toBe('1000');
      expect(ns((await status(containerId)).user?.linux?.uid)).toBe(1000n);
    }
    expect(ns((await status(byName)).user?.linux?.gid)).toBe(1000n);
    // a created container's user comes from its config, numeric only
    const createdOnly = await createContainer(pod, { image: BUSYBOX_USER });
    expect(ns((await status(createdOnly)).user?.linux?.uid)).toBe(1000n);
  });

  it('has exactly NET_BIND_SERVICE after drop ALL and add NET_BIND_SERVICE; Docker defaults otherwise', async () => {
    const containerId = await runContainer(pod, { linux: { securityContext: { capabilities: { dropCapabilities: ['ALL'], addCapabilities: ['NET_BIND_SERVICE'] } } } });
    // CAP_NET_BIND_SERVICE is bit 10
    expect(await procStatus(containerId, '1', 'CapEff')).toBe('0000000000000400');
    expect(await procStatus(containerId, '1', 'CapBnd')).toBe('0000000000000400');
    expect(await procStatus(containerId, 'self', 'CapEff')).toBe('0000000000000400');
    const plain = await runContainer(pod);
    // Docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
    expect(await procStatus(plain, '1', 'CapEff')).toBe('00000000a80425fb');
  });

  it('has a read-only root filesystem when asked', async () => {
    const containerId = await runContainer(pod, { linux: { securityContext: { readonlyRootfs: true } } });
    const touched = await exec(containerId, ['touch', '/x']);
    expect(touched.exitCode).not.toBe(0);
    expect(touched.stderr).toMatch(/Read-only file system/);
    const plain = await runContainer(pod);
    expect((await exec(plain, ['touch', '/x'])).exitCode).toBe(0);
  });

  it('sets no_new_privs when asked', async () => {
    const containerId = await runContainer(pod, { linux: { securityContext: { noNewPrivs: true } } });
    expect(await procStatus(containerId, '1', 'NoNewPrivs')).toBe('1');
    expect(await procStatus(containerId, 'self', 'NoNewPrivs')).toBe('1');
    const plain = await runContainer(pod);
    expect(await procStatus(plain, '1', 'NoNewPrivs')).toBe('0');
  });

  it('masks and write-protects the paths it is given', async () => {
    // this host's kernel has no /proc/kcore (runc skips a masked path that does not exist): /proc/timer_list stands in
    const containerId = await runContainer(pod, { linux: { securityContext: { maskedPaths: ['/proc/timer_list', '/etc/group', '/home'], readonlyPaths: ['/var'] } } });
    // masked files read empty (/dev/null over them), masked directories are an empty read-only tmpfs
    expect(await execOk(containerId, 'wc', '-c', '/proc/timer_list')).toMatch(/^0 /);
    expect(await execOk(containerId, 'cat', '/etc/group')).toBe('');
    expect(await execOk(containerId, 'ls', '-A', '/home')).toBe('');
    expect((await exec(containerId, ['mkdir', '/home/x'])).exitCode).not.toBe(0);
    const touched = await exec(containerId, ['touch', '/var/x']);
    expect(touched.exitCode).not.toBe(0);
    expect(touched.stderr).toMatch(/Read-only file system/);
    expect((await exec(containerId, ['touch', '/x'])).exitCode).toBe(0);
    const plain = await runContainer(pod);
    expect(await execOk(plain, 'cat', '/etc/group')).toMatch(/^root:x:0:/);
    expect((await exec(plain, ['touch', '/var/x'])).exitCode).toBe(0);
  });

  it('blocks unshare(2) under seccomp RuntimeDefault (field and deprecated path), not when Unconfined', async () => {
    const byField = await runContainer(pod, { linux: { securityContext: { seccomp: { profileType: Profile.RuntimeDefault } } } });
    const byPath = await runContainer(pod, { linux: { securityContext: { seccompProfilePath: 'runtime/default' } } });
    const unconfined = await runContainer(pod, { linux: { securityContext: { seccomp: { profileType: Profile.Unconfined } } } });
    for (const containerId of [byField, byPath]) {
      expect(await procStatus(containerId, '1', 'Seccomp')).toBe('2');
      const r = await exec(containerId, ['unshare', '-U', 'true']);
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(/Operation not permitted/);
    }
    expect(await procStatus(unconfined, '1', 'Seccomp')).toBe('0');
    expect(await exec(unconfined, ['unshare', '-U', 'true'])).toMatchObject({ exitCode: 0, stderr: '' });
  });

  it("shows its CPU and memory limits in its cgroup files, and UpdateContainerResources' new ones", async () => {
    const cg = (ctl: string, file: string): string => `/sys/fs/cgroup/${ctl}/${file}`;
    const files = [cg('memory', 'memory.limit_in_bytes'), cg('memory', 'memory.memsw.limit_in_bytes'), cg('cpu', 'cpu.cfs_period_us'), cg('cpu', 'cpu.cfs_quota_us'), cg('cpu', 'cpu.shares'), cg('cpuset', 'cpuset.cpus')];
    const read = async (containerId: string): Promise<string[]> => (await execOk(containerId, 'cat', ...files)).trim().split('\n');
    const reported = async (containerId: string): Promise<unknown[]> => {
      const r = (await status(containerId)).resources?.linux;
      return [ns(r?.memoryLimitInBytes), ns(r?.cpuPeriod), ns(r?.cpuQuota), ns(r?.cpuShares), r?.cpusetCpus];
    };
    const containerId = await runContainer(pod, {
      linux: { resources: { cpuPeriod: 100_000, cpuQuota: 20_000, cpuShares: 256, memoryLimitInBytes: 64 * MiB, cpusetCpus: '0' } },
    });
    // memsw: no swap beyond the memory limit unless asked for
    expect(await read(containerId)).toEqual([String(64 * MiB), String(64 * MiB), '100000', '20000', '256', '0']);
    expect(await reported(containerId)).toEqual([BigInt(64 * MiB), 100_000n, 20_000n, 256n, '0']);

    const allCpus = Number((await sh('nproc')).trim()) > 1 ? '0-1' : '0';
    await cri.runtime.UpdateContainerResources({
      containerId,
      linux: { cpuPeriod: 100_000, cpuQuota: 50_000, cpuShares: 512, memoryLimitInBytes: 128 * MiB, cpusetCpus: allCpus },
    });
    expect(await read(containerId)).toEqual([String(128 * MiB), String(128 * MiB), '100000', '50000', '512', allCpus]);
    expect(await reported(containerId)).toEqual([BigInt(128 * MiB), 100_000n, 50_000n, 512n, allCpus]);
  });

  it('is killed for memory past its limit and reports OOMKilled', async () => {
    // tail buffers a "line" of /dev/zero that never ends
    const containerId = await runContainer(pod, { command: ['tail', '/dev/zero'], linux: { resources: { memoryLimitInBytes: 32 * MiB } } });
    const s = await exited(containerId);
    expect(s.reason).toBe('OOMKilled');
    expect(s.exitCode).toBe(137);
  });
});

describe('PID namespace', () => {
  it("sees the pod's pause process in POD mode and only its own processes in CONTAINER mode", async () => {
    const shared = await runPod({ pid: NS.POD });
    const own = await runPod({ pid: NS.CONTAINER });
    const inPod = await runContainer(shared, { pid: NS.POD });
    const alone = await runContainer(own, { pid: NS.CONTAINER });
    const psPod = await execOk(inPod, 'ps', '-o', 'pid,args');
    expect(psPod).toMatch(/^\s*1\s+\/pause\s*$/m);
    expect(psPod).toMatch(/sleep 100000/);
    const psAlone = await execOk(alone, 'ps', '-o', 'pid,args');
    expect(psAlone).not.toMatch(/pause/);
    expect(psAlone).toMatch(/^\s*1\s+sleep 100000\s*$/m);
    const pids = (await execOk(alone, 'ls', '/proc')).split(/\s+/).filter((p) => /^\d+$/.test(p));
    // sleep (1) and ls itself; the exec may also hold a short-lived init
    expect(pids.length).toBeLessThanOrEqual(3);
    await Promise.all([removePod(shared.sandboxId), removePod(own.sandboxId)]);
  });
});

describe('mount propagation', () => {
  let pod: Pod;
  /** A bind mount of a temp dir onto itself, made rshared: the host's / here is a private mount. */
  let shared: string;

  beforeAll(async () => {
    pod = await runPod();
    shared = join(tmp, 'shared');
    for (const d of ['private', 'slave', 'bidi']) await mkdir(join(shared, d), { recursive: true });
    await sh('mount', '--bind', shared, shared);
    await sh('mount', '--make-rshared', shared);
  });

  afterAll(async () => {
    await removePod(pod.sandboxId).catch(() => undefined);
    await sh('umount', '-R', '-l', shared).catch(() => undefined);
  });

  it('reports PRIVATE, HOST_TO_CONTAINER and BIDIRECTIONAL mounts in the status and they propagate so', async () => {
    const containerId = await runContainer(pod, {
      mounts: [
        { containerPath: '/m/private', hostPath: join(shared, 'private'), propagation: Propagation.PRIVATE },
        { containerPath: '/m/slave', hostPath: join(shared, 'slave'), propagation: Propagation.HOST_TO_CONTAINER },
        { containerPath: '/m/bidi', hostPath: join(shared, 'bidi'), propagation: Propagation.BIDIRECTIONAL },
        { containerPath: '/m/ro', hostPath: join(shared, 'private'), readonly: true },
      ],
      // mounting from inside the container needs CAP_SYS_ADMIN
      linux: { securityContext: { capabilities: { addCapabilities: ['SYS_ADMIN'] } } },
    });
    const mounts = ((await status(containerId)).mounts ?? []).map((m) => [m.containerPath, m.hostPath, m.propagation ?? 0, m.readonly ?? false]);
    expect(mounts.sort()).toEqual(
      [
        ['/m/private', join(shared, 'private'), Propagation.PRIVATE, false],
        ['/m/slave', join(shared, 'slave'), Propagation.HOST_TO_CONTAINER, false],
        ['/m/bidi', join(shared, 'bidi'), Propagation.BIDIRECTIONAL, false],
        ['/m/ro', join(shared, 'private'), Propagation.PRIVATE, true],
      ].sort(),
    );

    // host → container: a tmpfs mounted on the host after the start
    for (const d of ['private', 'slave']) {
      await mkdir(join(shared, d, 'sub'));
      await sh('mount', '-t', 'tmpfs', `dcri-${d}`, join(shared, d, 'sub'));
      await writeFile(join(shared, d, 'sub', 'f'), `from-host-${d}`);
    }
    expect(await execOk(containerId, 'cat', '/m/slave/sub/f')).toBe('from-host-slave');
    expect((await exec(containerId, ['cat', '/m/private/sub/f'])).exitCode).not.toBe(0);

    // container → host: only the bidirectional mount carries it back
    await execOk(containerId, 'sh', '-c', 'mkdir -p /m/bidi/csub && mount -t tmpfs dcri-bidi /m/bidi/csub && echo from-container > /m/bidi/csub/f');
    expect(await readFile(join(shared, 'bidi', 'csub', 'f'), 'utf8')).toBe('from-container\n');
    await execOk(containerId, 'sh', '-c', 'mkdir -p /m/slave/csub && mount -t tmpfs dcri-slave /m/slave/csub && echo x > /m/slave/csub/f');
    expect(await readFile(join(shared, 'slave', 'csub', 'f'), 'utf8').catch((err: NodeJS.ErrnoException) => err.code)).toBe('ENOENT');
    const ro = await exec(containerId, ['touch', '/m/ro/x']);
    expect(ro.exitCode).not.toBe(0);
  });

  it('fails clearly for HOST_TO_CONTAINER and BIDIRECTIONAL from a source that is not a shared mount', async () => {
    const source = join(tmp, 'not-shared');
    await mkdir(source, { recursive: true });
    for (const propagation of [Propagation.HOST_TO_CONTAINER, Propagation.BIDIRECTIONAL]) {
      const err = await grpcError(runContainer(pod, { mounts: [{ containerPath: '/m', hostPath: source, propagation }] }));
      expect(err.details).toMatch(/not a shared( or slave)? mount/);
    }
  });
});

/**
 * Every dockercri follows, from its start, the log of every running CRI container of its engine, so
 * a dockercri that another test file starts on the shared engine while a container of this file
 * logs writes that container's lines a second time. The log tests therefore run on a private
 * engine of their own (in a network namespace of its own, so the pod takes the host network).
 */
describe('logs', () => {
  let pod: Pod;
  let engine: PrivateEngine;
  let sharedCri: Dockercri;
  beforeAll(async () => {
    engine = await PrivateEngine.create();
    await engine.loadImages(BUSYBOX, testEnv().pauseImage);
    sharedCri = cri;
    cri = await start(engine);
    pod = await runPod({ network: NS.NODE });
  });

  afterAll(async () => {
    if (sharedCri) {
      if (pod) await removePod(pod.sandboxId).catch(() => undefined);
      if (cri !== sharedCri) await cri.stop();
      cri = sharedCri;
    }
    await engine?.cleanup();
  });

  it('writes stdout and stderr in the CRI format; a line over 16 KiB becomes P parts and a final F', async () => {
    // a line of 8-byte numbered fields, so any loss or reordering shows
    const fields = 5000;
    const long = Array.from({ length: fields }, (_, i) => `${String(i).padStart(7, '0')},`).join('');
    const script = `echo out-1; echo err-1 >&2; awk 'BEGIN{for(i=0;i<${fields};i++) printf "%07d,", i; print ""}'; echo out-2; echo; echo err-2 >&2`;
    const containerId = await runContainer(pod, { command: ['sh', '-c', script] });
    const s = await exited(containerId);
    expect(s.logPath).toBe(join(pod.config.logDirectory, `${s.metadata?.name}/0.log`));
    const expected = `out-1\n${long}\nout-2\n\n`;
    expect(await logHas(s.logPath ?? '', (lines) => reassemble(lines, 'stdout') === expected && reassemble(lines, 'stderr') === 'err-1\nerr-2\n')).toBe(true);
    const lines = await readLog(s.logPath ?? '');
    const longParts = lines.filter((l) => l.stream === 'stdout').slice(1, -2);
    expect(longParts.length).toBeGreaterThanOrEqual(3);
    expect(longParts.slice(0, -1).every((l) => l.tag === 'P')).toBe(true);
    expect(longParts.at(-1)?.tag).toBe('F');
    expect(longParts.map((l) => l.content).join('')).toBe(long);
    for (const l of longParts) expect(l.content.length).toBeLessThanOrEqual(16 * 1024);
    expect(lines.filter((l) => l.stream === 'stderr').map((l) => [l.tag, l.content])).toEqual([
      ['F', 'err-1'],
      ['F', 'err-2'],
    ]);
  });

  it('ReopenContainerLog after kubelet renamed the file: old and new files hold each line exactly once', async () => {
    const count = 300;
    const containerId = await runContainer(pod, { command: ['sh', '-c', counterScript(count)] });
    const logPath = (await status(containerId)).logPath ?? '';
    expect(await logHas(logPath, (lines) => counters(lines).length >= 40)).toBe(true);
    await rename(logPath, `${logPath}.1`);
    await cri.runtime.ReopenContainerLog({ containerId });
    const s = await exited(containerId);
    expect(s.exitCode).toBe(0);
    expect(await logHas(logPath, (lines) => counters(lines).at(-1) === count - 1)).toBe(true);
    const old = counters(await readLog(`${logPath}.1`));
    const fresh = counters(await readLog(logPath));
    expect(old.length).toBeGreaterThanOrEqual(40);
    expect(fresh.length).toBeGreaterThan(0);
    expect([...old, ...fresh]).toEqual(range(count));
  });

  it('ReopenContainerLog of a stopped container is FAILED_PRECONDITION, of an unknown one NOT_FOUND', async () => {
    const containerId = await runContainer(pod, { command: ['true'] });
    await exited(containerId);
    expect((await grpcError(cri.runtime.ReopenContainerLog({ containerId }))).code).toBe(Code.FAILED_PRECONDITION);
    expect((await grpcError(cri.runtime.ReopenContainerLog({ containerId: 'f'.repeat(64) }))).code).toBe(Code.NOT_FOUND);
  });

  it('loses and doubles no line when dockercri is killed (-9) and restarted while a container logs', async () => {
    const count = 300;
    const containerId = await runContainer(pod, { command: ['sh', '-c', counterScript(count)] });
    const logPath = (await status(containerId)).logPath ?? '';
    expect(await logHas(logPath, (lines) => counters(lines).length >= 40)).toBe(true);
    expect(await cri.stop('SIGKILL')).toBe('SIGKILL');
    // the container keeps printing into Docker's log while no dockercri runs
    await sleep(1000);
    cri = await start(engine);
    expect((await status(containerId)).state).toBe(State.RUNNING);
    const s = await exited(containerId);
    expect(s.exitCode).toBe(0);
    expect(await logHas(logPath, (lines) => counters(lines).at(-1) === count - 1)).toBe(true);
    await sleep(500);
    expect(counters(await readLog(logPath))).toEqual(range(count));
  });

  it('a second dockercri waiting to copy a log does not bring the file back once the first removed the container', async () => {
    const containerId = await runContainer(pod, { command: ['sh', '-c', 'echo ready; exec sleep 100000'] });
    const logPath = (await status(containerId)).logPath ?? '';
    expect(await logHas(logPath, (lines) => reassemble(lines, 'stdout') === 'ready\n')).toBe(true);
    // an overlapping restart: the new process finds the file's writer lock held and waits for it
    const second = await start(engine);
    try {
      const waiting = async () => second.log().split('\n').some((l) => l.includes(containerId) && l.includes('another process writes this log file'));
      expect(await eventually(waiting)).toBe(true);
      await cri.runtime.StopContainer({ containerId, timeout: 0 });
      await cri.runtime.RemoveContainer({ containerId });
      expect(await readFile(logPath).catch((err: NodeJS.ErrnoException) => err.code)).toBe('ENOENT');
      expect(await eventually(async () => (await grpcError(second.runtime.ContainerStatus({ containerId }))).code === Code.NOT_FOUND)).toBe(true);
      // the waiting copier looks again every 2 s: give it two looks at the freed lock
      await sleep(4500);
      expect(await readFile(logPath).catch((err: NodeJS.ErrnoException) => err.code)).toBe('ENOENT');
      expect(second.log()).not.toMatch(/"level":(50|60)/);
    } finally {
      await second.stop();
    }
  });
});

describe('ExecSync', () => {
  let pod: Pod;
  let containerId: string;
  beforeAll(async () => {
    pod = await runPod();
    containerId = await runContainer(pod, { command: ['sleep', '99999'] });
  });

  it('returns the exit code and stdout and stderr apart', async () => {
    expect(await exec(containerId, ['sh', '-c', 'echo out; echo err >&2'])).toEqual({ stdout: 'out\n', stderr: 'err\n', exitCode: 0 });
    expect(await exec(containerId, ['sh', '-c', 'echo failing >&2; exit 3'])).toEqual({ stdout: '', stderr: 'failing\n', exitCode: 3 });
    expect((await exec(containerId, ['no-such-binary'])).exitCode).not.toBe(0);
  });

  it('returns 1 MiB of output intact', async () => {
    const r = await cri.runtime.ExecSync({ containerId, cmd: ['sh', '-c', 'seq 1 200000 | head -c 1048576'], timeout: 30 });
    const expected = Buffer.from(range(200000).map((i) => `${i + 1}\n`).join('')).subarray(0, MiB);
    expect(r.exitCode).toBe(0);
    expect(Buffer.from(r.stdout ?? []).equals(expected)).toBe(true);
  });

  it('fails DEADLINE_EXCEEDED at its timeout and leaves no process of the command behind', async () => {
    const err = await grpcError(cri.runtime.ExecSync({ containerId, cmd: ['sleep', '100'], timeout: 1 }));
    expect(err.code).toBe(Code.DEADLINE_EXCEEDED);
    const tree = await grpcError(cri.runtime.ExecSync({ containerId, cmd: ['sh', '-c', 'sleep 101 & sleep 102; echo never'], timeout: 1 }));
    expect(tree.code).toBe(Code.DEADLINE_EXCEEDED);
    const left = async (): Promise<string[]> => (await docker('top', containerId, '-o', 'pid,args')).split('\n').filter((l) => /sleep 10[012]\b|echo never/.test(l));
    expect(await eventually(async () => (await left()).length === 0, 50), `processes left: ${(await left()).join('; ')}`).toBe(true);
    expect((await status(containerId)).state).toBe(State.RUNNING);
  });

  it('rejects a container that is not running, an unknown one and an empty command', async () => {
    const created = await createContainer(pod);
    const createdErr = await grpcError(exec(created, ['true']));
    expect(createdErr.code).toBe(Code.FAILED_PRECONDITION);
    expect(createdErr.details).toMatch(/not running/);
    const done = await runContainer(pod, { command: ['true'] });
    await exited(done);
    expect((await grpcError(exec(done, ['true']))).code).toBe(Code.FAILED_PRECONDITION);
    expect((await grpcError(exec('f'.repeat(64), ['true']))).code).toBe(Code.NOT_FOUND);
    expect((await grpcError(exec(containerId, []))).code).toBe(Code.INVALID_ARGUMENT);
  });
});

describe('bad input', () => {
  let pod: Pod;
  beforeAll(async () => {
    pod = await runPod();
  });

  /** Sends a CreateContainer that must fail; checks that no container of its name exists afterwards. */
  async function rejected(request: Record<string, unknown>, name: string): Promise<{ code: number; details: string }> {
    const err = await grpcError(cri.runtime.CreateContainer(request));
    expect(await containersWith({ name })).toEqual([]);
    return err;
  }

  const request = (o: ContainerOptions & { config?: Record<string, unknown> }): { request: Record<string, unknown>; name: string } => {
    const config = { ...containerConfig(o), ...(o.config ?? {}) };
    return { request: { podSandboxId: pod.sandboxId, config, sandboxConfig: pod.config }, name: config.metadata.name };
  };

  it('an unknown sandbox is NOT_FOUND', async () => {
    const { request: r, name } = request({});
    const err = await rejected({ ...r, podSandboxId: 'f'.repeat(64) }, name);
    expect(err.code).toBe(Code.NOT_FOUND);
    expect(err.details).toMatch(/sandbox/);
  });

  it('an image not on the node is NOT_FOUND, saying to pull it', async () => {
    const { request: r, name } = request({ image: `dockercri-test/no-such-image-${run}:latest` });
    const err = await rejected(r, name);
    expect(err.code).toBe(Code.NOT_FOUND);
    expect(err.details).toMatch(/pull/);
  });

  it('an absolute log path or one with ".." is INVALID_ARGUMENT', async () => {
    for (const logPath of ['/var/log/x.log', '../x.log', 'a/../../x.log']) {
      const { request: r, name } = request({ logPath });
      expect((await rejected(r, name)).code, logPath).toBe(Code.INVALID_ARGUMENT);
    }
  });

  it('a host path that escapes with ".." or is relative is INVALID_ARGUMENT', async () => {
    for (const hostPath of [`${tmp}/../../etc`, `${tmp}/..`, 'relative/dir']) {
      const { request: r, name } = request({ mounts: [{ containerPath: '/m', hostPath }] });
      expect((await rejected(r, name)).code, hostPath).toBe(Code.INVALID_ARGUMENT);
    }
    const { request: r, name } = request({ mounts: [{ containerPath: '/m/../etc', hostPath: tmp }] });
    expect((await rejected(r, name)).code).toBe(Code.INVALID_ARGUMENT);
  });

  it('a missing config, metadata or image is INVALID_ARGUMENT', async () => {
    const { request: r, name } = request({});
    const config = r.config as Record<string, unknown>;
    expect((await rejected({ podSandboxId: pod.sandboxId, sandboxConfig: pod.config }, name)).code).toBe(Code.INVALID_ARGUMENT);
    expect((await rejected({ ...r, config: { ...config, metadata: undefined } }, name)).code).toBe(Code.INVALID_ARGUMENT);
    expect((await rejected({ ...r, config: { ...config, image: undefined } }, name)).code).toBe(Code.INVALID_ARGUMENT);
    expect((await rejected({ ...r, config: { ...config, image: { image: '' } } }, name)).code).toBe(Code.INVALID_ARGUMENT);
    expect((await rejected({ ...r, podSandboxId: '' }, name)).code).toBe(Code.INVALID_ARGUMENT);
  });

  it('left no container of this pod behind and still answers Version', async () => {
    expect(await list({ podSandboxId: pod.sandboxId })).toEqual([]);
    expect(await containersWith({ label: `io.kubernetes.sandbox.id=${pod.sandboxId}` })).toEqual([]);
    expect((await cri.runtime.Version({})).runtimeName).toBe('docker');
  });
});
