// Switching a node from cri-dockerd without draining. The test plays cri-dockerd: it creates the
// pause and app containers with the Docker API in the exact bodies cri-dockerd sends, writes its
// checkpoint files, runs the CNI plugins as cri-dockerd does through libcni and writes libcni's
// result cache, and makes cri-dockerd's log symlinks. All of it is built here by hand, not with
// dockercri's own code, so a mismatch in the product shows. Then dockercri starts on the same
// directories and must list, report, stop and remove all of it, and run new containers in it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheResults, freeSubnet, linkExists, removeNatRules } from './cni-net.js';
import { BUSYBOX, startDockercri, testEnv, uniq, type Dockercri } from './harness.js';
import { NOTREADY, NS, READY, TEST_LABEL, checkpointIds, eventually, freePort, httpGetEventually, inspect, removeRunContainers, sh } from './pods.js';
import { hostPortRules } from './sandbox-suite.js';

const PLUGINS = '/usr/lib/cni';
const tag = randomBytes(3).toString('hex');
const netName = `dcri-sw-${tag}`;
const bridge = `dcsw${tag}`;
const runId = uniq('switch');
const docker = new Docker({ socketPath: '/var/run/docker.sock' });

let dir: string;
let confDir: string;
let confBytes: Buffer;
let cacheDir: string;
let root: string;
let ipamDir: string;
let logRoot: string;
let prefix: string;

// ---------------------------------------------------------------------------------------------
// cri-dockerd's side, written from its source (core/, store/, network/cni/, libcni 1.1.2)
// ---------------------------------------------------------------------------------------------

interface Pod {
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  hostNetwork: boolean;
  ports: Array<{ containerPort: number; hostPort: number }>;
  logDirectory: string;
  sandboxId: string;
}

function newPod(hostNetwork: boolean, ports: Pod['ports'] = []): Pod {
  const name = uniq('cd').replace(/_/g, '-');
  const namespace = 'dcri-switch';
  const uid = `${randomBytes(4).toString('hex')}-${randomBytes(2).toString('hex')}-4abc-8def-${randomBytes(6).toString('hex')}`;
  return {
    name,
    namespace,
    uid,
    attempt: 0,
    // kubelet's own labels of every pod, plus the pod's labels
    labels: { 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': namespace, 'io.kubernetes.pod.uid': uid, app: 'switch', [TEST_LABEL]: runId },
    annotations: { 'kubernetes.io/config.seen': '2025-01-01T00:00:00.000000000Z', 'kubernetes.io/config.source': 'api', 'example.com/note': 'made by cri-dockerd' },
    hostNetwork,
    ports,
    logDirectory: '',
    sandboxId: '',
  };
}

/** core.makeLabels: labels as they are, annotations under "annotation.". */
function cdLabels(labels: Record<string, string>, annotations: Record<string, string>): Record<string, string> {
  const out = { ...labels };
  for (const [k, v] of Object.entries(annotations)) out[`annotation.${k}`] = v;
  return out;
}

/** runc cannot set an oom_score_adj below its caller's on this host (no CAP_SYS_RESOURCE). */
async function sandboxOomScoreAdj(): Promise<number> {
  const own = Number((await readFile('/proc/self/oom_score_adj', 'utf8')).trim());
  return Math.max(-998, own);
}

/** core.makeSandboxDockerConfig, as Docker receives it (CNI plugin: NetworkMode none). */
async function sandboxBody(pod: Pod): Promise<Docker.ContainerCreateOptions> {
  const labels = cdLabels(pod.labels, pod.annotations);
  labels['io.kubernetes.docker.type'] = 'podsandbox';
  labels['io.kubernetes.container.name'] = 'POD';
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of pod.ports) {
    if (p.hostPort === 0) continue;
    exposed[`${p.containerPort}/tcp`] = {};
    (bindings[`${p.containerPort}/tcp`] ??= []).push({ HostIp: '', HostPort: String(p.hostPort) });
  }
  return {
    name: `k8s_POD_${pod.name}_${pod.namespace}_${pod.uid}_${pod.attempt}`,
    // kubelet sends a hostname only for pods off the host network
    Hostname: pod.hostNetwork ? '' : pod.name,
    Image: testEnv().pauseImage,
    Labels: labels,
    ExposedPorts: exposed,
    HostConfig: {
      IpcMode: 'shareable',
      NetworkMode: pod.hostNetwork ? 'host' : 'none',
      PortBindings: bindings,
      OomScoreAdj: await sandboxOomScoreAdj(),
      MemorySwap: 0,
      CpuShares: 2,
      CgroupParent: '',
      SecurityOpt: ['no-new-privileges'],
    },
  };
}

