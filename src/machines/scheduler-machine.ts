/**
 * The scheduler: the schedule side of a node. The node's schedule host holds every schedule of the
 * partitions this node owns, in memory, with one timer heap; when a schedule's fire time comes the
 * heap sends FIRE_DUE, and the scheduler starts a schedule actor for that firing (at most one per
 * schedule at a time, at most `maxFirings` at once) and books it until FIRING_ENDED.
 *
 *   active ── FIRE_DUE ──▶ (already firing → ignored · a slot free → startFiring · none → deferFiring:
 *                            the host offers it again as soon as a firing ends)
 *     │      FIRING_ENDED ─▶ forget it, firingEnded (the host re-arms the heap)
 *     │      PARTITIONS_CHANGED ─▶ the partitions held (for status and the inspector)
 *     └─STOP─▶ stopping ─(no firing left)─▶ stopped
 *
 * A schedule actor that crashed (its own computation threw, e.g. a trigger's nextFireTime) never
 * reports FIRING_ENDED: its host sends FIRING_CRASHED, which frees the slot, and the scheduler emits
 * SCHEDULE_CRASHED (`actor.on('SCHEDULE_CRASHED', …)`) for the runtime to report. The scheduler
 * never reads a child's id: XState memoizes transition candidates per event type for good, so
 * done events named after each schedule (`xstate.done.actor.<scheduleId>`) would grow that memo
 * with every schedule ever fired here; the host gives every firing one id.
 */
import { assertEvent, assign, emit, setup } from 'xstate';
import { InvalidMachineInputError } from './errors.js';
import type { FiringEndedEvent, ScheduleOutput } from './schedule-types.js';
import { sortedHas, sortedIndexOf, sortedWithout } from './worker-plan.js';

export interface SchedulerInput {
  /**
   * Most schedule actors firing at once on this node; more due schedules wait their turn (as soon as
   * a firing ends). More at once only makes a burst of simultaneous fire times slower (measured with
   * 1,000 schedules due at the same second). @defaultValue 256
   */
  maxFirings?: number;
}

export type SchedulerEvent =
  /** The timer heap: this schedule's next fire time has come. */
  | { type: 'FIRE_DUE'; scheduleId: string }
  /** The partitions this node holds now (sorted). */
  | { type: 'PARTITIONS_CHANGED'; partitions: number[] }
  /** Let the firings in flight end, then stop. */
  | { type: 'STOP' }
  /** Restored from a persisted snapshot: nothing to re-arm (the host's heap is not persisted). */
  | { type: 'RESTORED' }
  /** The host: the schedule actor of this firing crashed (it will never report FIRING_ENDED). */
  | { type: 'FIRING_CRASHED'; scheduleId: string; error: unknown };

/** Emitted when a schedule actor crashed (see above). */
export interface ScheduleCrashedEvent {
  type: 'SCHEDULE_CRASHED';
  scheduleId: string;
  error: unknown;
}

type SchedulerMachineEvent = SchedulerEvent | FiringEndedEvent | { type: `xstate.error.actor.${string}`; error?: unknown };

export interface SchedulerContext {
  maxFirings: number;
  /** Ids of the schedules firing now (sorted). */
  firing: string[];
  /** Partitions held (sorted). */
  partitions: number[];
}

const dueId = ({ event }: { event: SchedulerMachineEvent }): { scheduleId: string } => {
  assertEvent(event, 'FIRE_DUE');
  return { scheduleId: event.scheduleId };
};

export const schedulerMachine = setup({
  types: {} as { context: SchedulerContext; events: SchedulerMachineEvent; input: SchedulerInput; emitted: ScheduleCrashedEvent },
  guards: {
    isFiring: ({ context, event }) => event.type === 'FIRE_DUE' && sortedHas(context.firing, event.scheduleId),
    hasFiringSlot: ({ context }) => context.firing.length < context.maxFirings,
    isFiringEnd: ({ context, event }) => event.type === 'FIRING_ENDED' && sortedHas(context.firing, event.output.scheduleId),
    isFiringCrash: ({ context, event }) => event.type === 'FIRING_CRASHED' && sortedHas(context.firing, event.scheduleId),
    noFirings: ({ context }) => context.firing.length === 0,
  },
  actions: {
    // ---- effects (provided by src/actors) ----
    /** Effect: run a schedule actor for this firing, with the scheduler as its parent. */
    startFiring: (_, _params: { scheduleId: string }) => {},
    /** Effect: no slot free — the host offers this schedule again a moment later. */
    deferFiring: (_, _params: { scheduleId: string }) => {},
    /** Effect: the host books where the schedule stands and re-arms its timer heap. */
    firingEnded: (_, _params: { output: ScheduleOutput | null; scheduleId: string }) => {},

    recordFiring: assign(({ context, event }) => {
      assertEvent(event, 'FIRE_DUE');
      const firing = context.firing.slice();
      firing.splice(-sortedIndexOf(firing, event.scheduleId) - 1, 0, event.scheduleId);
      return { firing };
    }),
    forgetFiring: assign(({ context, event }) => {
      const id = event.type === 'FIRING_ENDED' ? event.output.scheduleId : event.type === 'FIRING_CRASHED' ? event.scheduleId : '';
      return { firing: sortedWithout(context.firing, id) as string[] };
    }),
    recordPartitions: assign(({ event }) => {
      assertEvent(event, 'PARTITIONS_CHANGED');
      return { partitions: event.partitions };
    }),
    reportCrash: emit(({ event }): ScheduleCrashedEvent => {
      assertEvent(event, 'FIRING_CRASHED');
      return { type: 'SCHEDULE_CRASHED', scheduleId: event.scheduleId, error: event.error };
    }),
  },
}).createMachine({
  id: 'scheduler',
  context: ({ input }) => {
    const maxFirings = input.maxFirings ?? 256;
    if (!(Number.isInteger(maxFirings) && maxFirings >= 1)) {
      throw new InvalidMachineInputError('scheduler', 'maxFirings', maxFirings, 'use an integer ≥ 1 (default 256)');
    }
    return { maxFirings, firing: [], partitions: [] };
  },
  initial: 'active',
  on: {
    FIRING_ENDED: {
      guard: 'isFiringEnd',
      actions: ['forgetFiring', { type: 'firingEnded', params: ({ event }) => ({ output: event.output, scheduleId: event.output.scheduleId }) }],
    },
    FIRING_CRASHED: {
      guard: 'isFiringCrash',
      actions: [
        'reportCrash',
        {
          type: 'firingEnded',
          params: ({ event }) => {
            assertEvent(event, 'FIRING_CRASHED');
            return { output: null, scheduleId: event.scheduleId };
          },
        },
        'forgetFiring',
      ],
    },
    // A child's error event (the host reports a firing's crash as FIRING_CRASHED): taken and
    // ignored, because an error event no transition takes would fail the scheduler itself.
    'xstate.error.actor.*': {},
    PARTITIONS_CHANGED: { actions: 'recordPartitions' },
  },
  states: {
    active: {
      on: {
        FIRE_DUE: [
          { guard: 'isFiring' },
          { guard: 'hasFiringSlot', actions: ['recordFiring', { type: 'startFiring', params: dueId }] },
          { actions: { type: 'deferFiring', params: dueId } },
        ],
        STOP: 'stopping',
      },
    },
    stopping: {
      always: { guard: 'noFirings', target: 'stopped' },
    },
    stopped: { type: 'final' },
  },
});
