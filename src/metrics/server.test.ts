// The metrics HTTP server on a loopback port, with a health check whose probes the test sets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { HealthCheck } from './health.js';
import { Metrics } from './metrics.js';
import { MetricsServer } from './server.js';

const state = { serving: true, docker: undefined as Error | undefined };
const metrics = new Metrics();
let server: MetricsServer;
let base: string;

beforeAll(async () => {
  const pingDocker = async (): Promise<void> => {
    if (state.docker) throw state.docker;
  };
  const health = new HealthCheck({ grpcServing: () => state.serving, pingDocker }, { pingTimeoutMs: 1000, cacheMs: 0 });
  server = new MetricsServer(metrics.registry, health, { host: '127.0.0.1', port: 0 }, createLogger('fatal'));
  base = await server.listen();
});

afterAll(() => server.close());

describe('MetricsServer', () => {
  it('serves the registry in the Prometheus text format', async () => {
    metrics.rpcFinished('Version', 'OK', 0.001);
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await res.text()).toContain('dockercri_grpc_requests_total{method="Version",code="OK"} 1');
  });

  it('answers /healthz 200 ok while healthy, else 503 with the reason', async () => {
    state.serving = true;
    state.docker = undefined;
    let res = await fetch(`${base}/healthz`);
    expect([res.status, await res.text()]).toEqual([200, 'ok\n']);
    state.docker = new Error('connect ENOENT /var/run/docker.sock');
    res = await fetch(`${base}/healthz`);
    expect([res.status, await res.text()]).toEqual([503, 'docker: connect ENOENT /var/run/docker.sock\n']);
    state.serving = false;
    res = await fetch(`${base}/healthz`);
    expect([res.status, await res.text()]).toEqual([503, 'grpc server not serving\n']);
    state.serving = true;
    state.docker = undefined;
  });

  it('answers HEAD like GET without a body', async () => {
    const res = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });

  it('refuses other methods with 405 and an Allow header', async () => {
    const res = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers 404 for other paths', async () => {
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/x`)).status).toBe(404);
  });

  it('ignores a query string', async () => {
    expect((await fetch(`${base}/healthz?verbose=1`)).status).toBe(200);
  });
});
