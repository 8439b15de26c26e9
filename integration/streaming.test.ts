// Exec, Attach and PortForward through the real dockercri process: the rpcs hand out URLs, and
// SPDY/3.1 and WebSocket clients written here speak kubelet's protocols to them. The SPDY client is
// dockercri's own session layer in the client role (its framing is unit-tested byte for byte);
// the WebSocket client is the `ws` package. Every pod carries this file's run label.
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Code } from '../src/errors.js';
import { SpdySession, type SpdyStream } from '../src/streaming/spdy/session.js';
import { BUSYBOX, grpcError, startDockercri, uniq, type Dockercri } from './harness.js';
import { NS, TEST_LABEL, eventually, podConfig, removeRunContainers } from './pods.js';

const run = uniq('stream');
const MiB = 1024 * 1024;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let cri: Dockercri;
let sandboxId: string;
let sandboxConfig: Record<string, unknown>;
let shell: string; // a running container: sleep
let expiringUrl: string;
let expiringIssuedAt: number;

async function runContainer(o: { command: string[]; stdin?: boolean; tty?: boolean }): Promise<string> {
  const name = uniq('c');
  const config = {
    metadata: { name, attempt: 0 },
    image: { image: BUSYBOX },
    command: o.command,
    labels: { [TEST_LABEL]: run },
    logPath: `${name}/0.log`,
    stdin: o.stdin ?? false,
    tty: o.tty ?? false,
    linux: { securityContext: { namespaceOptions: { network: NS.POD, ipc: NS.POD, pid: NS.CONTAINER } } },
  };
  const containerId = (await cri.runtime.CreateContainer({ podSandboxId: sandboxId, config, sandboxConfig })).containerId ?? '';
  await cri.runtime.StartContainer({ containerId });
  return containerId;
}

// ---- a SPDY client -------------------------------------------------------------------------

/** Upgrades to SPDY/3.1; resolves to the session and the protocol the server chose, or the HTTP status. */
function spdyConnect(url: string, protocols: string[]): Promise<{ session: SpdySession; protocol: string } | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocols } });
    req.on('upgrade', (res, socket, head) => {
      if (head.length > 0) socket.unshift(head);
      resolve({ session: new SpdySession(socket, 'client'), protocol: String(res.headers['x-stream-protocol-version']) });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const collect = (s: SpdyStream | undefined): Promise<Buffer> =>
  new Promise((resolve) => {
    if (!s) return resolve(Buffer.alloc(0));
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('close', () => resolve(Buffer.concat(chunks)));
  });

interface ExecOptions {
  stdin?: boolean;
  stderr?: boolean;
  tty?: boolean;
  protocol?: string;
  /** Drives the session once the streams are open. */
  drive?: (s: { stdin?: SpdyStream; resize?: SpdyStream; stdout: SpdyStream; output: () => string }) => Promise<void>;
}

async function spdyCommand(url: string, o: ExecOptions = {}): Promise<{ stdout: string; stderr: string; error: string; protocol: string }> {
  const c = await spdyConnect(url, [o.protocol ?? 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io']);
  if (!('session' in c)) throw new Error(`HTTP ${c.status}: ${c.body}`);
  const { session } = c;
  const error = session.openStream({ streamType: 'error' });
  const stdin = o.stdin ? session.openStream({ streamType: 'stdin' }) : undefined;
  const stdout = session.openStream({ streamType: 'stdout' });
  const stderr = o.stderr && !o.tty ? session.openStream({ streamType: 'stderr' }) : undefined;
  const resize = o.tty && c.protocol !== 'v2.channel.k8s.io' && c.protocol !== 'channel.k8s.io' ? session.openStream({ streamType: 'resize' }) : undefined;
  const [out, err, status] = [collect(stdout), collect(stderr), collect(error)];
  let seen = '';
  stdout.on('data', (d: Buffer) => (seen += d.toString()));
  await o.drive?.({ stdin, resize, stdout, output: () => seen });
  const result = { stdout: (await out).toString(), stderr: (await err).toString(), error: (await status).toString(), protocol: c.protocol };
  session.destroy();
  return result;
}

const execUrl = async (containerId: string, cmd: string[], o: { stdin?: boolean; stdout?: boolean; stderr?: boolean; tty?: boolean } = {}): Promise<string> =>
  (await cri.runtime.Exec({ containerId, cmd, stdin: o.stdin ?? false, stdout: o.stdout ?? true, stderr: o.stderr ?? !o.tty, tty: o.tty ?? false })).url ?? '';

/** Waits until `check` holds (throws after 10 s); `poke`, when given, runs every 100 ms meanwhile (a line typed). */
const until = async (check: () => boolean, what: string, poke?: () => void): Promise<void> => {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    poke?.();
    await sleep(poke ? 100 : 20);
  }
};

// ---- a WebSocket client --------------------------------------------------------------------

function wsConnect(url: string, protocols: string[]): Promise<{ ws: WebSocket; messages: Array<{ channel: number; data: Buffer }>; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), protocols);
    const messages: Array<{ channel: number; data: Buffer }> = [];
    const closed = new Promise<void>((r) => ws.on('close', () => r()));
    ws.on('message', (d: Buffer) => messages.push({ channel: d[0]!, data: d.subarray(1) }));
    ws.on('open', () => resolve({ ws, messages, closed }));
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('error', reject);
  });
}

