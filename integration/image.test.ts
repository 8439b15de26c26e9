// The container image: `npm run image` builds dockercri:dev (reusing the classic builder's cache when
// nothing changed), then the image runs as a node would run it (Docker socket, a CRI socket
// directory, checkpoints, pod logs and cgroup files mounted; host network and PID namespace) and a
// pod goes through its whole life over the CRI socket the container serves. `docker stop` must end
// it with exit code 0 (SIGTERM handled), also where node is the container's PID 1.
import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX, MAIN_NODE_ENV, MAIN_NODE_FLAGS, ROOT, accepts, connectCri, uniq } from './harness.js';
import { NS, TEST_LABEL, containersWith, docker, eventually, freePort, podConfig, removeRunContainers } from './pods.js';

const IMAGE = 'dockercri:dev';
const run = uniq('image');
const CONTAINER_RUNNING = 1;
const CONTAINER_EXITED = 2;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let tmp: string;
const started: string[] = [];

/** Resolves when the unix socket accepts connections; rejects when the container has exited. */
async function waitForSocket(socket: string, container: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await accepts(socket)) return;
    const state = (await docker('inspect', '-f', '{{.State.Running}}', container)).trim();
    if (state !== 'true') throw new Error(`the dockercri container exited before serving:\n${await containerLogs(container)}`);
    await sleep(100);
  }
  throw new Error(`${socket} never accepted a connection:\n${await containerLogs(container)}`);
}

async function containerLogs(container: string): Promise<string> {
  return promisify(execFile)('docker', ['logs', container], { maxBuffer: 16 << 20 }).then(
    (r) => r.stdout + r.stderr,
    (err: Error) => err.message,
  );
}

/** Starts the image detached with the given docker-run options and dockercri flags. */
async function runImage(name: string, options: string[], flags: string[]): Promise<string> {
  started.push(name);
  return (await docker('run', '-d', '--name', name, '--label', `${TEST_LABEL}=${run}`, ...options, IMAGE, ...flags)).trim();
}

interface Stopped {
  exitCode: number;
  oomKilled: boolean;
  logs: string;
}