/** core.CreateContainer + updateCreateConfig for a BestEffort container of the pod. */
function containerBody(pod: Pod, c: { name: string; attempt: number; script: string; logPath: string; suffix?: string }): Docker.ContainerCreateOptions {
  const labels = cdLabels(
    {
      'io.kubernetes.container.name': c.name,
      'io.kubernetes.pod.name': pod.name,
      'io.kubernetes.pod.namespace': pod.namespace,
      'io.kubernetes.pod.uid': pod.uid,
      [TEST_LABEL]: runId,
    },
    {
      'io.kubernetes.container.hash': 'ab12cd34',
      'io.kubernetes.container.restartCount': String(c.attempt),
      'io.kubernetes.container.terminationMessagePath': '/dev/termination-log',
      'io.kubernetes.container.terminationMessagePolicy': 'File',
      'io.kubernetes.pod.terminationGracePeriod': '30',
    },
  );
  labels['io.kubernetes.docker.type'] = 'container';
  labels['io.kubernetes.container.logpath'] = join(pod.logDirectory, c.logPath);
  labels['io.kubernetes.sandbox.id'] = pod.sandboxId;
  const nsMode = `container:${pod.sandboxId}`;
  const base = `k8s_${c.name}_${pod.name}_${pod.namespace}_${pod.uid}_${c.attempt}`;
  return {
    // recoverFromCreationConflictIfNeeded adds "_%08x" after a name conflict
    name: c.suffix ? `${base}_${c.suffix}` : base,
    Entrypoint: ['sh', '-c', c.script],
    Cmd: [],
    Env: ['GREETING=hello'],
    Image: BUSYBOX,
    WorkingDir: '',
    Labels: labels,
    OpenStdin: false,
    StdinOnce: false,
    Tty: false,
    Healthcheck: { Test: ['NONE'] },
    HostConfig: {
      Mounts: [],
      RestartPolicy: { Name: 'no' },
      Runtime: 'runc',
      Memory: 0,
      MemorySwap: 0,
      CpuShares: 2,
      CpuQuota: 0,
      CpuPeriod: 100000,
      OomScoreAdj: 1000,
      NetworkMode: nsMode,
      IpcMode: nsMode,
      // modifyHostOptionsForContainer: the host's UTS namespace for host-network pods
      UTSMode: pod.hostNetwork ? 'host' : '',
      CgroupParent: '',
      Devices: [],
      SecurityOpt: ['seccomp=unconfined'],
    },
  };
}

// ---- the checkpoint: core.PodSandboxCheckpoint through Go's json.Marshal, store.NewChecksum ----

/** go-spew's "%#v" of core.CheckpointData (ConfigState{Indent: " ", SortKeys, DisableMethods, SpewKeys}). */
function spewCheckpointData(ports: Array<{ protocol: string; containerPort: number; hostPort: number; hostIp: string }>, hostNetwork: boolean): string {
  const slice =
    ports.length === 0
      ? '<nil>'
      : `[${ports
          .map((p) => `<*>{Protocol:(*config.Protocol)${p.protocol} ContainerPort:(*int32)${p.containerPort} HostPort:(*int32)${p.hostPort} HostIP:(string)${p.hostIp}}`)
          .join(' ')}]`;
  return `(core.CheckpointData){PortMappings:([]*config.PortMapping)${slice} HostNetwork:(bool)${hostNetwork}}`;
}