const channelText = (messages: Array<{ channel: number; data: Buffer }>, channel: number): string =>
  Buffer.concat(messages.filter((m) => m.channel === channel).map((m) => m.data)).toString();

// ---- set-up --------------------------------------------------------------------------------

beforeAll(async () => {
  cri = await startDockercri();
  sandboxConfig = { ...podConfig({ run }), logDirectory: join(tmpdir(), uniq('pods')) };
  sandboxId = (await cri.runtime.RunPodSandbox({ config: sandboxConfig })).podSandboxId ?? '';
  shell = await runContainer({ command: ['sleep', '100000'] });
  expiringUrl = await execUrl(shell, ['touch', '/tmp/expired-token-ran']);
  expiringIssuedAt = Date.now();
});

afterAll(async () => {
  await removeRunContainers(run);
  await cri?.stop();
});

describe('the rpcs', () => {
  it('answer a URL on 127.0.0.1 with a long token, logged at start', async () => {
    const url = await execUrl(shell, ['true']);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]{22,}$/);
    expect(cri.log()).toContain('"msg":"streaming server listening"');
    const attach = (await cri.runtime.Attach({ containerId: shell, stdout: true })).url ?? '';
    expect(attach).toMatch(/\/attach\//);
    const pf = (await cri.runtime.PortForward({ podSandboxId: sandboxId, port: [80] })).url ?? '';
    expect(pf).toMatch(/\/portforward\//);
  });

  it('reject unknown objects and impossible stream sets', async () => {
    expect((await grpcError(cri.runtime.Exec({ containerId: 'f'.repeat(64), cmd: ['true'], stdout: true }))).code).toBe(Code.NOT_FOUND);
    expect((await grpcError(cri.runtime.Attach({ containerId: 'f'.repeat(64), stdout: true }))).code).toBe(Code.NOT_FOUND);
    expect((await grpcError(cri.runtime.PortForward({ podSandboxId: 'f'.repeat(64) }))).code).toBe(Code.NOT_FOUND);
    expect((await grpcError(cri.runtime.Exec({ containerId: shell, cmd: ['true'] }))).code).toBe(Code.INVALID_ARGUMENT);
    expect((await grpcError(cri.runtime.Exec({ containerId: shell, cmd: ['true'], tty: true, stdout: true, stderr: true }))).code).toBe(Code.INVALID_ARGUMENT);
    expect((await grpcError(cri.runtime.Exec({ containerId: shell, cmd: [], stdout: true }))).code).toBe(Code.INVALID_ARGUMENT);
    expect((await grpcError(cri.runtime.Attach({ containerId: shell }))).code).toBe(Code.INVALID_ARGUMENT);
  });
});

