/**
 * The scheduler coordinator: the scheduler side of a node. It spawns one schedule actor per
 * schedule it hears of (the runtime feeds it the schedules bucket's watch) and forwards record
 * changes to it; each schedule actor decides by itself, through its lease, whether to fire.
 *
 *   active ──STOP──▶ stopping (STOP to every schedule) ──(all ended)──▶ stopped
 *   active: SCHEDULE_UPDATED → spawn or forward · SCHEDULE_REMOVED → forward · child ended → forget
 *
 * Effect failures never crash a schedule actor (each invocation has an onError path); a crash
 * means its own computation threw (e.g. the trigger's nextFireTime). Respawning would repeat it, so
 * the coordinator forgets the actor and emits SCHEDULE_CRASHED (`actor.on('SCHEDULE_CRASHED', …)`)
 * for the runtime to report; the next SCHEDULE_UPDATED for that id spawns it afresh.
 */
import { assertEvent, emit, enqueueActions, setup } from 'xstate';
import type { ScheduleRecord } from '../records.js';
import { EffectNotProvidedError, InvalidMachineInputError } from './errors.js';
import { leaseTiming } from './lease-timing.js';
import { createScheduleMachine } from './schedule-machine.js';
import type { ScheduleInput } from './schedule-types.js';

export interface SchedulerInput {
  /** TTL of schedule leases. @defaultValue 30000 */
  leaseDurationMs?: number;
  /** Wait before retrying a lease held elsewhere. @defaultValue leaseDurationMs */
  standbyRetryMs?: number;
}

export type SchedulerEvent =
  /** A schedule appeared or changed (watch); spawns its actor or forwards the record to it. */
  | { type: 'SCHEDULE_UPDATED'; schedule: ScheduleRecord; recordRevision: number; now: number }
  /** A schedule was deleted. */
  | { type: 'SCHEDULE_REMOVED'; scheduleId: string }
  /** Stop every schedule actor (each releases its lease), then stop. */
  | { type: 'STOP' }
  /** Restored from a persisted snapshot: tell the schedule actors to re-arm their timers. */
  | { type: 'RESTORED' };

/** Emitted when a schedule actor crashed (see above). */
export interface ScheduleCrashedEvent {
  type: 'SCHEDULE_CRASHED';
  scheduleId: string;
  error: unknown;
}

type SchedulerMachineEvent =
  | SchedulerEvent
  | { type: `xstate.done.actor.${string}`; output?: unknown }
  | { type: `xstate.error.actor.${string}`; error?: unknown };

export interface SchedulerContext {
  leaseDurationMs: number;
  standbyRetryMs: number;
  /** Last record seen per live schedule actor (the actor's id is the schedule id). */
  /** The schedules with a live actor, with the record each was spawned with (later records go to the actor). */
  schedules: Record<string, { schedule: ScheduleRecord; recordRevision: number }>;
}

const CHILD_EVENT = /^xstate\.(done|error)\.actor\.(.+)$/;

function childScheduleId(context: SchedulerContext, eventType: string): string | undefined {
  const id = CHILD_EVENT.exec(eventType)?.[2];
  return id !== undefined && id in context.schedules ? id : undefined;
}

function scheduleInput(context: SchedulerContext, entry: { schedule: ScheduleRecord; recordRevision: number }): ScheduleInput {
  return {
    schedule: entry.schedule,
    recordRevision: entry.recordRevision,
    leaseDurationMs: context.leaseDurationMs,
    standbyRetryMs: context.standbyRetryMs,
  };
}

/** Placeholder schedule logic: the runtime provides createScheduleMachine(realDeps).provide(...). */
const unprovidedSchedule = createScheduleMachine({
  nextFireTime: () => {
    throw new EffectNotProvidedError('scheduler', 'schedule (nextFireTime)');
  },
  random: () => {
    throw new EffectNotProvidedError('scheduler', 'schedule (random)');
  },
});

