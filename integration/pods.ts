// Helpers of the pod sandbox integration tests: pod configs, Docker CLI look-ups, checks from the
// host into a pod, and cleanup by a test-unique label. Traffic goes only to loopback and to pods
// the tests created.
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { request } from 'node:http';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BUSYBOX, uniq, type Client, type EventSubscription } from './harness.js';
import type { RuntimeServiceHandlers } from '../src/gen/services.js';

const run = promisify(execFile);

export const sh = async (cmd: string, ...args: string[]): Promise<string> => (await run(cmd, args, { maxBuffer: 16 << 20 })).stdout;
export const docker = (...args: string[]): Promise<string> => sh('docker', ...args);

/** The label every object of one test file carries, so afterAll can remove whatever is left. */
export const TEST_LABEL = 'io.dockercri.test.run';

/** NamespaceMode of the CRI. */
export const NS = { POD: 0, CONTAINER: 1, NODE: 2 } as const;
export const READY = 0;
export const NOTREADY = 1;

export interface PodOptions {
  run: string;
  name?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  hostname?: string;
  dns?: { servers?: string[]; searches?: string[]; options?: string[] };
  ports?: Array<{ protocol?: number; containerPort: number; hostPort?: number; hostIp?: string }>;
  network?: number;
  pid?: number;
}

/** A PodSandboxConfig with unique name and uid; its labels always hold the run label. */
export function podConfig(o: PodOptions): Record<string, unknown> {
  const name = o.name ?? uniq('p');
  return {
    metadata: { name, namespace: 'dcri-test', uid: uniq('uid'), attempt: 1 },
    hostname: o.hostname ?? '',
    labels: { [TEST_LABEL]: o.run, ...(o.labels ?? {}) },
    annotations: o.annotations ?? {},
    dnsConfig: o.dns,
    portMappings: o.ports ?? [],
    linux: { securityContext: { namespaceOptions: { network: o.network ?? NS.POD, pid: o.pid ?? NS.CONTAINER, ipc: NS.POD } } },
  };
}

export interface DockerInspect {
  Id: string;
  Name: string;
  State: { Pid: number; Running: boolean };
  Config: { Labels: Record<string, string>; Hostname: string };
  HostConfig: { NetworkMode: string };
}

export async function inspect(dockerId: string): Promise<DockerInspect> {
  return (JSON.parse(await docker('inspect', dockerId)) as DockerInspect[])[0] as DockerInspect;
}

/** IDs of all containers (running or not) with this ID, label (k=v) or a name containing `name`. */
export async function containersWith(filter: { id?: string; label?: string; name?: string }): Promise<string[]> {
  const args = ['ps', '-aq', '--no-trunc'];
  if (filter.id) args.push('--filter', `id=${filter.id}`);
  if (filter.label) args.push('--filter', `label=${filter.label}`);
  if (filter.name) args.push('--filter', `name=${filter.name}`);
  return (await docker(...args)).split('\n').filter((l) => l !== '');
}

/** Force-removes every container of a test run. */
export async function removeRunContainers(runId: string): Promise<void> {
  const ids = await containersWith({ label: `${TEST_LABEL}=${runId}` });
  if (ids.length > 0) await docker('rm', '-f', '-v', ...ids).catch(() => undefined);
}

/** The pod's hostname and resolv.conf, seen from inside its namespaces (pause has no shell). */
export async function podView(pid: number): Promise<{ hostname: string; resolvConf: string }> {
  const hostname = (await sh('nsenter', '-t', String(pid), '-u', 'hostname')).trim();
  const resolvConf = await sh('cat', `/proc/${pid}/root/etc/resolv.conf`);
  return { hostname, resolvConf };
}

/** Starts a busybox httpd in the sandbox's network namespace answering `body` on port 80. */
export async function startHttpd(sandboxId: string, runId: string, body: string): Promise<string> {
  const script = `mkdir -p /www && echo ${body} > /www/index.html && exec httpd -f -p 80 -h /www`;
  return (await docker('run', '-d', '--label', `${TEST_LABEL}=${runId}`, '--network', `container:${sandboxId}`, BUSYBOX, 'sh', '-c', script)).trim();
}