describe('exec over SPDY', () => {
  it('echoes stdin through cat; closing stdin ends the command with Success', async () => {
    const r = await spdyCommand(await execUrl(shell, ['cat'], { stdin: true }), {
      stdin: true,
      stderr: true,
      drive: async ({ stdin }) => {
        stdin!.write('hello ');
        stdin!.end('streaming\n');
      },
    });
    expect(r.protocol).toBe('v4.channel.k8s.io');
    expect(r.stdout).toBe('hello streaming\n');
    expect(JSON.parse(r.error)).toEqual({ metadata: {}, status: 'Success' });
  });

  it('reports exit code 3 as a v4 Status, and as text on v3', async () => {
    const r = await spdyCommand(await execUrl(shell, ['sh', '-c', 'echo out; echo err >&2; exit 3']), { stderr: true });
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
    expect(JSON.parse(r.error)).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
    const v3 = await spdyCommand(await execUrl(shell, ['sh', '-c', 'exit 3']), { stderr: true, protocol: 'v3.channel.k8s.io' });
    expect(v3.protocol).toBe('v3.channel.k8s.io');
    expect(v3.error).toMatch(/non-zero exit code.*3/);
  });

  it('a TTY follows resizes: stty size', async () => {
    // the size is printed for each line typed: a resize reaches the TTY some time after it is sent
    const url = await execUrl(shell, ['sh', '-c', 'while read l && [ "$l" != q ]; do stty size; done'], { stdin: true, tty: true });
    const r = await spdyCommand(url, {
      stdin: true,
      tty: true,
      drive: async ({ stdin, resize, output }) => {
        resize!.write(JSON.stringify({ Width: 100, Height: 30 }) + '\n');
        await until(() => output().includes('30 100'), 'the first size', () => stdin!.write('\n'));
        resize!.write(JSON.stringify({ Width: 120, Height: 40 }) + '\n');
        await until(() => output().includes('40 120'), 'the second size', () => stdin!.write('\n'));
        stdin!.write('q\n');
      },
    });
    expect(r.stdout).toContain('30 100');
    expect(r.stdout).toContain('40 120');
    expect(JSON.parse(r.error).status).toBe('Success');
  });

  it('runs 20 sessions at once', async () => {
    const urls = await Promise.all(Array.from({ length: 20 }, (_, i) => execUrl(shell, ['sh', '-c', `sleep 0.3; echo session-${i}`])));
    const results = await Promise.all(urls.map((u) => spdyCommand(u, { stderr: true })));
    results.forEach((r, i) => {
      expect(r.stdout).toBe(`session-${i}\n`);
      expect(JSON.parse(r.error).status).toBe('Success');
    });
  });

  it('a client that goes away takes its command with it', async () => {
    const marker = String(900_000 + Math.floor(Math.random() * 90_000));
    const c = await spdyConnect(await execUrl(shell, ['sleep', marker]), ['v4.channel.k8s.io']);
    if (!('session' in c)) throw new Error('no session');
    c.session.openStream({ streamType: 'error' });
    c.session.openStream({ streamType: 'stdout' });
    c.session.openStream({ streamType: 'stderr' });
    const running = (): boolean =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .some((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'utf8') === `sleep\0${marker}\0`;
          } catch {
            return false;
          }
        });
    expect(await eventually(async () => running())).toBe(true);
    c.session.socket.destroy();
    expect(await eventually(async () => !running())).toBe(true);
  });
});

describe('exec over WebSocket', () => {
  it('v5: stdin through cat, closed with channel 255, Success on channel 3', async () => {
    const { ws, messages, closed } = await wsConnect(await execUrl(shell, ['cat'], { stdin: true }), ['v5.channel.k8s.io', 'v4.channel.k8s.io']);
    expect(ws.protocol).toBe('v5.channel.k8s.io');
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('over websocket\n')]));
    ws.send(Buffer.from([255, 0]));
    await closed;
    expect(channelText(messages, 1)).toBe('over websocket\n');
    expect(JSON.parse(channelText(messages, 3))).toEqual({ metadata: {}, status: 'Success' });
  });

  it('v4: exit code 3 and stderr', async () => {
    const { messages, closed } = await wsConnect(await execUrl(shell, ['sh', '-c', 'echo oops >&2; exit 3']), ['v4.channel.k8s.io']);
    await closed;
    expect(channelText(messages, 2)).toBe('oops\n');
    expect(JSON.parse(channelText(messages, 3))).toMatchObject({ reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
  });
});

describe('attach', () => {
  it('to a container started with stdin and a TTY', async () => {
    const containerId = await runContainer({ command: ['sh'], stdin: true, tty: true });
    const url = (await cri.runtime.Attach({ containerId, stdin: true, stdout: true, tty: true })).url ?? '';
    const r = await spdyCommand(url, {
      stdin: true,
      tty: true,
      drive: async ({ stdin, resize, output }) => {
        resize!.write(JSON.stringify({ Width: 90, Height: 20 }) + '\n');
        await until(() => output().includes('20 90'), 'the size', () => stdin!.write('stty size\n'));
        stdin!.write('echo attached-$((40+2))\n');
        await until(() => output().includes('attached-42'), 'the shell to answer');
        stdin!.write('exit\n');
      },
    });
    expect(r.stdout).toContain('attached-42');
    expect(r.stdout).toContain('20 90');
  });
});

// ---- port forward --------------------------------------------------------------------------

interface Forwarded {
  data: SpdyStream;
  error: SpdyStream;
  received: Promise<Buffer>;
  errorText: Promise<Buffer>;
}

function forward(session: SpdySession, port: number, requestId: number): Forwarded {
  const error = session.openStream({ streamType: 'error', port: String(port), requestID: String(requestId) });
  const data = session.openStream({ streamType: 'data', port: String(port), requestID: String(requestId) });
  return { data, error, received: collect(data), errorText: collect(error) };
}