/** hash/fnv New32a. */
function fnv32a(text: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(text, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

function checkpointFile(pod: Pod): string {
  const ports = pod.ports.map((p) => ({ protocol: 'tcp', containerPort: p.containerPort, hostPort: p.hostPort, hostIp: '' }));
  const data: Record<string, unknown> = {};
  // omitempty on every field: no port list when there are none, no host_ip when empty, no false
  if (ports.length > 0) data.port_mappings = ports.map((p) => ({ protocol: p.protocol, container_port: p.containerPort, host_port: p.hostPort }));
  if (pod.hostNetwork) data.host_network = true;
  return JSON.stringify({ version: 'v1', name: pod.name, namespace: pod.namespace, data, checksum: fnv32a(spewCheckpointData(ports, pod.hostNetwork)) });
}

/** store.FileStore.Write: a temp file in the directory, synced, renamed over the final name. */
async function writeCheckpoint(pod: Pod): Promise<void> {
  const sandboxDir = join(root, 'sandbox');
  await mkdir(sandboxDir, { recursive: true, mode: 0o755 });
  const tmp = join(sandboxDir, `.${pod.sandboxId}.tmp`);
  await writeFile(tmp, checkpointFile(pod), { mode: 0o644 });
  await rename(tmp, join(sandboxDir, pod.sandboxId));
}

// ---- CNI: libcni's AddNetworkList for cni-loopback and the node's network, and its cache ----

/** cri-dockerd's built-in loopback network, byte for byte (network/cni/cni_others.go). */
const LOOPBACK_CONF = `{
  "cniVersion": "0.2.0",
  "name": "cni-loopback",
  "plugins":[{
    "type": "loopback"
  }]
}`;

interface CniRun {
  result: Record<string, unknown>;
}

function runPlugin(type: string, env: Record<string, string>, stdin: string): Promise<CniRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(PLUGINS, type), [], { env: { ...env, PATH: process.env.PATH ?? '' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ result: out.trim() === '' ? {} : (JSON.parse(out) as Record<string, unknown>) }) : reject(new Error(`${type} exited ${code}: ${out} ${err}`))));
    child.stdin.end(stdin);
  });
}

/** Go's json.Marshal of a map[string]interface{}: keys sorted at every level. */
function goMapJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(goMapJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${goMapJson(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What cri-dockerd's TearDownPod needs later: libcni's result cache entries of one pod. */
async function criDockerdSetUpNetwork(pod: Pod, pid: number): Promise<{ ip: string; hostVeth: string }> {
  const netns = `/proc/${pid}/ns/net`;
  const args: [string, string][] = [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAMESPACE', pod.namespace],
    ['K8S_POD_NAME', pod.name],
    ['K8S_POD_INFRA_CONTAINER_ID', pod.sandboxId],
  ];
  const env = {
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: pod.sandboxId,
    CNI_NETNS: netns,
    CNI_IFNAME: 'eth0',
    CNI_ARGS: args.map(([k, v]) => `${k}=${v}`).join(';'),
    CNI_PATH: PLUGINS,
  };
  // buildCNIRuntimeConf: host ports, and the pod CIDR (empty: kubelet never set one here)
  const portMappings = pod.ports.filter((p) => p.hostPort > 0).map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: 'tcp', hostIP: '' }));
  const capabilityArgs = { portMappings, ipRanges: [[{ subnet: '' }]] };

  // cacheAdd writes cachedInfo: struct fields in order, map values with sorted keys, no netns (libcni 1.1)
  const cache = async (name: string, config: Buffer, result: Record<string, unknown>): Promise<void> => {
    const text =
      `{"kind":"cniCacheV1","containerId":${JSON.stringify(pod.sandboxId)},"config":${JSON.stringify(config.toString('base64'))},` +
      `"ifName":"eth0","networkName":${JSON.stringify(name)},"cniArgs":${JSON.stringify(args)},` +
      `"capabilityArgs":{"ipRanges":[[{"subnet":""}]],"portMappings":[${portMappings
        .map((p) => `{"hostPort":${p.hostPort},"containerPort":${p.containerPort},"protocol":"tcp","hostIP":""}`)
        .join(',')}]},"result":${goMapJson(result)}}`;
    await mkdir(join(cacheDir, 'results'), { recursive: true, mode: 0o700 });
    await writeFile(join(cacheDir, 'results', `${name}-${pod.sandboxId}-eth0`), text, { mode: 0o600 });
  };

  const lo = await runPlugin('loopback', env, JSON.stringify({ cniVersion: '0.2.0', name: 'cni-loopback', type: 'loopback' }));
  await cache('cni-loopback', Buffer.from(LOOPBACK_CONF), lo.result);

  const list = JSON.parse(confBytes.toString('utf8')) as { cniVersion: string; name: string; plugins: Array<Record<string, unknown>> };
  let prev: Record<string, unknown> | undefined;
  for (const plugin of list.plugins) {
    const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
    if (prev) conf.prevResult = prev;
    const caps = (plugin.capabilities ?? {}) as Record<string, boolean>;
    const runtimeConfig: Record<string, unknown> = {};
    for (const [cap, on] of Object.entries(caps)) if (on && cap in capabilityArgs) runtimeConfig[cap] = capabilityArgs[cap as keyof typeof capabilityArgs];
    if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
    prev = (await runPlugin(plugin.type as string, env, JSON.stringify(conf))).result;
  }
  await cache(list.name, confBytes, prev!);

  const ips = (prev!.ips ?? []) as Array<{ address: string }>;
  const interfaces = (prev!.interfaces ?? []) as Array<{ name: string; sandbox?: string }>;
  const hostVeth = interfaces.find((i) => !i.sandbox && i.name !== bridge)?.name ?? '';
  return { ip: (ips[0]?.address ?? '').split('/')[0] as string, hostVeth };
}