/** `docker stop` with a grace period long enough that only a SIGTERM it ignored ends in SIGKILL. */
async function stopContainer(name: string): Promise<Stopped> {
  await docker('stop', '-t', '60', name);
  const [exitCode, oomKilled] = (await docker('inspect', '-f', '{{.State.ExitCode}} {{.State.OOMKilled}}', name)).trim().split(' ');
  return { exitCode: Number(exitCode), oomKilled: oomKilled === 'true', logs: await containerLogs(name) };
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'dcri-image-'));
  // builds, or reuses every cached layer when the sources did not change
  await promisify(execFile)('npm', ['run', 'image', '--silent'], { cwd: ROOT, maxBuffer: 64 << 20, timeout: 900_000 }).catch((err: Error & { stdout?: string; stderr?: string }) => {
    throw new Error(`npm run image failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  });
}, 900_000);

afterAll(async () => {
  for (const name of started) await docker('rm', '-f', '-v', name).catch(() => undefined);
  await removeRunContainers(run);
  await rm(tmp, { recursive: true, force: true });
});

describe('the image', () => {
  it('carries the OCI labels, the health check and node as its entrypoint', async () => {
    const config = JSON.parse(await docker('image', 'inspect', '-f', '{{json .Config}}', IMAGE)) as {
      Labels: Record<string, string>;
      Entrypoint: string[];
      Env: string[];
      Healthcheck?: { Test: string[] };
    };
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string; license: string };
    expect(config.Labels['org.opencontainers.image.title']).toBe('dockercri');
    expect(config.Labels['org.opencontainers.image.version']).toBe(pkg.version);
    expect(config.Labels['org.opencontainers.image.licenses']).toBe(pkg.license);
    expect(config.Labels['org.opencontainers.image.revision']).toMatch(/^[0-9a-f]{40}(-dirty)?$/);
    // node with the flags of dockercri.js's #! line, which the entrypoint bypasses
    expect(config.Entrypoint).toEqual(['node', ...MAIN_NODE_FLAGS, '/app/dist/dockercri.js']);
    expect(Object.keys(MAIN_NODE_ENV)).not.toHaveLength(0);
    expect(config.Env).toEqual(expect.arrayContaining(Object.entries(MAIN_NODE_ENV).map(([k, v]) => `${k}=${v}`)));
    expect(config.Healthcheck?.Test.join(' ')).toContain('/healthz');
  });

  it('holds the bundle and production dependencies only', async () => {
    const listing = await docker('run', '--rm', '--entrypoint', 'sh', IMAGE, '-c', 'cd /app && ls; ls dist; ls node_modules; find dist -name "*.test.js" -o -name "*.map" -o -name "*.ts" | head -n 5');
    const names = listing.split('\n');
    expect(names).toEqual(expect.arrayContaining(['dist', 'dockercri.js', 'node_modules', 'package.json', 'pino-pretty']));
    // what the bundle carries is not installed beside it, nor is any build tool
    for (const dev of ['@grpc', 'dockerode', 'protobufjs', 'esbuild', 'typescript', 'vitest', 'protobufjs-cli', 'src', 'integration', 'bench']) expect(names).not.toContain(dev);
    expect(listing).not.toMatch(/\.(test\.js|map|ts)$/m);
    expect((await docker('run', '--rm', IMAGE, '--version')).trim()).toMatch(/^dockercri \d+\.\d+\.\d+/);
  });
});

describe('running as a node would', () => {
  const name = uniq('dockercri-image');
  let socketDir: string;
  let logDir: string;
  let cri: ReturnType<typeof connectCri>;
  let healthAddr: string;

  beforeAll(async () => {
    socketDir = join(tmp, 'run');
    logDir = join(tmp, 'pods');
    const root = join(tmp, 'cri-dockerd');
    for (const dir of [socketDir, logDir, root]) await mkdir(dir);
    // the image's own health address is fixed; a free port keeps parallel runs apart
    healthAddr = `127.0.0.1:${await freePort()}`;
    await runImage(
      name,
      [
        '--network=host',
        '-e', `DOCKERCRI_HEALTH_ADDR=${healthAddr}`,
        '--pid=host',
        '-v', '/var/run/docker.sock:/var/run/docker.sock',
        '-v', `${socketDir}:/run/dockercri`,
        '-v', `${root}:/var/lib/cri-dockerd`,
        '-v', `${logDir}:${logDir}`,
        '-v', '/sys/fs/cgroup:/sys/fs/cgroup:ro',
      ],
      ['--container-runtime-endpoint=unix:///run/dockercri/cri.sock', '--network-plugin=', '--log-level=debug', `--metrics-bind-addr=${healthAddr}`],
    );
    await waitForSocket(join(socketDir, 'cri.sock'), name);
    cri = connectCri(join(socketDir, 'cri.sock'));
  }, 120_000);

  afterAll(() => cri?.close());

  it('serves the CRI from the container and runs a pod through its whole life', async () => {
    const version = await cri.runtime.Version({ version: 'v1' });
    expect(version.runtimeName).toBe('docker');
    const status = await cri.runtime.Status({});
    expect(status.status?.conditions?.find((c) => c.type === 'RuntimeReady')?.status).toBe(true);

    const base = podConfig({ run, pid: NS.CONTAINER, network: NS.POD });
    const meta = base.metadata as { name: string; namespace: string; uid: string };
    const podLogs = join(logDir, `${meta.namespace}_${meta.name}_${meta.uid}`);
    const sandboxConfig = { ...base, logDirectory: podLogs };
    const podSandboxId = (await cri.runtime.RunPodSandbox({ config: sandboxConfig })).podSandboxId ?? '';
    expect(podSandboxId).toMatch(/^[0-9a-f]{64}$/);
    // the sandbox's checkpoint landed in the mounted root directory
    expect(await readFile(join(tmp, 'cri-dockerd', 'sandbox', podSandboxId), 'utf8')).toContain(`"name":"${meta.name}"`);

    const cname = uniq('c');
    const containerId =
      (
        await cri.runtime.CreateContainer({
          podSandboxId,
          sandboxConfig,
          config: {
            metadata: { name: cname, attempt: 0 },
            image: { image: BUSYBOX },
            command: ['sh', '-c', `echo hello-from-${cname}; exec sleep 100000`],
            labels: { [TEST_LABEL]: run },
            logPath: `${cname}/0.log`,
            linux: { securityContext: { namespaceOptions: { network: NS.POD, ipc: NS.POD, pid: NS.CONTAINER } } },
          },
        })
      ).containerId ?? '';
    await cri.runtime.StartContainer({ containerId });

    const cstatus = (await cri.runtime.ContainerStatus({ containerId })).status;
    expect(cstatus?.state).toBe(CONTAINER_RUNNING);
    expect(cstatus?.logPath).toBe(join(podLogs, cname, '0.log'));
    const listed = (await cri.runtime.ListContainers({ filter: { podSandboxId } })).containers ?? [];
    expect(listed.map((c) => c.id)).toEqual([containerId]);
    expect(((await cri.runtime.ListPodSandbox({})).items ?? []).map((s) => s.id)).toContain(podSandboxId);

    // the log file, written by dockercri inside its container, is on the host's mounted directory
    const logged = await eventually(async () => (await readFile(join(podLogs, cname, '0.log'), 'utf8').catch(() => '')).includes(`hello-from-${cname}`));
    expect(logged).toBe(true);
    // stats come from the mounted cgroup files
    const stats = (await cri.runtime.ContainerStats({ containerId })).stats;
    expect(Number(String(stats?.memory?.workingSetBytes?.value ?? 0))).toBeGreaterThan(0);
    const exec = await cri.runtime.ExecSync({ containerId, cmd: ['echo', 'exec-ok'], timeout: 30 });
    expect(Buffer.from(exec.stdout ?? []).toString()).toBe('exec-ok\n');

    await cri.runtime.StopContainer({ containerId, timeout: 5 });
    expect((await cri.runtime.ContainerStatus({ containerId })).status?.state).toBe(CONTAINER_EXITED);
    await cri.runtime.RemoveContainer({ containerId });
    await cri.runtime.StopPodSandbox({ podSandboxId });
    await cri.runtime.RemovePodSandbox({ podSandboxId });
    expect(await containersWith({ id: containerId })).toEqual([]);
    expect(await containersWith({ id: podSandboxId })).toEqual([]);
    expect(((await cri.runtime.ListPodSandbox({})).items ?? []).map((s) => s.id)).not.toContain(podSandboxId);
  });

  it('passes its own HEALTHCHECK, run inside the container', async () => {
    const [config] = JSON.parse(await docker('image', 'inspect', IMAGE)) as { Config: { Healthcheck: { Test: string[] } } }[];
    const [kind, ...command] = config!.Config.Healthcheck.Test;
    expect(kind).toBe('CMD');
    // docker exec fails (non-zero) when the check does
    await docker('exec', name, ...command);
    const res = await fetch(`http://${healthAddr}/healthz`);
    expect([res.status, (await res.text()).trim()]).toEqual([200, 'ok']);
  });

  it('stops on docker stop with exit code 0 and leaves no socket behind', async () => {
    cri.close();
    const stopped = await stopContainer(name);
    expect(stopped.exitCode, stopped.logs).toBe(0);
    expect(stopped.logs).toContain('"msg":"stopped"');
    await expect(lstat(join(socketDir, 'cri.sock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('as PID 1 of its own PID namespace', () => {
  it('is node itself and exits 0 on SIGTERM', async () => {
    const name = uniq('dockercri-image-pid1');
    const socketDir = join(tmp, 'run-pid1');
    for (const dir of [socketDir, join(tmp, 'root-pid1')]) await mkdir(dir);
    await runImage(
      name,
      ['-v', '/var/run/docker.sock:/var/run/docker.sock', '-v', `${socketDir}:/run/dockercri`, '-v', `${join(tmp, 'root-pid1')}:/var/lib/cri-dockerd`],
      ['--container-runtime-endpoint=unix:///run/dockercri/cri.sock', '--network-plugin='],
    );
    await waitForSocket(join(socketDir, 'cri.sock'), name);
    const cmdline = (await docker('exec', name, 'cat', '/proc/1/cmdline')).split('\0');
    expect(cmdline.slice(0, 2 + MAIN_NODE_FLAGS.length)).toEqual(['node', ...MAIN_NODE_FLAGS, '/app/dist/dockercri.js']);
    const cri = connectCri(join(socketDir, 'cri.sock'));
    try {
      expect((await cri.runtime.Version({})).runtimeName).toBe('docker');
    } finally {
      cri.close();
    }
    const stopped = await stopContainer(name);
    expect(stopped.exitCode, stopped.logs).toBe(0);
    expect(stopped.logs).toContain('"msg":"stopped"');
  });
});
