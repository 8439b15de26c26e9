// The pod sandbox tests both networking modes share: sandbox.test.ts runs them on Docker's bridge,
// sandbox-cni.test.ts with real CNI plugins. Each mode says how it starts dockercri and how it
// checks that nothing of a pod's network is left on the host.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../src/errors.js';
import type { runtime } from '../src/gen/api.js';
import { BUSYBOX, grpcError, startDockercri, uniq, type Dockercri, type GrpcError } from './harness.js';
import {
  NOTREADY,
  NS,
  READY,
  TEST_LABEL,
  checkpointIds,
  containersWith,
  docker,
  eventually,
  freePort,
  httpGetEventually,
  inspect,
  ns,
  podConfig,
  podView,
  removeRunContainers,
  sh,
  startHttpd,
  uniquePrefix,
  type PodOptions,
} from './pods.js';

export interface SandboxMode {
  name: 'bridge' | 'cni';
  /** Test-unique value of TEST_LABEL on everything the file creates. */
  runId: string;
  /** dockercri's networking flags (the suite adds its own root directory). */
  args(): string[];
  /** Where the pod's IP comes from, to compare with what PodSandboxStatus reports. */
  expectedIp(sandboxId: string): Promise<string>;
  /** Checks that a stopped pod holds nothing of the host's network any more. */
  assertNetworkReleased(pod: { sandboxId: string; ip: string; hostPorts: number[] }): Promise<void>;
  /** Checks that a host-network pod never touched the pod network. */
  assertNoPodNetwork(sandboxId: string): Promise<void>;
}

type Status = Awaited<ReturnType<Dockercri['runtime']['PodSandboxStatus']>>['status'];
type PodSandbox = runtime.v1.IPodSandbox;
type Filter = runtime.v1.IPodSandboxFilter;

const byId = (a: PodSandbox, b: PodSandbox): number => ((a.id ?? '') < (b.id ?? '') ? -1 : 1);

/** Nat rules that mention a host port, e.g. Docker's DNAT or portmap's. */
export async function hostPortRules(port: number): Promise<string[]> {
  const nat = await sh('iptables-save', '-t', 'nat');
  return nat.split('\n').filter((l) => l.startsWith('-A ') && new RegExp(`\\b${port}\\b`).test(l));
}

