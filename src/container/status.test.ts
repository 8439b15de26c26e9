import { describe, expect, it } from 'vitest';
import type { ContainerInspect } from '../docker/client.js';
import { ContainerState, toContainer, toContainerStatus } from './status.js';

const inspect = (state: Record<string, unknown>): ContainerInspect =>
  ({
    Id: 'c'.repeat(64),
    Name: '/k8s_app_pod_ns_uid_0',
    Created: '2024-05-01T10:00:00.000000000Z',
    Image: 'sha256:' + 'a'.repeat(64),
    Config: { Image: 'busybox', Labels: {} },
    HostConfig: {},
    Mounts: [],
    State: state,
  }) as unknown as ContainerInspect;

describe('toContainerStatus', () => {
  it('reports the start and finish times of an exited container in nanoseconds', () => {
    const s = toContainerStatus(
      inspect({ Status: 'exited', ExitCode: 3, StartedAt: '2024-05-01T10:00:01.000000001Z', FinishedAt: '2024-05-01T10:00:02.5Z' }),
      { labels: {} },
      undefined,
    );
    expect(s.state).toBe(ContainerState.EXITED);
    expect(String(s.startedAt)).toBe('1714557601000000001');
    expect(String(s.finishedAt)).toBe('1714557602500000000');
    expect([s.exitCode, s.reason]).toEqual([3, 'Error']);
  });

  it('never finishes before it started: Docker stamps StartedAt after a process that exits at once may be gone', () => {
    const s = toContainerStatus(
      inspect({ Status: 'exited', ExitCode: 0, StartedAt: '2024-05-01T10:00:01.000300000Z', FinishedAt: '2024-05-01T10:00:01.000000000Z' }),
      { labels: {} },
      undefined,
    );
    expect(String(s.finishedAt)).toBe(String(s.startedAt));
    expect(s.reason).toBe('Completed');
  });

  it('has no start or finish time while created', () => {
    const s = toContainerStatus(inspect({ Status: 'created', StartedAt: '0001-01-01T00:00:00Z', FinishedAt: '0001-01-01T00:00:00Z' }), { labels: {} }, undefined);
    expect([String(s.startedAt), String(s.finishedAt)]).toEqual(['0', '0']);
  });
});

describe('toContainer', () => {
  it('lists the image ID as imageRef, which kubelet\'s image GC matches against ListImages', () => {
    const c = toContainer(inspect({ Status: 'running' }), { labels: {}, repoDigests: ['busybox@sha256:' + 'b'.repeat(64)] });
    expect(c.imageRef).toBe('sha256:' + 'a'.repeat(64));
    expect(c.imageId).toBe('sha256:' + 'a'.repeat(64));
  });
});
