import { describe, expect, it } from 'vitest';
import type { ContainerInspect } from '../docker/client.js';
import { EventType, removal, transitions, type Known } from './transitions.js';

const ZERO = '0001-01-01T00:00:00Z';
const T1 = '2024-01-01T00:00:01.5Z';
const T2 = '2024-01-01T00:00:09Z';
const inspect = (Status: string, StartedAt = ZERO): ContainerInspect => ({ State: { Status, StartedAt } }) as unknown as ContainerInspect;
const { CREATED, STARTED, STOPPED, DELETED } = EventType;

describe('transitions', () => {
  it.each<[string, Known | undefined, ContainerInspect, number[]]>([
    ['a new created container', undefined, inspect('created'), [CREATED]],
    ['a new running container', undefined, inspect('running', T1), [CREATED, STARTED]],
    ['a new exited container that ran', undefined, inspect('exited', T1), [CREATED, STARTED, STOPPED]],
    ['a new exited container that never ran', undefined, inspect('exited'), [CREATED]],
    ['created → running', { phase: 'created', startedAt: ZERO }, inspect('running', T1), [STARTED]],
    ['created → exited, the start missed', { phase: 'created', startedAt: ZERO }, inspect('exited', T1), [STARTED, STOPPED]],
    ['running → exited', { phase: 'running', startedAt: T1 }, inspect('exited', T1), [STOPPED]],
    ['running → running (a refresh)', { phase: 'running', startedAt: T1 }, inspect('running', T1), []],
    ['running → running restarted', { phase: 'running', startedAt: T1 }, inspect('running', T2), [STOPPED, STARTED]],
    ['exited → running', { phase: 'exited', startedAt: T1 }, inspect('running', T2), [STARTED]],
    ['exited → exited (a refresh)', { phase: 'exited', startedAt: T1 }, inspect('exited', T1), []],
    ['exited → exited after a missed run', { phase: 'exited', startedAt: T1 }, inspect('exited', T2), [STARTED, STOPPED]],
    ['removing keeps what was known', { phase: 'exited', startedAt: T1 }, inspect('removing', T1), []],
  ])('%s', (_name, prev, now, want) => {
    expect(transitions(prev, now).events).toEqual(want);
  });

  it('remembers the new state', () => {
    expect(transitions(undefined, inspect('running', T1)).next).toEqual({ phase: 'running', startedAt: T1 });
    expect(transitions(undefined, inspect('removing')).next).toBeUndefined();
  });
});

describe('removal', () => {
  it('stops a running container before deleting it', () => {
    expect(removal({ phase: 'running', startedAt: T1 })).toEqual([STOPPED, DELETED]);
    expect(removal({ phase: 'exited', startedAt: T1 })).toEqual([DELETED]);
    expect(removal(undefined)).toEqual([]);
  });
});
