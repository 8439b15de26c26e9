import { describe, expect, it } from 'vitest';
import { dockerOperation, Metrics, record } from './metrics.js';

describe('dockerOperation', () => {
  it.each([
    ['ping', 'ping'],
    ['inspectContainer', 'inspect_container'],
    ['listContainerIds', 'list_container_ids'],
    ['pullImage', 'pull_image'],
    ['subscribeEvents', 'subscribe_events'],
  ])('%s → %s', (method, label) => {
    expect(dockerOperation(method)).toBe(label);
  });
});

/** The value of one sample line of the text exposition, or undefined when it is absent. */
async function sample(m: Metrics, series: string): Promise<number | undefined> {
  const text = await m.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Metrics', () => {
  it('counts rpcs by method and code and times them by method', async () => {
    const m = new Metrics();
    let inFlight = 2;
    m.countRpcsInFlight(() => inFlight);
    expect(await sample(m, 'dockercri_grpc_requests_in_flight')).toBe(2);
    m.rpcFinished('ListPodSandbox', 'OK', 0.002);
    m.rpcFinished('ContainerStatus', 'NOT_FOUND', 0.3);
    inFlight = 0;
    expect(await sample(m, 'dockercri_grpc_requests_in_flight')).toBe(0);
    expect(await sample(m, 'dockercri_grpc_requests_total{method="ListPodSandbox",code="OK"}')).toBe(1);
    expect(await sample(m, 'dockercri_grpc_requests_total{method="ContainerStatus",code="NOT_FOUND"}')).toBe(1);
    expect(await sample(m, 'dockercri_grpc_request_duration_seconds_bucket{le="0.0025",method="ListPodSandbox"}')).toBe(1);
    expect(await sample(m, 'dockercri_grpc_request_duration_seconds_bucket{le="0.25",method="ContainerStatus"}')).toBe(0);
    expect(await sample(m, 'dockercri_grpc_request_duration_seconds_bucket{le="0.5",method="ContainerStatus"}')).toBe(1);
    expect(await sample(m, 'dockercri_grpc_request_duration_seconds_count{method="ContainerStatus"}')).toBe(1);
  });

  it('times Docker calls by operation and counts the failed ones', async () => {
    const m = new Metrics();
    m.dockerCall('inspect_container', 0.01, false);
    m.dockerCall('inspect_container', 0.02, true);
    expect(await sample(m, 'dockercri_docker_request_duration_seconds_count{operation="inspect_container"}')).toBe(2);
    expect(await sample(m, 'dockercri_docker_request_errors_total{operation="inspect_container"}')).toBe(1);
  });

  it('times CNI plugins by plugin and command', async () => {
    const m = new Metrics();
    m.cniPlugin('bridge', 'ADD', 0.05, false);
    m.cniPlugin('portmap', 'DEL', 0.01, true);
    expect(await sample(m, 'dockercri_cni_plugin_duration_seconds_count{plugin="bridge",command="ADD"}')).toBe(1);
    expect(await sample(m, 'dockercri_cni_plugin_errors_total{plugin="portmap",command="DEL"}')).toBe(1);
    expect(await sample(m, 'dockercri_cni_plugin_errors_total{plugin="bridge",command="ADD"}')).toBeUndefined();
  });

  it('shows every streaming kind from the start and follows opens and closes', async () => {
    const m = new Metrics();
    expect(await sample(m, 'dockercri_streaming_sessions{kind="exec"}')).toBe(0);
    expect(await sample(m, 'dockercri_streaming_sessions{kind="attach"}')).toBe(0);
    expect(await sample(m, 'dockercri_streaming_sessions{kind="portforward"}')).toBe(0);
    m.sessionOpened('exec');
    m.sessionOpened('exec');
    m.sessionOpened('portforward');
    m.sessionClosed('exec');
    expect(await sample(m, 'dockercri_streaming_sessions{kind="exec"}')).toBe(1);
    expect(await sample(m, 'dockercri_streaming_sessions{kind="portforward"}')).toBe(1);
  });

  it('reads the event subscribers at each scrape', async () => {
    const m = new Metrics();
    expect(await sample(m, 'dockercri_event_subscribers')).toBe(0);
    let n = 3;
    m.countEventSubscribers(() => n);
    expect(await sample(m, 'dockercri_event_subscribers')).toBe(3);
    n = 1;
    expect(await sample(m, 'dockercri_event_subscribers')).toBe(1);
  });

  it('keeps two registries apart', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.rpcFinished('Version', 'OK', 0.001);
    expect(await sample(a, 'dockercri_grpc_requests_total{method="Version",code="OK"}')).toBe(1);
    expect(await sample(b, 'dockercri_grpc_requests_total{method="Version",code="OK"}')).toBeUndefined();
  });

  it('names every metric of its own dockercri_*, and counters *_total', async () => {
    const names = (await new Metrics().registry.getMetricsAsJSON()).map((j) => ({ name: j.name, type: String(j.type) }));
    expect(names.length).toBeGreaterThan(0);
    for (const { name, type } of names) {
      expect(name).toMatch(/^dockercri_[a-z_]+$/);
      if (type === 'counter') expect(name).toMatch(/_total$/);
      if (type === 'histogram') expect(name).toMatch(/_seconds$/);
    }
  });
});

describe('record before enableMetrics', () => {
  it('is off and does nothing, passing Docker results through', async () => {
    expect(record.enabled).toBe(false);
    record.rpcFinished('Version', 'OK', 0.001);
    record.cniPlugin('bridge', 'ADD', 0.01, false);
    record.sessionOpened('exec')();
    await expect(record.dockerCall('ping', process.hrtime.bigint(), Promise.resolve('pong'))).resolves.toBe('pong');
    await expect(record.dockerCall('ping', process.hrtime.bigint(), Promise.reject(new Error('down')))).rejects.toThrow('down');
  });
});