export const schedulerMachine = setup({
  types: {} as { context: SchedulerContext; events: SchedulerMachineEvent; input: SchedulerInput; emitted: ScheduleCrashedEvent },
  actors: { schedule: unprovidedSchedule },
  guards: {
    isKnownSchedule: ({ context, event }) =>
      (event.type === 'SCHEDULE_UPDATED' && event.schedule.id in context.schedules) ||
      (event.type === 'SCHEDULE_REMOVED' && event.scheduleId in context.schedules),
    isScheduleEnd: ({ context, event }) => childScheduleId(context, event.type) !== undefined,
    noSchedules: ({ context }) => Object.keys(context.schedules).length === 0,
  },
  actions: {
    spawnSchedule: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'SCHEDULE_UPDATED');
      const entry = { schedule: event.schedule, recordRevision: event.recordRevision };
      enqueue.spawnChild('schedule', { id: event.schedule.id, input: scheduleInput(context, entry) });
      enqueue.assign({ schedules: { ...context.schedules, [event.schedule.id]: entry } });
    }),
    forwardUpdate: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'SCHEDULE_UPDATED');
      // The schedule actor keeps the newest record itself. Not copying the map here matters: every
      // fire advances its record, so with 1,000 schedules firing each second a copy per update
      // was a million property copies a second (the top entry of the profile).
      enqueue.sendTo(event.schedule.id, event);
    }),
    forwardRemoval: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, 'SCHEDULE_REMOVED');
      enqueue.sendTo(event.scheduleId, { type: 'SCHEDULE_REMOVED' });
    }),
    forgetSchedule: enqueueActions(({ context, event, enqueue }) => {
      const id = childScheduleId(context, event.type);
      if (id === undefined) return;
      const { [id]: _ended, ...rest } = context.schedules;
      enqueue.stopChild(id);
      enqueue.assign({ schedules: rest });
    }),
    reportCrash: emit(({ context, event }): ScheduleCrashedEvent => ({
      type: 'SCHEDULE_CRASHED',
      scheduleId: childScheduleId(context, event.type) ?? '',
      error: 'error' in event ? event.error : undefined,
    })),
    stopSchedules: enqueueActions(({ context, enqueue }) => {
      for (const id of Object.keys(context.schedules)) enqueue.sendTo(id, { type: 'STOP' });
    }),
    forwardRestored: enqueueActions(({ context, enqueue }) => {
      for (const id of Object.keys(context.schedules)) enqueue.sendTo(id, { type: 'RESTORED' });
    }),
  },
}).createMachine({
  id: 'scheduler',
  context: ({ input }) => {
    const leaseDurationMs = input.leaseDurationMs ?? 30_000;
    leaseTiming('scheduler', leaseDurationMs);
    const standbyRetryMs = input.standbyRetryMs ?? leaseDurationMs;
    if (!(standbyRetryMs > 0)) {
      throw new InvalidMachineInputError('scheduler', 'standbyRetryMs', standbyRetryMs, 'use a positive ms value');
    }
    return { leaseDurationMs, standbyRetryMs, schedules: {} };
  },
  initial: 'active',
  on: {
    'xstate.done.actor.*': { guard: 'isScheduleEnd', actions: 'forgetSchedule' },
    'xstate.error.actor.*': { guard: 'isScheduleEnd', actions: ['reportCrash', 'forgetSchedule'] },
    RESTORED: { actions: 'forwardRestored' },
  },
  states: {
    active: {
      on: {
        SCHEDULE_UPDATED: [{ guard: 'isKnownSchedule', actions: 'forwardUpdate' }, { actions: 'spawnSchedule' }],
        SCHEDULE_REMOVED: { guard: 'isKnownSchedule', actions: 'forwardRemoval' },
        STOP: 'stopping',
      },
    },
    stopping: {
      entry: 'stopSchedules',
      always: { guard: 'noSchedules', target: 'stopped' },
    },
    stopped: { type: 'final' },
  },
});