/** StartContainer's createContainerLogSymlink: the CRI log path links to Docker's json-file log. */
async function criDockerdLogSymlink(containerId: string, logPath: string): Promise<string> {
  const realPath = (await inspectRaw(containerId)).LogPath;
  await mkdir(dirname(logPath), { recursive: true, mode: 0o755 });
  await rm(logPath, { force: true });
  await symlink(realPath, logPath);
  return realPath;
}

const inspectRaw = (id: string): Promise<Docker.ContainerInspectInfo> => docker.getContainer(id).inspect();

/** Runs a pod's sandbox as cri-dockerd's RunPodSandbox: create, checkpoint, start, network. */
async function criDockerdRunPod(pod: Pod): Promise<{ ip: string; hostVeth: string }> {
  const { name, ...body } = await sandboxBody(pod);
  const created = await docker.createContainer({ name, ...body });
  pod.sandboxId = created.id;
  pod.logDirectory = join(logRoot, `${pod.namespace}_${pod.name}_${pod.uid}`);
  await writeCheckpoint(pod);
  await created.start();
  if (pod.hostNetwork) return { ip: '', hostVeth: '' };
  return criDockerdSetUpNetwork(pod, (await inspectRaw(pod.sandboxId)).State.Pid);
}

async function criDockerdRunContainer(pod: Pod, c: Parameters<typeof containerBody>[1]): Promise<{ id: string; dockerLog: string; logPath: string }> {
  const { name, ...body } = containerBody(pod, c);
  const created = await docker.createContainer({ name, ...body });
  await created.start();
  const logPath = join(pod.logDirectory, c.logPath);
  const dockerLog = await criDockerdLogSymlink(created.id, logPath);
  return { id: created.id, dockerLog, logPath };
}

// ---------------------------------------------------------------------------------------------
// test environment
// ---------------------------------------------------------------------------------------------


/** host-local's IP files (in the test's own data dir) that name this sandbox. */
async function storedIps(sandboxId: string): Promise<string[]> {
  const store = join(ipamDir, netName);
  const names = await readdir(store).catch(() => [] as string[]);
  const ips: string[] = [];
  for (const name of names.filter((n) => isIP(n) !== 0)) {
    if ((await readFile(join(store, name), 'utf8').catch(() => '')).includes(sandboxId)) ips.push(name);
  }
  return ips;
}




const APP_SCRIPT = `echo out-line-1; echo err-line-1 >&2; mkdir -p /www && echo served-by-app > /www/index.html && httpd -p 80 -h /www; trap 'exit 0' TERM; while true; do sleep 1; done`;
const NEW_SCRIPT = `echo from-dockercri; trap 'exit 0' TERM; while true; do sleep 1; done`;

/** Metadata as decoded: protobuf leaves a zero attempt out. */
const withAttempt = <T extends { attempt?: number | null }>(m: T | null | undefined): T & { attempt: number } => ({ ...(m as T), attempt: m?.attempt ?? 0 });

const containersOfPod = async (pod: Pod): Promise<string[]> =>
  (await docker.listContainers({ all: true, filters: { label: [`io.kubernetes.pod.uid=${pod.uid}`] } })).map((c) => c.Id);

const netnsOf = async (pid: number): Promise<string> => readlink(`/proc/${pid}/ns/net`);

