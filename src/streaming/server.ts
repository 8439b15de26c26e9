// dockercri's streaming HTTP server: /exec/<token>, /attach/<token>, /portforward/<token>, as
// kubelet's. The client's upgrade headers pick the protocol: SPDY/3.1 or WebSocket.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import type { Logger } from '../log.js';
import { record } from '../metrics/index.js';
import { negotiate, SPDY_PORT_FORWARD_PROTOCOLS, SPDY_REMOTE_COMMAND_PROTOCOLS, type CommandResult } from './protocol.js';
import type { ClientStreams } from './remote-command.js';
import type { StreamRequest, TokenRegistry } from './tokens.js';
import { PORT_FORWARD_PROTOCOLS, REMOTE_COMMAND_PROTOCOLS } from './websocket/channels.js';

export interface StreamingBackend {
  exec(req: Extract<StreamRequest, { kind: 'exec' }>, io: ClientStreams): Promise<CommandResult>;
  attach(req: Extract<StreamRequest, { kind: 'attach' }>, io: ClientStreams): Promise<CommandResult>;
  /** Carries one connection to `port` in the sandbox's network namespace; rejects when it fails. */
  portForward(sandboxDockerId: string, port: number, stream: Duplex, signal: AbortSignal): Promise<void>;
}

export interface StreamingServerOptions {
  /** --streaming-bind-addr: IP or IP:PORT; empty for a free port on 127.0.0.1. */
  bindAddr: string;
  idleTimeoutMs: number;
}

const PATH = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]{1,128})$/;

/** IP, or IP:PORT ([v6]:PORT), as the flag accepts it; an IP alone gets a free port. */
export function parseBindAddr(addr: string): { host: string; port: number } {
  if (addr === '') return { host: '127.0.0.1', port: 0 };
  if (isIP(addr)) return { host: addr, port: 0 };
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(addr);
  return { host: m?.[1] ?? m?.[2] ?? '127.0.0.1', port: Number(m?.[3] ?? 0) };
}

