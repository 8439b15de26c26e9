// enableMetrics() sets module state, so its tests live in a file of their own.
import { describe, expect, it } from 'vitest';
import { enableMetrics, record } from './metrics.js';

const text = (): Promise<string> => enableMetrics().registry.metrics();

describe('record after enableMetrics', () => {
  it('records into the one active registry, with the usual process metrics beside', async () => {
    const m = enableMetrics();
    expect(enableMetrics()).toBe(m);
    expect(record.enabled).toBe(true);
    record.rpcFinished('ListContainers', 'OK', 0.004);
    await record.dockerCall('inspect_image', process.hrtime.bigint(), Promise.resolve(undefined));
    await record.dockerCall('ping', process.hrtime.bigint(), Promise.reject(new Error('down'))).catch(() => undefined);
    record.cniPlugin('loopback', 'ADD', 0.002, false);
    const out = await text();
    expect(out).toContain('dockercri_grpc_requests_total{method="ListContainers",code="OK"} 1');
    expect(out).toContain('dockercri_docker_request_duration_seconds_count{operation="inspect_image"} 1');
    expect(out).toContain('dockercri_docker_request_errors_total{operation="ping"} 1');
    expect(out).toContain('dockercri_cni_plugin_duration_seconds_count{plugin="loopback",command="ADD"} 1');
    expect(out).toMatch(/^process_start_time_seconds \d+/m);
    expect(out).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(out).toMatch(/^nodejs_heap_size_used_bytes \d+/m);
  });

  it('closes a streaming session once however often its close is called', async () => {
    const closed = record.sessionOpened('attach');
    expect(await text()).toContain('dockercri_streaming_sessions{kind="attach"} 1');
    closed();
    closed();
    expect(await text()).toContain('dockercri_streaming_sessions{kind="attach"} 0');
  });

  it('swallows a value prom-client refuses instead of throwing into the caller', () => {
    expect(() => record.rpcFinished('Version', 'OK', Number.NaN)).not.toThrow();
  });
});
