// kubelet's WebSocket protocols: remote command over channel.k8s.io (v1 to v5) and port forward
// (per port a data and an error channel, each opened by a message carrying the port).
import { Duplex, PassThrough, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../log.js';
import { errorStreamMessage, ResizeDecoder, type CommandResult } from './protocol.js';
import { ResizeSource, type ClientStreams } from './remote-command.js';
import { Channel, decodeChannelMessage, encodeChannelMessage, isBase64Protocol, portChannels, portPrefix } from './websocket/channels.js';

/** A Writable whose chunks go out as messages of one channel; the callback waits for the socket. */
function channelWriter(ws: WebSocket, channel: number, base64: boolean): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (ws.readyState !== ws.OPEN) return cb();
      ws.send(encodeChannelMessage(channel, chunk, base64), { binary: !base64 }, () => cb());
    },
  });
}

const closeSoon = (ws: WebSocket): void => {
  if (ws.readyState === ws.OPEN) ws.close(1000);
  setTimeout(() => ws.terminate(), 5000).unref();
};

export function serveRemoteCommandWs(
  ws: WebSocket,
  protocol: string,
  opts: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean },
  run: (io: ClientStreams) => Promise<CommandResult>,
  log: Logger,
): void {
  const base64 = isBase64Protocol(protocol);
  const closeSupported = protocol.startsWith('v5.');
  const stdin = opts.stdin ? new PassThrough() : undefined;
  const stdout = opts.stdout ? channelWriter(ws, Channel.STDOUT, base64) : undefined;
  const stderr = opts.stderr && !opts.tty ? channelWriter(ws, Channel.STDERR, base64) : undefined;
  const resize = new ResizeSource();
  const decoder = new ResizeDecoder();
  const abort = new AbortController();
  ws.on('close', () => abort.abort());
  ws.on('error', () => abort.abort());
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    let msg;
    try {
      msg = decodeChannelMessage(data, isBinary, base64, closeSupported);
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'websocket: unreadable message');
      return;
    }
    if (msg.kind === 'close') {
      if (msg.channel === Channel.STDIN) stdin?.end();
      return;
    }
    if (msg.channel === Channel.STDIN) {
      if (stdin && !stdin.writableEnded) stdin.write(msg.payload);
    } else if (msg.channel === Channel.RESIZE) {
      for (const s of decoder.push(msg.payload)) resize.push(s);
    }
  });
  void (async () => {
    const result = await run({ stdin, stdout, stderr, resize, signal: abort.signal });
    if (ws.readyState !== ws.OPEN) return;
    await Promise.all([stdout, stderr].map((w) => (w ? new Promise<void>((r) => w.end(r)) : undefined)));
    const message = errorStreamMessage(result, protocol);
    if (message && ws.readyState === ws.OPEN) await new Promise<void>((r) => ws.send(encodeChannelMessage(Channel.ERROR, message, base64), { binary: !base64 }, () => r()));
    closeSoon(ws);
  })();
}

export function servePortForwardWs(
  ws: WebSocket,
  protocol: string,
  ports: number[],
  forward: (port: number, stream: Duplex, signal: AbortSignal) => Promise<void>,
  describe: (port: number, err: string) => string,
  log: Logger,
): void {
  const base64 = isBase64Protocol(protocol);
  const abort = new AbortController();
  const inputs = new Map<number, PassThrough>();
  ws.on('close', () => abort.abort());
  ws.on('error', () => abort.abort());
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    let msg;
    try {
      msg = decodeChannelMessage(data, isBinary, base64, true);
    } catch {
      return;
    }
    const input = inputs.get(msg.channel);
    if (!input || input.writableEnded) return;
    if (msg.kind === 'close') input.end();
    else input.write(msg.payload);
  });
  const sessions = ports.map(async (port, i) => {
    const ch = portChannels(i);
    const input = new PassThrough();
    inputs.set(ch.data, input);
    const output = channelWriter(ws, ch.data, base64);
    ws.send(encodeChannelMessage(ch.data, portPrefix(port), base64), { binary: !base64 });
    ws.send(encodeChannelMessage(ch.error, portPrefix(port), base64), { binary: !base64 });
    const stream = Duplex.from({ readable: input, writable: output });
    try {
      await forward(port, stream, abort.signal);
    } catch (err) {
      log.debug({ port, err: (err as Error).message }, 'port forward failed');
      if (ws.readyState === ws.OPEN) ws.send(encodeChannelMessage(ch.error, Buffer.from(describe(port, (err as Error).message)), base64), { binary: !base64 });
    }
  });
  void Promise.all(sessions).then(() => closeSoon(ws));
}