describe('port forward', () => {
  beforeAll(async () => {
    await runContainer({ command: ['sh', '-c', 'mkdir -p /www && echo hello-from-the-pod > /www/index.html && exec httpd -f -p 80 -h /www'] });
    const echo = await runContainer({ command: ['nc', '-ll', '-p', '9000', '-e', 'cat'] });
    // both listen in the pod's network namespace once netstat shows them
    const listening = await cri.runtime.ExecSync({ containerId: echo, cmd: ['sh', '-c', "until netstat -ltn | grep -q ':80 ' && netstat -ltn | grep -q ':9000 '; do sleep 0.1; done"], timeout: 20 });
    expect(listening.exitCode).toBe(0);
  });

  it('over SPDY: a page, 10 MiB both ways, several connections, and a closed port on the error stream', async () => {
    const c = await spdyConnect((await cri.runtime.PortForward({ podSandboxId: sandboxId })).url ?? '', ['portforward.k8s.io']);
    if (!('session' in c)) throw new Error(`HTTP ${c.status}`);
    expect(c.protocol).toBe('portforward.k8s.io');
    const pages = [0, 1, 2].map((i) => forward(c.session, 80, i));
    for (const p of pages) p.data.end('GET / HTTP/1.0\r\n\r\n');
    const payload = randomBytes(10 * MiB);
    const echo = forward(c.session, 9000, 10);
    echo.data.end(payload);
    const refused = forward(c.session, 81, 11);
    refused.data.end();
    for (const p of pages) {
      const page = (await p.received).toString();
      expect(page).toMatch(/^HTTP\/1\.[01] 200/);
      expect(page).toContain('hello-from-the-pod');
      expect((await p.errorText).toString()).toBe('');
    }
    const back = await echo.received;
    expect(back.length).toBe(payload.length);
    expect(back.equals(payload)).toBe(true);
    expect((await refused.errorText).toString()).toMatch(/port 81.*(refused|Connection)/i);
    c.session.close();
  });

  it('over WebSocket: ports from the query, the port as the first frame of each channel', async () => {
    const url = (await cri.runtime.PortForward({ podSandboxId: sandboxId, port: [80] })).url ?? '';
    const { ws, messages, closed } = await wsConnect(`${url}?port=80&port=81`, ['v4.channel.k8s.io']);
    await until(() => messages.filter((m) => m.channel <= 3).length >= 4, 'the port frames');
    for (const ch of [0, 1]) expect(messages.find((m) => m.channel === ch)!.data).toEqual(Buffer.from([80, 0]));
    for (const ch of [2, 3]) expect(messages.find((m) => m.channel === ch)!.data).toEqual(Buffer.from([81, 0]));
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('GET / HTTP/1.0\r\n\r\n')]));
    await closed;
    const data = Buffer.concat(messages.filter((m) => m.channel === 0).slice(1).map((m) => m.data)).toString();
    expect(data).toContain('hello-from-the-pod');
    expect(Buffer.concat(messages.filter((m) => m.channel === 3).slice(1).map((m) => m.data)).toString()).toMatch(/port 81/);
  });
});

describe('tokens', () => {
  it('are single use: the second request gets 404 and nothing runs', async () => {
    const url = await execUrl(shell, ['sh', '-c', 'echo x >> /tmp/single-use']);
    const first = await spdyCommand(url, { stderr: true });
    expect(JSON.parse(first.error).status).toBe('Success');
    const again = await spdyConnect(url, ['v4.channel.k8s.io']);
    expect(again).toMatchObject({ status: 404 });
    await expect(wsConnect(url, ['v4.channel.k8s.io'])).rejects.toThrow(/404/);
    const unknown = await spdyConnect(url.replace(/[^/]+$/, 'A'.repeat(32)), ['v4.channel.k8s.io']);
    expect(unknown).toMatchObject({ status: 404 });
    const count = await cri.runtime.ExecSync({ containerId: shell, cmd: ['sh', '-c', 'wc -l < /tmp/single-use'], timeout: 10 });
    expect(Buffer.from(count.stdout as Uint8Array).toString().trim()).toBe('1');
  });

  it('expire after a minute: 404 and nothing runs', async () => {
    const wait = expiringIssuedAt + 61_000 - Date.now();
    if (wait > 0) await sleep(wait);
    const r = await spdyConnect(expiringUrl, ['v4.channel.k8s.io']);
    expect(r).toMatchObject({ status: 404 });
    const check = await cri.runtime.ExecSync({ containerId: shell, cmd: ['sh', '-c', 'test -e /tmp/expired-token-ran && echo ran || echo never'], timeout: 10 });
    expect(Buffer.from(check.stdout as Uint8Array).toString().trim()).toBe('never');
  }, 90_000);
});
