// kubelet's SPDY protocols on a session: remote command (streams named by their streamType header)
// and port forward (a data and an error stream per request ID).
import type { Logger } from '../log.js';
import { hasResize, errorStreamMessage, ResizeDecoder, type CommandResult } from './protocol.js';
import { ResizeSource, type ClientStreams } from './remote-command.js';
import type { SpdySession, SpdyStream } from './spdy/session.js';

/** How long the client has to open the streams it announced, as in kubelet. */
export const STREAM_CREATION_TIMEOUT_MS = 30_000;

const endStream = (s: SpdyStream | undefined): Promise<void> =>
  new Promise((resolve) => {
    if (!s || s.destroyed || s.writableEnded) return resolve();
    const timer = setTimeout(resolve, 5000);
    s.end(() => {
      clearTimeout(timer);
      resolve();
    });
  });

export function serveRemoteCommandSpdy(
  session: SpdySession,
  protocol: string,
  opts: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean },
  run: (io: ClientStreams) => Promise<CommandResult>,
  log: Logger,
): void {
  const expected = new Set<string>(['error']);
  if (opts.stdin) expected.add('stdin');
  if (opts.stdout) expected.add('stdout');
  if (opts.stderr && !opts.tty) expected.add('stderr');
  if (opts.tty && hasResize(protocol)) expected.add('resize');
  const streams = new Map<string, SpdyStream>();
  const resize = new ResizeSource();
  const abort = new AbortController();
  let started = false;
  const timer = setTimeout(() => {
    log.warn({ missing: [...expected].filter((t) => !streams.has(t)) }, 'streaming: the client did not open its streams in time');
    session.close();
  }, STREAM_CREATION_TIMEOUT_MS);
  session.on('close', () => {
    clearTimeout(timer);
    abort.abort();
  });
  session.on('stream', (stream) => {
    const type = stream.headers['streamtype'] ?? '';
    if (!expected.has(type) || streams.has(type)) {
      stream.reset();
      return;
    }
    stream.reply();
    streams.set(type, stream);
    if (type === 'resize') {
      const decoder = new ResizeDecoder();
      stream.on('data', (chunk: Buffer) => decoder.push(chunk).forEach((s) => resize.push(s)));
    }
    if (type === 'error' || type === 'stdout' || type === 'stderr') stream.resume();
    if (streams.size === expected.size && !started) {
      started = true;
      clearTimeout(timer);
      void execute();
    }
  });
  const execute = async (): Promise<void> => {
    const result = await run({ stdin: streams.get('stdin'), stdout: streams.get('stdout'), stderr: streams.get('stderr'), resize, signal: abort.signal });
    if (session.isClosed) return;
    await Promise.all([endStream(streams.get('stdout')), endStream(streams.get('stderr'))]);
    const message = errorStreamMessage(result, protocol);
    const errorStream = streams.get('error');
    if (message && errorStream && !errorStream.destroyed) errorStream.write(message);
    await endStream(errorStream);
    session.close();
  };
}

export function servePortForwardSpdy(session: SpdySession, forward: (port: number, stream: SpdyStream, signal: AbortSignal) => Promise<void>, describe: (port: number, err: string) => string, log: Logger): void {
  const pairs = new Map<string, { data?: SpdyStream; error?: SpdyStream; timer: NodeJS.Timeout }>();
  const abort = new AbortController();
  session.on('close', () => {
    abort.abort();
    for (const p of pairs.values()) clearTimeout(p.timer);
  });
  session.on('stream', (stream) => {
    const type = stream.headers['streamtype'];
    const port = Number(stream.headers['port']);
    if ((type !== 'data' && type !== 'error') || !Number.isInteger(port) || port <= 0 || port > 65535) {
      stream.reset();
      return;
    }
    stream.reply();
    // clients before request IDs paired an error stream with the data stream opened right after it
    const requestId = stream.headers['requestid'] ?? String(type === 'error' ? stream.id : stream.id - 2);
    let pair = pairs.get(requestId);
    if (!pair) {
      pair = {
        timer: setTimeout(() => {
          pairs.delete(requestId);
          pair?.data?.reset();
          pair?.error?.reset();
          log.warn({ requestId }, 'port forward: the stream pair was not completed in time');
        }, STREAM_CREATION_TIMEOUT_MS),
      };
      pairs.set(requestId, pair);
    }
    if (pair[type]) {
      stream.reset();
      return;
    }
    pair[type] = stream;
    if (type === 'error') stream.resume();
    const { data, error } = pair;
    if (!data || !error) return;
    clearTimeout(pair.timer);
    pairs.delete(requestId);
    forward(port, data, abort.signal)
      .catch((err: Error) => {
        log.debug({ port, err: err.message }, 'port forward failed');
        if (!error.destroyed) error.write(describe(port, err.message));
      })
      .finally(() => {
        void endStream(error);
        void endStream(data);
      });
  });
}