function reject(socket: Duplex, code: number, reason: string, body = ''): void {
  socket.end(`HTTP/1.1 ${code} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * The SPDY and WebSocket transports (ws, zlib, the SPDY framer) are loaded on the first session
 * that needs one: an idle node carries neither.
 */
const spdyTransport = async (): Promise<typeof import('./spdy/session.js') & typeof import('./spdy-server.js')> => ({ ...(await import('./spdy/session.js')), ...(await import('./spdy-server.js')) });
const webSocketTransport = async (): Promise<typeof import('ws') & typeof import('./websocket-server.js')> => ({ ...(await import('ws')), ...(await import('./websocket-server.js')) });

export class StreamingServer {
  private readonly http: Server;
  private wss?: WebSocketServer;
  private base = '';

  constructor(
    private readonly tokens: TokenRegistry,
    private readonly backend: StreamingBackend,
    private readonly opts: StreamingServerOptions,
    private readonly log: Logger,
  ) {
    this.http = createServer((req, res) => this.onRequest(req, res));
    this.http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    this.http.on('clientError', (_err, socket) => socket.destroy());
  }

  /** Listens on the bind address; resolves to the base URL (http://host:port). */
  async listen(): Promise<string> {
    const { host, port } = parseBindAddr(this.opts.bindAddr);
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const addr = this.http.address() as AddressInfo;
    const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.base = `http://${shown}:${addr.port}`;
    return this.base;
  }

  /** The URL a client uses for a request just registered under `token`. */
  url(kind: StreamRequest['kind'], token: string): string {
    return `${this.base}/${kind}/${token}`;
  }

  close(): void {
    this.wss?.close();
    this.http.close();
    this.http.closeAllConnections();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const route = PATH.exec(new URL(req.url ?? '/', 'http://x').pathname);
    // a plain request spends no token: only an upgrade can use one
    res.statusCode = route ? 400 : 404;
    res.setHeader('Content-Type', 'text/plain');
    res.end(route ? 'an upgrade to SPDY/3.1 or WebSocket is required\n' : 'not found\n');
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://x');
    const route = PATH.exec(url.pathname);
    const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
    if (!route) return reject(socket, 404, 'Not Found', 'not found\n');
    const kind = route[1] as StreamRequest['kind'];
    const request = this.tokens.consume(route[2]!);
    if (!request || request.kind !== kind) return reject(socket, 404, 'Not Found', 'unknown or expired token\n');
    if (this.opts.idleTimeoutMs > 0) socket.setTimeout(this.opts.idleTimeoutMs, () => socket.destroy());
    const log = this.log.child({ stream: kind, ...('dockerId' in request ? { containerId: request.dockerId } : { podSandboxId: request.sandboxDockerId }) });
    const failed = (err: Error): void => {
      log.error({ err: err.message }, 'cannot load the streaming transport');
      socket.destroy();
    };
    if (upgrade === 'spdy/3.1') return void this.upgradeSpdy(req, socket, head, request, log).catch(failed);
    if (upgrade === 'websocket') return void this.upgradeWebSocket(req, socket, head, request, url, log).catch(failed);
    reject(socket, 400, 'Bad Request', `unsupported upgrade ${JSON.stringify(upgrade)}: SPDY/3.1 or websocket\n`);
  }

  /**
   * Holds what the client sends while a transport loads: after the upgrade event the socket
   * flows with no listener, and bytes read then would be lost.
   */
  private async loadFor<T>(socket: Socket, load: () => Promise<T>): Promise<T> {
    socket.pause();
    const transport = await load();
    // data flows again from the next tick on, once the session below listens
    socket.resume();
    return transport;
  }

  private async upgradeSpdy(req: IncomingMessage, socket: Socket, head: Buffer, request: StreamRequest, log: Logger): Promise<void> {
    const supported = request.kind === 'portforward' ? SPDY_PORT_FORWARD_PROTOCOLS : SPDY_REMOTE_COMMAND_PROTOCOLS;
    const negotiated = negotiate(req.headers['x-stream-protocol-version'], supported);
    if (negotiated === undefined) return reject(socket, 403, 'Forbidden', `none of the offered protocols is supported; use one of ${supported.join(', ')}\n`);
    const protocol = negotiated || (request.kind === 'portforward' ? 'portforward.k8s.io' : 'channel.k8s.io');
    const { SpdySession, servePortForwardSpdy, serveRemoteCommandSpdy } = await this.loadFor(socket, spdyTransport);
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
    socket.setNoDelay(true);
    if (head.length > 0) socket.unshift(head);
    const session = new SpdySession(socket, 'server');
    log.debug({ protocol, transport: 'spdy' }, 'streaming session started');
    const closed = record.sessionOpened(request.kind);
    session.on('close', () => {
      closed();
      log.debug('streaming session ended');
    });
    this.serve(request, log, {
      command: (opts, run) => serveRemoteCommandSpdy(session, protocol, opts, run, log),
      portForward: (describe) => servePortForwardSpdy(session, (port, stream, signal) => this.backend.portForward(request.kind === 'portforward' ? request.sandboxDockerId : '', port, stream, signal), describe, log),
    });
  }

  private async upgradeWebSocket(req: IncomingMessage, socket: Socket, head: Buffer, request: StreamRequest, url: URL, log: Logger): Promise<void> {
    const supported: readonly string[] = request.kind === 'portforward' ? PORT_FORWARD_PROTOCOLS : REMOTE_COMMAND_PROTOCOLS;
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    const protocol = offered.find((p) => supported.includes(p));
    if (!protocol) return reject(socket, 400, 'Bad Request', `offer one of the subprotocols ${supported.join(', ')}\n`);
    let ports: number[] = [];
    if (request.kind === 'portforward') {
      const asked = url.searchParams.getAll('port');
      ports = asked.length > 0 ? asked.map(Number) : request.ports;
      if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p <= 0 || p > 65535)) return reject(socket, 400, 'Bad Request', 'port forwarding over WebSocket needs ports 1-65535 in the query (?port=80)\n');
    }
    const { WebSocketServer, servePortForwardWs, serveRemoteCommandWs } = await this.loadFor(socket, webSocketTransport);
    this.wss ??= new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      log.debug({ protocol, transport: 'websocket' }, 'streaming session started');
      const closed = record.sessionOpened(request.kind);
      ws.on('close', () => {
        closed();
        log.debug('streaming session ended');
      });
      this.serve(request, log, {
        command: (opts, run) => serveRemoteCommandWs(ws, protocol, opts, run, log),
        portForward: (describe) =>
          servePortForwardWs(ws, protocol, ports, (port, stream, signal) => this.backend.portForward(request.kind === 'portforward' ? request.sandboxDockerId : '', port, stream, signal), describe, log),
      });
    });
  }

  private serve(
    request: StreamRequest,
    log: Logger,
    transport: {
      command: (opts: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }, run: (io: ClientStreams) => Promise<CommandResult>) => void;
      portForward: (describe: (port: number, err: string) => string) => void;
    },
  ): void {
    switch (request.kind) {
      case 'exec':
        return transport.command(request, (io) => this.backend.exec(request, io));
      case 'attach':
        return transport.command(request, (io) => this.backend.attach(request, io));
      case 'portforward':
        log.debug({ ports: request.ports }, 'port forward session');
        return transport.portForward((port, err) => `error forwarding port ${port} to pod ${request.sandboxDockerId}: ${err}`);
    }
  }
}