export function sandboxSuite(mode: SandboxMode): void {
  const run = mode.runId;
  let cri: Dockercri;
  let root: string;
  /** Every sandbox the file made, removed through the CRI at the end whatever happened. */
  const created = new Set<string>();
  /** The logs of dockercri processes the file already stopped. */
  const earlierLogs: string[] = [];

  const start = (): Promise<Dockercri> => startDockercri({ args: [...mode.args(), `--cri-dockerd-root-directory=${root}`] });

  async function runPod(o: Omit<PodOptions, 'run'> = {}): Promise<{ sandboxId: string; config: Record<string, unknown> }> {
    const config = podConfig({ run, ...o });
    const sandboxId = (await cri.runtime.RunPodSandbox({ config })).podSandboxId ?? '';
    expect(sandboxId).toMatch(/^[0-9a-f]{64}$/);
    created.add(sandboxId);
    return { sandboxId, config };
  }

  const list = async (filter?: Filter): Promise<PodSandbox[]> => ((await cri.runtime.ListPodSandbox(filter ? { filter } : {})).items ?? []).sort(byId);

  async function stream(filter: Filter): Promise<PodSandbox[]> {
    const messages = (await cri.runtime.StreamPodSandboxes({ filter })) as runtime.v1.IStreamPodSandboxesResponse[];
    return messages.flatMap((m) => m.podSandboxes ?? []).sort(byId);
  }

  async function status(sandboxId: string): Promise<NonNullable<Status>> {
    const s = (await cri.runtime.PodSandboxStatus({ podSandboxId: sandboxId })).status;
    expect(s).toBeTruthy();
    return s!;
  }

  async function removePod(sandboxId: string): Promise<void> {
    await cri.runtime.StopPodSandbox({ podSandboxId: sandboxId });
    await cri.runtime.RemovePodSandbox({ podSandboxId: sandboxId });
    created.delete(sandboxId);
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'dcri-root-'));
    cri = await start();
  });

  afterAll(async () => {
    for (const sandboxId of created) await removePod(sandboxId).catch(() => undefined);
    await removeRunContainers(run);
    await cri?.stop();
    await rm(root, { recursive: true, force: true });
  });

  describe('a pod with hostname, DNS, labels, annotations and port mappings', () => {
    const labels = { app: 'web', 'example.com/tier': 'front' };
    const annotations = { 'example.com/note': 'hello, pod', 'kubernetes.io/config.source': 'api', empty: '' };
    const dns = { servers: ['10.96.0.10', '10.96.0.11'], searches: ['dcri-test.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5', 'timeout:2'] };
    let hostPorts: number[];
    let sandboxId: string;
    let config: Record<string, unknown>;
    let before: number;
    let after: number;

    beforeAll(async () => {
      hostPorts = [await freePort(), await freePort()];
      before = Date.now();
      ({ sandboxId, config } = await runPod({
        hostname: 'web-0',
        labels,
        annotations,
        dns,
        ports: [
          { containerPort: 80, hostPort: hostPorts[0] },
          { containerPort: 80, hostPort: hostPorts[1], hostIp: '127.0.0.1' },
          { protocol: 1, containerPort: 5353 },
        ],
      }));
      after = Date.now();
    });

    it('PodSandboxStatus reports it READY with its metadata, labels, annotations, namespaces and IP', async () => {
      const s = await status(sandboxId);
      const meta = config.metadata as { name: string; namespace: string; uid: string };
      expect(s.id).toBe(sandboxId);
      expect(s.state).toBe(READY);
      expect(s.metadata?.name).toBe(meta.name);
      expect(s.metadata?.namespace).toBe(meta.namespace);
      expect(s.metadata?.uid).toBe(meta.uid);
      expect(s.metadata?.attempt).toBe(1);
      // Docker's clock stamps the creation: it lies between the request and its answer (1 s of rounding slack)
      expect(ns(s.createdAt)).toBeGreaterThanOrEqual(BigInt(before - 1000) * 1_000_000n);
      expect(ns(s.createdAt)).toBeLessThanOrEqual(BigInt(after + 1000) * 1_000_000n);
      expect({ ...s.labels }).toEqual({ [TEST_LABEL]: run, ...labels });
      expect({ ...s.annotations }).toEqual(annotations);
      const opts = s.linux?.namespaces?.options;
      expect([opts?.network, opts?.pid, opts?.ipc]).toEqual([NS.POD, NS.CONTAINER, NS.POD]);
      expect(isIPv4(s.network?.ip ?? '')).toBe(true);
      expect(s.network?.ip).toBe(await mode.expectedIp(sandboxId));
      expect(s.runtimeHandler ?? '').toBe('');
      expect((await status(sandboxId.slice(0, 16))).id).toBe(sandboxId);
    });

    it('adds the pause pid, network mode and checkpoint to a verbose status', async () => {
      const res = await cri.runtime.PodSandboxStatus({ podSandboxId: sandboxId, verbose: true });
      const info = JSON.parse(res.info?.info ?? '{}');
      expect(info.pid).toBe((await inspect(sandboxId)).State.Pid);
      expect(info.networkPlugin).toBe(mode.name);
      expect(info.checkpoint?.portMappings).toHaveLength(3);
    });

    it('is a pause container named and labelled as cri-dockerd names and labels it', async () => {
      const c = await inspect(sandboxId);
      const meta = config.metadata as { name: string; namespace: string; uid: string };
      expect(c.Name).toBe(`/k8s_POD_${meta.name}_${meta.namespace}_${meta.uid}_1`);
      expect(c.Config.Labels).toMatchObject({
        'io.kubernetes.docker.type': 'podsandbox',
        'io.kubernetes.container.name': 'POD',
        app: 'web',
        'example.com/tier': 'front',
        'annotation.example.com/note': 'hello, pod',
        'annotation.kubernetes.io/config.source': 'api',
        'annotation.empty': '',
      });
      expect(c.HostConfig.NetworkMode).toBe(mode.name === 'cni' ? 'none' : 'default');
    });

    it('sees its hostname and its DNS config from inside', async () => {
      const { hostname, resolvConf } = await podView((await inspect(sandboxId)).State.Pid);
      expect(hostname).toBe('web-0');
      expect(resolvConf).toBe(
        'nameserver 10.96.0.10\nnameserver 10.96.0.11\n' + 'search dcri-test.svc.cluster.local svc.cluster.local\n' + 'options ndots:5 timeout:2\n',
      );
    });

    it('has a checkpoint file (mode 0600) with its port mappings', async () => {
      const path = join(root, 'sandbox', sandboxId);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      const cp = JSON.parse(await readFile(path, 'utf8'));
      const meta = config.metadata as { name: string; namespace: string };
      expect(cp).toMatchObject({ version: 'v1', name: meta.name, namespace: meta.namespace });
      expect(typeof cp.checksum).toBe('number');
      expect(cp.data.port_mappings).toEqual([
        { protocol: 'tcp', container_port: 80, host_port: hostPorts[0] },
        { protocol: 'tcp', container_port: 80, host_port: hostPorts[1], host_ip: '127.0.0.1' },
        { protocol: 'udp', container_port: 5353, host_port: 0 },
      ]);
      expect(cp.data.host_network ?? false).toBe(false);
    });

    it('answers HTTP on its pod IP and on its host ports at 127.0.0.1', async () => {
      const body = `hello-${randomBytes(4).toString('hex')}`;
      for (const port of hostPorts) expect(await hostPortRules(port)).not.toEqual([]);
      const httpd = await startHttpd(sandboxId, run, body);
      try {
        const ip = (await status(sandboxId)).network?.ip ?? '';
        expect(await httpGetEventually(ip, 80)).toBe(`${body}\n`);
        expect(await httpGetEventually('127.0.0.1', hostPorts[0]!)).toBe(`${body}\n`);
        expect(await httpGetEventually('127.0.0.1', hostPorts[1]!)).toBe(`${body}\n`);
      } finally {
        await docker('rm', '-f', httpd);
      }
    });

    it('stops to NOTREADY and is removed with its checkpoint, each twice without error', async () => {
      const ip = (await status(sandboxId)).network?.ip ?? '';
      await cri.runtime.StopPodSandbox({ podSandboxId: sandboxId });
      const stopped = await status(sandboxId);
      expect(stopped.state).toBe(NOTREADY);
      expect(stopped.network?.ip ?? '').toBe('');
      expect((await inspect(sandboxId)).State.Running).toBe(false);
      await mode.assertNetworkReleased({ sandboxId, ip, hostPorts });
      await cri.runtime.StopPodSandbox({ podSandboxId: sandboxId });
      expect((await status(sandboxId)).state).toBe(NOTREADY);

      await cri.runtime.RemovePodSandbox({ podSandboxId: sandboxId });
      expect(await containersWith({ id: sandboxId })).toEqual([]);
      expect(await checkpointIds(root)).not.toContain(sandboxId);
      expect((await grpcError(cri.runtime.PodSandboxStatus({ podSandboxId: sandboxId }))).code).toBe(Code.NOT_FOUND);
      await cri.runtime.RemovePodSandbox({ podSandboxId: sandboxId });
      await cri.runtime.StopPodSandbox({ podSandboxId: sandboxId });
      created.delete(sandboxId);
      await mode.assertNetworkReleased({ sandboxId, ip, hostPorts });
    });
  });

  it('runs 20 sandboxes concurrently, READY with distinct IPs; List filters and Stream agree', async () => {
    const group = uniq('g');
    const pods = await Promise.all(Array.from({ length: 20 }, () => runPod({ labels: { group } })));
    const ids = pods.map((p) => p.sandboxId);
    try {
      const statuses = await Promise.all(ids.map((id) => status(id)));
      expect(statuses.map((s) => s.state)).toEqual(ids.map(() => READY));
      const ips = statuses.map((s) => s.network?.ip ?? '');
      for (const ip of ips) expect(isIPv4(ip)).toBe(true);
      expect(new Set(ips).size).toBe(20);

      const byGroup = { labelSelector: { group } };
      const listed = await list(byGroup);
      expect(listed.map((s) => s.id).sort()).toEqual([...ids].sort());
      for (const item of listed) {
        expect(item.state).toBe(READY);
        expect({ ...item.labels }).toEqual({ [TEST_LABEL]: run, group });
      }

      const streamed = await stream(byGroup);
      expect(streamed.map((s) => s.id).sort()).toEqual([...ids].sort());
      expect(streamed).toEqual(listed);

      const target = ids[7]!;
      expect((await list({ id: target })).map((s) => s.id)).toEqual([target]);
      const everyone = (await list()).map((s) => s.id ?? '');
      const prefix = uniquePrefix(target, everyone);
      expect((await list({ id: prefix })).map((s) => s.id)).toEqual([target]);
      expect(await list({ id: 'f'.repeat(64) })).toEqual([]);

      await cri.runtime.StopPodSandbox({ podSandboxId: ids[3]! });
      const notReady = await list({ ...byGroup, state: { state: NOTREADY } });
      expect(notReady.map((s) => s.id)).toEqual([ids[3]]);
      const ready = await list({ ...byGroup, state: { state: READY } });
      expect(ready.map((s) => s.id).sort()).toEqual(ids.filter((id) => id !== ids[3]).sort());
      const streamedReady = await stream({ ...byGroup, state: { state: READY } });
      expect(streamedReady.map((s) => s.id).sort()).toEqual(ready.map((s) => s.id).sort());
      const one = await list({ labelSelector: { group, [TEST_LABEL]: run }, id: ids[5] });
      expect(one.map((s) => s.id)).toEqual([ids[5]]);
      expect(await list({ labelSelector: { group: `${group}-other` } })).toEqual([]);
    } finally {
      await Promise.all(ids.map((id) => removePod(id)));
    }
    expect(await list({ labelSelector: { group } })).toEqual([]);
  });

  it('loses nothing to kill -9: List and Status unchanged after a restart, and stop and remove still tear down', async () => {
    const group = uniq('r');
    const hostPort = await freePort();
    const pods = [await runPod({ labels: { group }, ports: [{ containerPort: 80, hostPort }] }), await runPod({ labels: { group } }), await runPod({ labels: { group } })];
    const ids = pods.map((p) => p.sandboxId).sort();
    const filter = { labelSelector: { group } };
    const listBefore = await list(filter);
    const statusBefore = await Promise.all(ids.map((id) => status(id)));
    expect(listBefore.map((s) => s.id)).toEqual(ids);
    expect(await hostPortRules(hostPort)).not.toEqual([]);

    earlierLogs.push(cri.log());
    expect(await cri.stop('SIGKILL')).toBe('SIGKILL');
    cri = await start();

    const listAfter = await list(filter);
    expect(listAfter).toEqual(listBefore);
    const statusAfter = await Promise.all(ids.map((id) => status(id)));
    expect(statusAfter).toEqual(statusBefore);
    for (const s of statusAfter) expect(s.state).toBe(READY);

    // every pod but the last is stopped before it is removed; the last is removed while it runs
    for (const [i, id] of ids.entries()) {
      const ip = statusAfter[i]!.network?.ip ?? '';
      const ports = pods.find((p) => p.sandboxId === id)!.config.portMappings as Array<{ hostPort?: number }>;
      const hostPorts = ports.map((p) => p.hostPort ?? 0).filter((p) => p > 0);
      if (i < ids.length - 1) {
        await cri.runtime.StopPodSandbox({ podSandboxId: id });
        await mode.assertNetworkReleased({ sandboxId: id, ip, hostPorts });
        expect(await checkpointIds(root)).toContain(id);
      }
      await cri.runtime.RemovePodSandbox({ podSandboxId: id });
      created.delete(id);
      await mode.assertNetworkReleased({ sandboxId: id, ip, hostPorts });
      expect(await containersWith({ id })).toEqual([]);
    }
    expect(await list(filter)).toEqual([]);
    const left = await checkpointIds(root);
    for (const id of ids) expect(left).not.toContain(id);
  });

  it('reports a pod whose pause container died NOTREADY, and Stop and Remove still release its network', async () => {
    const hostPort = await freePort();
    const { sandboxId } = await runPod({ ports: [{ containerPort: 80, hostPort }] });
    const ip = (await status(sandboxId)).network?.ip ?? '';
    expect(isIPv4(ip)).toBe(true);
    await docker('kill', sandboxId);
    expect(await eventually(async () => (await status(sandboxId)).state === NOTREADY)).toBe(true);
    await cri.runtime.StopPodSandbox({ podSandboxId: sandboxId });
    await mode.assertNetworkReleased({ sandboxId, ip, hostPorts: [hostPort] });
    await cri.runtime.RemovePodSandbox({ podSandboxId: sandboxId });
    created.delete(sandboxId);
    expect(await containersWith({ id: sandboxId })).toEqual([]);
    expect(await checkpointIds(root)).not.toContain(sandboxId);
  });

  it('releases the network and checkpoint of a sandbox removed behind its back when Stop names it', async () => {
    const hostPort = await freePort();
    const { sandboxId } = await runPod({ ports: [{ containerPort: 80, hostPort }] });
    const ip = (await status(sandboxId)).network?.ip ?? '';
    await docker('rm', '-f', sandboxId);
    const gone = (): Promise<boolean> => cri.runtime.PodSandboxStatus({ podSandboxId: sandboxId }).then(() => false, (err: GrpcError) => err.code === Code.NOT_FOUND);
    expect(await eventually(gone)).toBe(true);
    expect(await checkpointIds(root)).toContain(sandboxId);
    await cri.runtime.StopPodSandbox({ podSandboxId: sandboxId });
    await mode.assertNetworkReleased({ sandboxId, ip, hostPorts: [hostPort] });
    expect(await checkpointIds(root)).not.toContain(sandboxId);
    await cri.runtime.RemovePodSandbox({ podSandboxId: sandboxId });
    created.delete(sandboxId);
  });

  it('answers unknown ids with NOT_FOUND on Status and success on Stop and Remove', async () => {
    const unknown = randomBytes(32).toString('hex');
    expect((await grpcError(cri.runtime.PodSandboxStatus({ podSandboxId: unknown }))).code).toBe(Code.NOT_FOUND);
    expect((await grpcError(cri.runtime.PodSandboxStatus({ podSandboxId: 'no-such-sandbox' }))).code).toBe(Code.NOT_FOUND);
    for (const podSandboxId of [unknown, 'no-such-sandbox']) {
      await cri.runtime.StopPodSandbox({ podSandboxId });
      await cri.runtime.StopPodSandbox({ podSandboxId });
      await cri.runtime.RemovePodSandbox({ podSandboxId });
      await cri.runtime.RemovePodSandbox({ podSandboxId });
    }
  });

  it('stops and removes unknown containers, and one Docker removed underneath, with success', async () => {
    // critest's "should not return an error if not found" uses a UUID, not a Docker ID
    for (const containerId of [randomBytes(32).toString('hex'), '7fec21f9-5f2c-4b0a-9d0e-3a1c2b4d5e6f']) {
      await cri.runtime.StopContainer({ containerId, timeout: 1 });
      await cri.runtime.RemoveContainer({ containerId });
      expect((await grpcError(cri.runtime.ContainerStatus({ containerId }))).code).toBe(Code.NOT_FOUND);
    }
    const { sandboxId, config } = await runPod();
    const containerConfig = { metadata: { name: uniq('gone'), attempt: 0 }, image: { image: BUSYBOX }, command: ['sleep', '100000'], labels: { [TEST_LABEL]: run } };
    const containerId = (await cri.runtime.CreateContainer({ podSandboxId: sandboxId, config: containerConfig, sandboxConfig: config })).containerId ?? '';
    await cri.runtime.StartContainer({ containerId });
    await docker('rm', '-f', containerId);
    // whether or not the index has seen the removal yet, both calls succeed
    await cri.runtime.StopContainer({ containerId, timeout: 1 });
    await cri.runtime.RemoveContainer({ containerId });
    await cri.runtime.StopContainer({ containerId, timeout: 1 });
    await removePod(sandboxId);
    await cri.runtime.StopPodSandbox({ podSandboxId: sandboxId });
    await cri.runtime.RemovePodSandbox({ podSandboxId: sandboxId });
  });

  it('runs a host-network pod with the host PID namespace without a pod network', async () => {
    const { sandboxId } = await runPod({ network: NS.NODE, pid: NS.NODE, ports: [{ containerPort: 8080, hostPort: 8080 }] });
    try {
      const s = await status(sandboxId);
      expect(s.state).toBe(READY);
      expect(s.network?.ip ?? '').toBe('');
      const opts = s.linux?.namespaces?.options;
      expect([opts?.network, opts?.pid, opts?.ipc]).toEqual([NS.NODE, NS.NODE, NS.POD]);
      const c = await inspect(sandboxId);
      expect(c.HostConfig.NetworkMode).toBe('host');
      const cp = JSON.parse(await readFile(join(root, 'sandbox', sandboxId), 'utf8'));
      expect(cp.data.host_network).toBe(true);
      await mode.assertNoPodNetwork(sandboxId);
    } finally {
      await removePod(sandboxId);
    }
    await mode.assertNoPodNetwork(sandboxId);
  });

  describe('malformed configs', () => {
    const valid = (): Record<string, unknown> => podConfig({ run, labels: { malformed: run } });
    const named = (c: Record<string, unknown>): string => (c.metadata as { name: string }).name;
    const cases: Array<{ what: string; request: () => Record<string, unknown>; message: RegExp }> = [
      { what: 'missing config', request: () => ({}), message: /config is required/ },
      { what: 'empty metadata name', request: () => { const c = valid(); (c.metadata as { name: string }).name = ''; return { config: c }; }, message: /metadata\.name/ },
      { what: "a name with '_'", request: () => { const c = valid(); (c.metadata as { name: string }).name = `bad_${named(c)}`; return { config: c }; }, message: /metadata\.name/ },
      { what: 'a negative host port', request: () => ({ config: { ...valid(), portMappings: [{ containerPort: 80, hostPort: -1 }] } }), message: /host port -1/ },
      { what: 'a negative container port', request: () => ({ config: { ...valid(), portMappings: [{ containerPort: -80 }] } }), message: /container port -80/ },
      { what: 'container port 70000', request: () => ({ config: { ...valid(), portMappings: [{ containerPort: 70000 }] } }), message: /container port 70000/ },
      { what: 'a bad host IP', request: () => ({ config: { ...valid(), portMappings: [{ containerPort: 80, hostPort: 8080, hostIp: '300.1.2.3' }] } }), message: /300\.1\.2\.3/ },
      { what: 'an unknown runtime handler', request: () => ({ config: valid(), runtimeHandler: 'no-such-runtime' }), message: /runtime handler "no-such-runtime"/ },
      { what: 'a 1 MiB label value', request: () => ({ config: { ...valid(), labels: { [TEST_LABEL]: run, big: 'x'.repeat(1 << 20) } } }), message: /exceed/ },
      { what: 'a 1 MiB annotation value', request: () => ({ config: { ...valid(), annotations: { big: 'y'.repeat(1 << 20) } } }), message: /exceed/ },
      { what: 'a 300-character hostname', request: () => ({ config: { ...valid(), hostname: 'h'.repeat(300) } }), message: /hostname/ },
    ];

    for (const c of cases) {
      it(`rejects ${c.what} with INVALID_ARGUMENT and leaves nothing behind`, async () => {
        const checkpoints = await checkpointIds(root);
        const request = c.request();
        const err = await grpcError(cri.runtime.RunPodSandbox(request));
        expect(err.code).toBe(Code.INVALID_ARGUMENT);
        expect(err.details).toMatch(c.message);
        const config = request.config as Record<string, unknown> | undefined;
        const name = (config?.metadata as { name?: string } | undefined)?.name;
        if (name) expect(await containersWith({ name })).toEqual([]);
        expect(await containersWith({ label: `malformed=${run}` })).toEqual([]);
        expect(await checkpointIds(root)).toEqual(checkpoints);
      });
    }

    it('leaves the process serving', async () => {
      expect(cri.proc.exitCode).toBeNull();
      expect((await cri.runtime.Version({})).runtimeName).toBe('docker');
      const { sandboxId } = await runPod();
      expect((await status(sandboxId)).state).toBe(READY);
      await removePod(sandboxId);
    });
  });

  it('logged no error, fatal or unhandled rejection on the way', () => {
    const lines = [...earlierLogs, cri.log()].join('\n').split('\n').filter((l) => l.startsWith('{'));
    // a line cut short by kill -9 is not JSON: it only has to be free of the words
    const bad = lines.filter((l) => /"level":(50|60)\b|"msg":"unhandled rejection"/.test(l));
    expect(bad).toEqual([]);
  });
}
