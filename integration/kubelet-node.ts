// A real kubelet (standalone, static pods) driving dockercri on a private Docker Engine, through
// ../shared/tools/kubelet-node.sh and docker-private.sh, and clients of kubelet's own API
// (https://127.0.0.1:10250: /pods, /containerLogs, /stats/summary, exec, attach, port-forward).
// kubelet removes every CRI sandbox on its engine it did not create, so it never sees the shared
// engine on /var/run/docker.sock.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { ROOT } from './harness.js';

const run = promisify(execFile);

/** The shared tools: DOCKERCRI_SHARED_TOOLS, else ../shared/tools beside the checkout. */
export const TOOLS = resolve(process.env.DOCKERCRI_SHARED_TOOLS ?? join(ROOT, '..', 'shared', 'tools'));
const KUBELET_XZ = join(TOOLS, 'kubelet', 'kubelet-v1.32.13.xz');

/** Fixed places, so a later run finds (and removes) what a killed run left. */
export const NODE_WORK = '/tmp/dcri-kubelet-node';
export const ENGINE_WORK = '/tmp/dcri-kubelet-engine';
export const CRI_DIR = '/tmp/dcri-kubelet-cri';
export const ENGINE_ENDPOINT = `unix://${ENGINE_WORK}/docker.sock`;
export const MANIFESTS = join(NODE_WORK, 'manifests');
export const POD_LOGS = join(NODE_WORK, 'pod-logs');
export const NODE_NAME = 'dcri-node';

/** Whether this checkout can run the kubelet tier; the reason when not. */
export function kubeletAvailability(): { ok: true } | { ok: false; why: string } {
  for (const script of ['kubelet-node.sh', 'docker-private.sh']) {
    if (!existsSync(join(TOOLS, script))) return { ok: false, why: `no ${join(TOOLS, script)} (set DOCKERCRI_SHARED_TOOLS)` };
  }
  const bin = process.env.KUBELET_BIN;
  if (bin) return existsSync(bin) ? { ok: true } : { ok: false, why: `KUBELET_BIN=${bin} does not exist` };
  return existsSync(KUBELET_XZ) ? { ok: true } : { ok: false, why: `no kubelet: neither KUBELET_BIN nor ${KUBELET_XZ}` };
}