describe('switching a node from cri-dockerd without draining', () => {
  let cri: Dockercri | undefined;
  const cniPod = newPod(false);
  const hostPod = newPod(true);
  // a CNI pod whose pause process died while cri-dockerd ran (its netns is gone, its IP and rules are not)
  const deadPod = newPod(false);
  let hostPort: number;
  let deadHostPort: number;
  let deadIp: string;
  let podIp: string;
  let hostVeth: string;
  let app: { id: string; dockerLog: string; logPath: string };
  let done: { id: string; dockerLog: string; logPath: string };
  let appDockerLogBefore: string;

  /** The networks dockercri logged tearing a sandbox down from. */
  const tornDownNetworks = (sandboxId: string): string[] =>
    cri!
      .log()
      .split('\n')
      .filter((l) => l.includes('"pod network torn down"') && l.includes(sandboxId))
      .flatMap((l) => (JSON.parse(l) as { networks: string[] }).networks);

  beforeAll(async () => {
    prefix = await freeSubnet();
    dir = await mkdtemp(join(tmpdir(), 'dcri-switch-'));
    confDir = join(dir, 'conf');
    cacheDir = join(dir, 'cache');
    root = join(dir, 'root');
    ipamDir = join(dir, 'ipam');
    logRoot = join(dir, 'pods');
    await mkdir(confDir);
    confBytes = Buffer.from(
      `${JSON.stringify(
        {
          cniVersion: '1.0.0',
          name: netName,
          plugins: [
            { type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: `${prefix}.0/24` }]], routes: [{ dst: '0.0.0.0/0' }] } },
            { type: 'portmap', capabilities: { portMappings: true } },
          ],
        },
        null,
        2,
      )}\n`,
    );
    await writeFile(join(confDir, '10-switch.conflist'), confBytes);

    hostPort = await freePort();
    cniPod.ports = [{ containerPort: 80, hostPort }];
    hostPod.ports = [{ containerPort: 10999, hostPort: 10999 }];
    deadHostPort = await freePort();
    deadPod.ports = [{ containerPort: 8080, hostPort: deadHostPort }];

    // cri-dockerd's node: a CNI pod with an app, a host-network pod with a container that exited
    ({ ip: podIp, hostVeth } = await criDockerdRunPod(cniPod));
    app = await criDockerdRunContainer(cniPod, { name: 'app', attempt: 0, script: APP_SCRIPT, logPath: 'app/0.log' });
    await criDockerdRunPod(hostPod);
    done = await criDockerdRunContainer(hostPod, { name: 'job', attempt: 1, script: 'echo job-done; exit 3', logPath: 'job/1.log', suffix: randomBytes(4).toString('hex') });
    await docker.getContainer(done.id).wait();
    ({ ip: deadIp } = await criDockerdRunPod(deadPod));
    await docker.getContainer(deadPod.sandboxId).kill({ signal: 'SIGKILL' });
    await docker.getContainer(deadPod.sandboxId).wait();
    // the app has written its lines and serves on the pod IP
    expect(await httpGetEventually(podIp, 80)).toBe('served-by-app\n');
    appDockerLogBefore = await readFile(app.dockerLog, 'utf8');

    // cri-dockerd stops; dockercri starts on the same root, CNI config and cache
    cri = await startDockercri({
      args: ['--network-plugin=cni', `--cni-bin-dir=${PLUGINS}`, `--cni-conf-dir=${confDir}`, `--cni-cache-dir=${cacheDir}`, `--cri-dockerd-root-directory=${root}`],
    });
  });

  afterAll(async () => {
    await cri?.stop();
    await removeRunContainers(runId);
    await removeNatRules((rule) => rule.includes(netName)).catch(() => undefined);
    await sh('ip', 'link', 'del', bridge).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the test plays cri-dockerd faithfully: its checksum routine gives what Go gave', () => {
    // values written by cri-dockerd's Go code (test/fixtures/checkpoints: no-ports, one-tcp-port)
    expect(fnv32a(spewCheckpointData([], false))).toBe(2305795928);
    expect(fnv32a(spewCheckpointData([{ protocol: 'tcp', containerPort: 80, hostPort: 8080, hostIp: '' }], false))).toBe(3712672205);
  });

  it('lists the sandboxes, READY or not, with their metadata, labels and annotations', async () => {
    const items = (await cri!.runtime.ListPodSandbox({ filter: { labelSelector: { [TEST_LABEL]: runId } } })).items ?? [];
    expect(items.map((s) => s.id).sort()).toEqual([cniPod.sandboxId, hostPod.sandboxId, deadPod.sandboxId].sort());
    for (const pod of [cniPod, hostPod, deadPod]) {
      const s = items.find((i) => i.id === pod.sandboxId)!;
      expect(s.state).toBe(pod === deadPod ? NOTREADY : READY);
      expect(withAttempt(s.metadata)).toEqual({ name: pod.name, namespace: pod.namespace, uid: pod.uid, attempt: pod.attempt });
      expect(s.labels).toEqual(pod.labels);
      expect(s.annotations).toEqual(pod.annotations);
      expect(s.runtimeHandler ?? '').toBe('');
    }
  });

  it('reports the IP the CNI plugin gave the pod, and no IP for the host-network pod', async () => {
    expect(isIP(podIp)).toBe(4);
    expect(podIp.startsWith(`${prefix}.`)).toBe(true);
    const cniStatus = (await cri!.runtime.PodSandboxStatus({ podSandboxId: cniPod.sandboxId })).status!;
    expect(cniStatus.state).toBe(READY);
    expect(cniStatus.network?.ip).toBe(podIp);
    expect(cniStatus.network?.additionalIps ?? []).toEqual([]);
    expect(cniStatus.linux?.namespaces?.options).toMatchObject({ network: NS.POD, pid: NS.CONTAINER, ipc: NS.POD });
    expect(cniStatus.labels).toEqual(cniPod.labels);
    expect(cniStatus.annotations).toEqual(cniPod.annotations);

    const hostStatus = (await cri!.runtime.PodSandboxStatus({ podSandboxId: hostPod.sandboxId })).status!;
    expect(hostStatus.state).toBe(READY);
    expect(hostStatus.network?.ip ?? '').toBe('');
    expect(hostStatus.linux?.namespaces?.options?.network).toBe(NS.NODE);
    // the checkpoints cri-dockerd wrote pass dockercri's checksum check
    for (const pod of [cniPod, hostPod]) {
      const verbose = await cri!.runtime.PodSandboxStatus({ podSandboxId: pod.sandboxId, verbose: true });
      expect(JSON.parse(verbose.info?.info ?? '{}').checkpoint).toEqual({
        version: 'v1',
        name: pod.name,
        namespace: pod.namespace,
        portMappings: pod.ports.map((p) => ({ protocol: 'tcp', containerPort: p.containerPort, hostPort: p.hostPort, hostIp: '' })),
        hostNetwork: pod.hostNetwork,
      });
    }
    expect(withAttempt(hostStatus.metadata)).toEqual({ name: hostPod.name, namespace: hostPod.namespace, uid: hostPod.uid, attempt: 0 });
  });

  it("lists the containers and reports state, log path, image, labels and annotations as cri-dockerd made them", async () => {
    const items = (await cri!.runtime.ListContainers({ filter: { labelSelector: { [TEST_LABEL]: runId } } })).containers ?? [];
    expect(items.map((c) => c.id).sort()).toEqual([app.id, done.id].sort());
    const listed = items.find((c) => c.id === app.id)!;
    expect(listed.podSandboxId).toBe(cniPod.sandboxId);
    expect(listed.state).toBe(1); // RUNNING
    expect(withAttempt(listed.metadata)).toEqual({ name: 'app', attempt: 0 });
    expect(listed.image?.image).toBe(BUSYBOX);

    const status = (await cri!.runtime.ContainerStatus({ containerId: app.id })).status!;
    expect(status.state).toBe(1);
    expect(status.logPath).toBe(join(cniPod.logDirectory, 'app/0.log'));
    expect(status.image?.image).toBe(BUSYBOX);
    expect(status.imageId).toBe((await inspectRaw(app.id)).Image);
    expect(status.labels).toEqual({
      'io.kubernetes.container.name': 'app',
      'io.kubernetes.pod.name': cniPod.name,
      'io.kubernetes.pod.namespace': cniPod.namespace,
      'io.kubernetes.pod.uid': cniPod.uid,
      [TEST_LABEL]: runId,
    });
    expect(status.annotations).toEqual({
      'io.kubernetes.container.hash': 'ab12cd34',
      'io.kubernetes.container.restartCount': '0',
      'io.kubernetes.container.terminationMessagePath': '/dev/termination-log',
      'io.kubernetes.container.terminationMessagePolicy': 'File',
      'io.kubernetes.pod.terminationGracePeriod': '30',
    });

    // the exited one, under a name cri-dockerd randomised after a conflict
    const exited = (await cri!.runtime.ContainerStatus({ containerId: done.id })).status!;
    expect(exited.state).toBe(2); // EXITED
    expect(exited.exitCode).toBe(3);
    expect(exited.reason).toBe('Error');
    expect(withAttempt(exited.metadata)).toEqual({ name: 'job', attempt: 1 });
    expect(exited.logPath).toBe(join(hostPod.logDirectory, 'job/1.log'));
    expect((await cri!.runtime.ListContainers({ filter: { podSandboxId: hostPod.sandboxId } })).containers?.map((c) => c.id)).toEqual([done.id]);
  });

  it("replaces cri-dockerd's log symlinks by CRI log files and never writes into Docker's own log", async () => {
    for (const c of [app, done]) {
      expect(await eventually(async () => !(await lstat(c.logPath)).isSymbolicLink() && (await readFile(c.logPath, 'utf8')).split('\n').length > 1)).toBe(true);
    }
    const appLog = await readFile(app.logPath, 'utf8');
    expect(appLog).toMatch(/^\S+ stdout F out-line-1$/m);
    expect(appLog).toMatch(/^\S+ stderr F err-line-1$/m);
    expect(await readFile(done.logPath, 'utf8')).toMatch(/^\S+ stdout F job-done\n$/);
    // Docker's json-file log holds what it held, JSON only
    const dockerLog = await readFile(app.dockerLog, 'utf8');
    expect(dockerLog).toBe(appDockerLogBefore);
    for (const line of dockerLog.split('\n').filter((l) => l !== '')) expect(JSON.parse(line)).toHaveProperty('log');
  });

  it('runs a container it creates in the cri-dockerd sandbox, in the pod\'s namespaces', async () => {
    const logPath = 'fresh/0.log';
    const sandboxConfig = {
      metadata: { name: cniPod.name, namespace: cniPod.namespace, uid: cniPod.uid, attempt: 0 },
      hostname: cniPod.name,
      logDirectory: cniPod.logDirectory,
      labels: cniPod.labels,
      annotations: cniPod.annotations,
      portMappings: [{ containerPort: 80, hostPort }],
      linux: { securityContext: { namespaceOptions: { network: NS.POD, pid: NS.CONTAINER, ipc: NS.POD } } },
    };
    const config = {
      metadata: { name: 'fresh', attempt: 0 },
      image: { image: BUSYBOX },
      command: ['sh', '-c', NEW_SCRIPT],
      labels: { 'io.kubernetes.container.name': 'fresh', [TEST_LABEL]: runId },
      annotations: { 'io.kubernetes.container.hash': 'ef56' },
      logPath,
      linux: { securityContext: { namespaceOptions: { network: NS.POD, pid: NS.CONTAINER, ipc: NS.POD } } },
    };
    const containerId = (await cri!.runtime.CreateContainer({ podSandboxId: cniPod.sandboxId, config, sandboxConfig })).containerId ?? '';
    expect(containerId).toMatch(/^[0-9a-f]{64}$/);
    await cri!.runtime.StartContainer({ containerId });

    const status = (await cri!.runtime.ContainerStatus({ containerId })).status!;
    expect(status.state).toBe(1);
    expect(status.logPath).toBe(join(cniPod.logDirectory, logPath));
    const fresh = await inspect(containerId);
    expect(fresh.Name).toBe(`/k8s_fresh_${cniPod.name}_${cniPod.namespace}_${cniPod.uid}_0`);
    expect(fresh.HostConfig.NetworkMode).toBe(`container:${cniPod.sandboxId}`);
    const pausePid = (await inspect(cniPod.sandboxId)).State.Pid;
    expect(await netnsOf(fresh.State.Pid)).toBe(await netnsOf(pausePid));
    // it sees the pod's IP
    const exec = await cri!.runtime.ExecSync({ containerId, cmd: ['cat', '/proc/net/fib_trie'], timeout: 10 });
    expect(exec.exitCode ?? 0).toBe(0);
    expect(Buffer.from(exec.stdout ?? []).toString('utf8')).toContain(podIp);
    expect(await eventually(async () => (await readFile(join(cniPod.logDirectory, logPath), 'utf8').catch(() => '')).includes('from-dockercri'))).toBe(true);
    expect((await cri!.runtime.ListContainers({ filter: { podSandboxId: cniPod.sandboxId } })).containers?.map((c) => c.id).sort()).toEqual([app.id, containerId].sort());
  });

  it('stops the CNI pod: containers stopped, CNI DEL run from libcni\'s cache (IP released, veth and host-port rules gone)', async () => {
    expect(await storedIps(cniPod.sandboxId)).toEqual([podIp]);
    expect(hostVeth).not.toBe('');
    expect(await linkExists(hostVeth)).toBe(true);
    expect((await hostPortRules(hostPort)).length).toBeGreaterThan(0);
    expect(await cacheResults(cacheDir, cniPod.sandboxId)).toEqual([`cni-loopback-${cniPod.sandboxId}-eth0`, `${netName}-${cniPod.sandboxId}-eth0`]);

    await cri!.runtime.StopPodSandbox({ podSandboxId: cniPod.sandboxId });

    expect(await storedIps(cniPod.sandboxId)).toEqual([]);
    expect(await readdir(join(ipamDir, netName))).not.toContain(podIp);
    expect(await linkExists(hostVeth)).toBe(false);
    expect(await hostPortRules(hostPort)).toEqual([]);
    expect((await sh('iptables-save', '-t', 'nat')).split('\n').filter((l) => l.includes(cniPod.sandboxId))).toEqual([]);
    expect(await cacheResults(cacheDir, cniPod.sandboxId)).toEqual([]);
    // the DEL went by libcni's cache (both networks it names), not by a guess from the current config
    expect(tornDownNetworks(cniPod.sandboxId)).toEqual([netName, 'cni-loopback']);
    expect(cri!.log()).not.toContain('unusable CNI cache file');

    const status = (await cri!.runtime.PodSandboxStatus({ podSandboxId: cniPod.sandboxId })).status!;
    expect(status.state).toBe(NOTREADY);
    expect(status.network?.ip ?? '').toBe('');
    const containers = (await cri!.runtime.ListContainers({ filter: { podSandboxId: cniPod.sandboxId } })).containers ?? [];
    expect(containers).toHaveLength(2);
    for (const c of containers) expect(c.state).toBe(2);
    // kubelet stops again when it is unsure; nothing is left to fail on
    await cri!.runtime.StopPodSandbox({ podSandboxId: cniPod.sandboxId });
    // the checkpoint stays until the sandbox is removed
    expect(await checkpointIds(root)).toContain(cniPod.sandboxId);
  });

  it('releases the IP and host-port rules of a pod whose pause process died under cri-dockerd', async () => {
    const status = (await cri!.runtime.PodSandboxStatus({ podSandboxId: deadPod.sandboxId })).status!;
    expect(status.state).toBe(NOTREADY);
    expect(status.network?.ip ?? '').toBe('');
    expect(await storedIps(deadPod.sandboxId)).toEqual([deadIp]);
    expect((await hostPortRules(deadHostPort)).length).toBeGreaterThan(0);

    await cri!.runtime.StopPodSandbox({ podSandboxId: deadPod.sandboxId });

    expect(await storedIps(deadPod.sandboxId)).toEqual([]);
    expect(await hostPortRules(deadHostPort)).toEqual([]);
    expect((await sh('iptables-save', '-t', 'nat')).split('\n').filter((l) => l.includes(deadPod.sandboxId))).toEqual([]);
    expect(await cacheResults(cacheDir, deadPod.sandboxId)).toEqual([]);
    expect(tornDownNetworks(deadPod.sandboxId)).toEqual([netName, 'cni-loopback']);
    await cri!.runtime.RemovePodSandbox({ podSandboxId: deadPod.sandboxId });
    expect(await checkpointIds(root)).not.toContain(deadPod.sandboxId);
    expect(await containersOfPod(deadPod)).toEqual([]);
  });

  it('removes the other pods: containers, log files and checkpoints gone, nothing left', async () => {
    await cri!.runtime.StopPodSandbox({ podSandboxId: hostPod.sandboxId });
    expect((await cri!.runtime.PodSandboxStatus({ podSandboxId: hostPod.sandboxId })).status?.state).toBe(NOTREADY);
    for (const pod of [cniPod, hostPod]) await cri!.runtime.RemovePodSandbox({ podSandboxId: pod.sandboxId });

    expect((await cri!.runtime.ListPodSandbox({ filter: { labelSelector: { [TEST_LABEL]: runId } } })).items ?? []).toEqual([]);
    expect((await cri!.runtime.ListContainers({ filter: { labelSelector: { [TEST_LABEL]: runId } } })).containers ?? []).toEqual([]);
    const left = (await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${runId}`] } })).map((c) => c.Id);
    expect(left).toEqual([]);
    expect(await checkpointIds(root)).toEqual([]);
    expect(await cacheResults(cacheDir, cniPod.sandboxId)).toEqual([]);
    expect(await cacheResults(cacheDir, hostPod.sandboxId)).toEqual([]);
    expect(await storedIps(cniPod.sandboxId)).toEqual([]);
    for (const path of [app.logPath, done.logPath, join(cniPod.logDirectory, 'fresh/0.log')]) {
      await expect(lstat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    }
    // no error logged about any of these objects (other files' containers may share this Docker)
    const ours = [cniPod.sandboxId, hostPod.sandboxId, deadPod.sandboxId, app.id, done.id];
    const errors = cri!.log().split('\n').filter((l) => /"level":(50|60)/.test(l) && ours.some((id) => l.includes(id) || l.includes(id.slice(0, 12))));
    expect(errors).toEqual([]);
  });
});
