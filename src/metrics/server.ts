// The HTTP server of --metrics-bind-addr: GET /metrics (Prometheus text format) and GET /healthz.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { HealthCheck } from './health.js';

export interface MetricsServerOptions {
  host: string;
  port: number;
}

export class MetricsServer {
  private readonly http: Server;

  constructor(
    private readonly registry: Registry,
    private readonly health: HealthCheck,
    private readonly opts: MetricsServerOptions,
    private readonly log: Logger,
  ) {
    this.http = createServer((req, res) => {
      this.onRequest(req, res).catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message, path: req.url }, 'metrics request failed');
        if (!res.headersSent) answer(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else res.destroy();
      });
    });
    this.http.on('clientError', (_err, socket) => socket.destroy());
  }

  /** Listens on the bind address; resolves to the base URL (http://host:port). */
  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.opts.port, this.opts.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const addr = this.http.address() as AddressInfo;
    return `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  }

  close(): void {
    this.http.close();
    this.http.closeAllConnections();
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== '/metrics' && path !== '/healthz') return answer(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics or /healthz\n');
    // HEAD is GET without the body: probes such as `wget --spider` send it
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return answer(res, 405, 'text/plain; charset=utf-8', 'method not allowed: use GET\n');
    }
    if (path === '/metrics') return answer(res, 200, this.registry.contentType, await this.registry.metrics());
    const health = await this.health.check();
    if (health.healthy) return answer(res, 200, 'text/plain; charset=utf-8', 'ok\n');
    answer(res, 503, 'text/plain; charset=utf-8', `${health.reason}\n`);
  }
}

function answer(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