async function tool(script: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<string> {
  try {
    const { stdout, stderr } = await run('bash', [join(TOOLS, script), ...args], { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 });
    return stdout + stderr;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${script} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

const engineEnv = { WORK: ENGINE_WORK };
const nodeEnv = (): Record<string, string> => ({ WORK: NODE_WORK, MANIFESTS, POD_LOGS, NODE_NAME });

export const engine = {
  up: () => tool('docker-private.sh', ['up'], engineEnv, 120_000),
  load: (...images: string[]) => tool('docker-private.sh', ['load', ...images], engineEnv, 120_000),
  /** Stops the engine; `purge` also removes its data root (images, containers). */
  down: (purge = false) => tool('docker-private.sh', ['down'], { ...engineEnv, PURGE: purge ? '1' : '0' }, 180_000),
};

export const kubelet = {
  up: (criSocket: string, extraConfig: string) =>
    tool('kubelet-node.sh', ['up'], { ...nodeEnv(), CRI_ENDPOINT: `unix://${criSocket}`, DOCKER_HOST: ENGINE_ENDPOINT, KUBELET_EXTRA_CONFIG: extraConfig }, 180_000),
  down: () => tool('kubelet-node.sh', ['down'], { ...nodeEnv(), DOWN_TIMEOUT: '30' }, 180_000),
  /** kubelet's last error lines, for failure messages. */
  errors: (lines = 5): string => {
    try {
      const errors = readFileSync(join(NODE_WORK, 'kubelet.log'), 'utf8').split('\n').filter((l) => /^E\d{4}/.test(l));
      return errors.slice(-lines).map((l) => l.slice(0, 400)).join('\n');
    } catch {
      return '';
    }
  },
};

/** A static pod: its manifest in kubelet's directory; it runs as NAME-NODE_NAME. */
export function writeManifest(pod: { metadata: { name: string } } & Record<string, unknown>): void {
  mkdirSync(MANIFESTS, { recursive: true });
  const tmp = join(NODE_WORK, `.${pod.metadata.name}.json`);
  writeFileSync(tmp, JSON.stringify({ apiVersion: 'v1', kind: 'Pod', ...pod }));
  // kubelet reads whole files: a rename never shows it half a manifest
  renameSync(tmp, join(MANIFESTS, `${pod.metadata.name}.json`));
}

export function removeManifest(name: string): void {
  rmSync(join(MANIFESTS, `${name}.json`), { force: true });
}

// ---- kubelet's API ------------------------------------------------------------------------

export const KUBELET_API = 'https://127.0.0.1:10250';

/** A GET on kubelet's API: status and body. */
export function kubeletGet(path: string, timeoutMs = 15_000): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request(`${KUBELET_API}${path}`, { rejectUnauthorized: false, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** A GET that must answer 200. */
export async function kubeletText(path: string): Promise<string> {
  const r = await kubeletGet(path);
  if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
  return r.body;
}

export interface ContainerState {
  running?: { startedAt?: string };
  waiting?: { reason?: string; message?: string };
  terminated?: { exitCode: number; reason?: string; containerID?: string };
}

export interface ContainerStatus {
  name: string;
  state: ContainerState;
  lastState: ContainerState;
  ready: boolean;
  restartCount: number;
  containerID?: string;
}

export interface Pod {
  metadata: { name: string; namespace: string; uid: string };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: Array<{ type: string; status: string }>;
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
  };
}

/** kubelet's /pods. */
export async function kubeletPods(): Promise<Pod[]> {
  return ((JSON.parse(await kubeletText('/pods')) as { items?: Pod[] }).items ?? []);
}

/** The static pod NAME as kubelet reports it, if it does. */
export async function kubeletPod(name: string): Promise<Pod | undefined> {
  return (await kubeletPods()).find((p) => p.metadata.name === `${name}-${NODE_NAME}`);
}

export const isReady = (p: Pod | undefined): boolean => p?.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
export const containerStatus = (p: Pod | undefined, name: string): ContainerStatus | undefined =>
  [...(p?.status.containerStatuses ?? []), ...(p?.status.initContainerStatuses ?? [])].find((c) => c.name === name);

/** A one-line picture of a pod for failure messages. */
export function describePod(p: Pod | undefined): string {
  if (!p) return 'not listed by kubelet';
  const cs = [...(p.status.initContainerStatuses ?? []), ...(p.status.containerStatuses ?? [])].map(
    (c) => `${c.name}:${Object.keys(c.state ?? {})[0] ?? '?'}${c.state?.waiting?.reason ? `(${c.state.waiting.reason})` : ''}/restarts=${c.restartCount}`,
  );
  return `${p.status.phase ?? '?'} ready=${isReady(p)} ip=${p.status.podIP ?? ''} ${cs.join(' ')}`;
}

/** Polls `probe` every second until it returns a value (not undefined); fails with `what` and the last note. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, note: () => Promise<string> = async () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
      lastError = '';
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() > deadline) {
      const extra = await note().catch((err: Error) => err.message);
      throw new Error(`${what}: not within ${timeoutMs / 1000} s${lastError ? ` (last error: ${lastError})` : ''}${extra ? `; ${extra}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ---- streaming through kubelet --------------------------------------------------------------

export interface WsResult {
  protocol: string;
  /** The bytes of each channel (the first byte of every message names its channel). */
  channels: Map<number, Buffer>;
}

/**
 * Opens a WebSocket on kubelet's API (exec, attach, portForward), sends `send` (channel byte
 * included) once it is open, and collects every message until the server closes or `untilMs`.
 */
export function kubeletWs(path: string, protocols: string[], o: { send?: Buffer[]; untilMs?: number; done?: (r: WsResult) => boolean } = {}): Promise<WsResult> {
  return new Promise((resolvePromise, reject) => {
    const ws = new WebSocket(`${KUBELET_API.replace(/^https/, 'wss')}${path}`, protocols, { rejectUnauthorized: false });
    const result: WsResult = { protocol: '', channels: new Map() };
    const finish = (): void => {
      clearTimeout(timer);
      ws.removeAllListeners('close');
      ws.terminate();
      resolvePromise(result);
    };
    const timer = setTimeout(finish, o.untilMs ?? 30_000);
    ws.on('open', () => {
      result.protocol = ws.protocol;
      for (const b of o.send ?? []) ws.send(b);
    });
    ws.on('message', (d: Buffer) => {
      const ch = d[0]!;
      result.channels.set(ch, Buffer.concat([result.channels.get(ch) ?? Buffer.alloc(0), d.subarray(1)]));
      if (o.done?.(result)) finish();
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        clearTimeout(timer);
        reject(new Error(`${path}: HTTP ${res.statusCode} ${body.slice(0, 300)}`));
      });
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.on('close', finish);
  });
}

/** Runs a command in a container through kubelet's /exec (v5.channel.k8s.io). */
export async function kubeletExec(pod: string, container: string, command: string[]): Promise<{ stdout: string; stderr: string; status: string }> {
  const q = new URLSearchParams([...command.map((c) => ['command', c]), ['output', '1'], ['error', '1']]);
  const r = await kubeletWs(`/exec/default/${pod}-${NODE_NAME}/${container}?${q}`, ['v5.channel.k8s.io']);
  if (r.protocol !== 'v5.channel.k8s.io') throw new Error(`exec: kubelet chose protocol "${r.protocol}"`);
  const text = (ch: number): string => r.channels.get(ch)?.toString() ?? '';
  return { stdout: text(1), stderr: text(2), status: text(3) };
}
