// Docker inspect snapshots → the CRI container events between them. Pure: no I/O.
import type { ContainerInspect } from '../docker/client.js';

export const EventType = { CREATED: 0, STARTED: 1, STOPPED: 2, DELETED: 3 } as const;
export type EventTypeValue = (typeof EventType)[keyof typeof EventType];

type Phase = 'created' | 'running' | 'exited';

/** What the events room last told subscribers about one container. */
export interface Known {
  phase: Phase;
  startedAt: string;
}

function phaseOf(inspect: ContainerInspect): Phase | undefined {
  switch (inspect.State?.Status) {
    case 'created':
      return 'created';
    case 'running':
    case 'paused':
    case 'restarting':
      return 'running';
    case 'exited':
    case 'dead':
      return 'exited';
    default:
      return undefined;
  }
}

const hasStarted = (startedAt: string): boolean => startedAt !== '' && !startedAt.startsWith('0001-01-01');

/**
 * The events that lead from what subscribers know to the container's current state. Derived from
 * states, not from Docker's event names, so a refresh after dockercri's own mutation, a missed
 * event or a resync after Docker restarted yields each transition once and in order.
 */
export function transitions(prev: Known | undefined, inspect: ContainerInspect): { events: EventTypeValue[]; next: Known | undefined } {
  const phase = phaseOf(inspect) ?? prev?.phase;
  if (!phase) return { events: [], next: prev };
  const startedAt = inspect.State?.StartedAt ?? '';
  const next: Known = { phase, startedAt };
  const events: EventTypeValue[] = [];
  const restarted = prev !== undefined && hasStarted(startedAt) && startedAt !== prev.startedAt;
  if (!prev) events.push(EventType.CREATED);
  const was = prev?.phase ?? 'created';
  if (phase === 'running') {
    if (was === 'running' && restarted) events.push(EventType.STOPPED, EventType.STARTED);
    else if (was !== 'running') events.push(EventType.STARTED);
  } else if (phase === 'exited') {
    if (was === 'running') events.push(EventType.STOPPED);
    else if (was === 'created' && hasStarted(startedAt)) events.push(EventType.STARTED, EventType.STOPPED);
    else if (was === 'exited' && restarted) events.push(EventType.STARTED, EventType.STOPPED);
  }
  return { events, next };
}

/** The events of a container's removal: a running one stops first. */
export function removal(prev: Known | undefined): EventTypeValue[] {
  if (!prev) return [];
  return prev.phase === 'running' ? [EventType.STOPPED, EventType.DELETED] : [EventType.DELETED];
}