/** One HTTP GET; resolves to the body, rejects on any failure. */
export function httpGet(host: string, port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      let data = '';
      res.setEncoding('utf8').on('data', (d: string) => (data += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(data) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** GETs until the server answers (it may still be starting), up to `attempts` tries. */
export async function httpGetEventually(host: string, port: number, attempts = 40): Promise<string> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await httpGet(host, port);
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`http://${host}:${port}/ never answered: ${(last as Error).message}`);
}

/** Polls `check` until it holds (state that follows Docker's events asynchronously); false if it never does. */
export async function eventually(check: () => Promise<boolean>, attempts = 100): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const givenPorts = new Set<number>();

/**
 * A port nothing on this host listens on, that no nat rule names (CNI's portmap and Docker's
 * proxy-less DNAT open no socket) and that this test file has not been given before.
 */
export async function freePort(): Promise<number> {
  const taken = `${await sh('ss', '-Htlnu')}\n${await sh('iptables-save', '-t', 'nat')}`;
  for (;;) {
    const port = randomInt(20000, 32000);
    if (givenPorts.has(port) || new RegExp(`[: ]${port}\\b`).test(taken)) continue;
    givenPorts.add(port);
    return port;
  }
}

/** The sandbox IDs that have a checkpoint file under a root directory. */
export async function checkpointIds(root: string): Promise<string[]> {
  return (await readdir(join(root, 'sandbox')).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{64}$/.test(n)).sort();
}

/** Nanoseconds of a protobuf int64 (Long, number or string). */
export const ns = (v: unknown): bigint => BigInt(String(v ?? 0));

/** Whether a hex ID prefix of `id` is unique among `ids`; the shortest such of at least 8 characters. */
export function uniquePrefix(id: string, ids: readonly string[]): string {
  for (let n = 8; n < id.length; n++) {
    const p = id.slice(0, n);
    if (ids.filter((other) => other.startsWith(p)).length === 1) return p;
  }
  return id;
}

export interface PodWithContainer {
  sandboxId: string;
  containerId: string;
  /** The container's CRI log file. */
  logFile: string;
  /** The pod's metadata name. */
  podName: string;
}

/**
 * Runs a pod (pod logs under `logRoot`) with one started busybox container running `command`,
 * its IPC in the pod and its process namespace its own.
 */
export async function runPodWithContainer(
  runtime: Client<RuntimeServiceHandlers>,
  o: { run: string; logRoot: string; command: string[]; network?: number },
): Promise<PodWithContainer> {
  const network = o.network ?? NS.POD;
  const base = podConfig({ run: o.run, pid: NS.CONTAINER, network });
  const meta = base.metadata as { name: string; namespace: string; uid: string };
  const sandboxConfig = { ...base, logDirectory: join(o.logRoot, `${meta.namespace}_${meta.name}_${meta.uid}`) };
  const sandboxId = (await runtime.RunPodSandbox({ config: sandboxConfig })).podSandboxId ?? '';
  const name = uniq('c');
  const config = {
    metadata: { name, attempt: 0 },
    image: { image: BUSYBOX },
    command: o.command,
    labels: { [TEST_LABEL]: o.run },
    logPath: `${name}.log`,
    linux: { securityContext: { namespaceOptions: { network, ipc: NS.POD, pid: NS.CONTAINER } } },
  };
  const containerId = (await runtime.CreateContainer({ podSandboxId: sandboxId, config, sandboxConfig })).containerId ?? '';
  await runtime.StartContainer({ containerId });
  return { sandboxId, containerId, logFile: join(sandboxConfig.logDirectory, `${name}.log`), podName: meta.name };
}

/**
 * Resolves once every subscriber is registered with the server: probe sandboxes (host network,
 * so no IP is taken) are run and removed until each subscriber has heard of one's deletion.
 */
export async function untilSubscribed(runtime: Client<RuntimeServiceHandlers>, subs: readonly EventSubscription[], runId: string): Promise<void> {
  const DELETED = 3;
  for (let probe = 0; probe < 10; probe++) {
    const podSandboxId = (await runtime.RunPodSandbox({ config: podConfig({ run: runId, network: NS.NODE }) })).podSandboxId ?? '';
    await runtime.StopPodSandbox({ podSandboxId });
    await runtime.RemovePodSandbox({ podSandboxId });
    const heard = (s: EventSubscription): boolean => s.events.some((e) => e.containerId === podSandboxId && e.containerEventType === DELETED);
    if (await eventually(async () => subs.every(heard), 20)) return;
  }
  throw new Error('the event subscribers heard of none of 10 probe sandboxes');
}
