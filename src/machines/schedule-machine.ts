/**
 * The schedule machine: one actor per firing of a schedule (the node's schedule host starts it when
 * the schedule's next fire time comes, from its one timer heap).
 *
 *   planning ─(paused)──────────────────────────────▶ done (paused)
 *     │ ─(nothing due, nextFireTime unchanged)───────▶ done (not due)
 *     │ ─(nothing to publish, nextFireTime moves)──┐
 *     └─(fires due)─▶ publishing ─JOBS_PUBLISHED─▶ advancing ─SCHEDULE_ADVANCED─▶ done (advanced)
 *                                                    │ ADVANCE_CONFLICT ─▶ reloading ─SCHEDULE_LOADED─▶ planning
 *                                                    │                       └─SCHEDULE_GONE─▶ done (removed)
 *   EFFECT_FAILED (any effect) ─▶ done (failed) · PARTITION_LOST (anywhere) ─▶ done (partition lost)
 *
 * G4 holds by construction: a fire time's job id is derived from schedule id + fire time and
 * published deduplicated by it, so a firing redone after a conflict, a failure or a hand-over to
 * another node never doubles a job; and the record only moves on with a revision-checked advance,
 * so two nodes cannot both advance it. `done` is final and reports FIRING_ENDED to the scheduler
 * once, with the record as it now stands for the host's timer heap.
 */
import { scheduleOutput } from './schedule-logic.js';
import { advanceParams, initialScheduleContext, loadParams, publishParams, scheduleSetup } from './schedule-logic.js';
import type { ScheduleMachineDeps } from './schedule-types.js';

/** Builds the schedule machine around the pure `nextFireTime` and `random` it computes with. */
export function createScheduleMachine(deps: ScheduleMachineDeps) {
  return scheduleSetup(deps).createMachine({
    id: 'schedule',
    context: ({ input }) => initialScheduleContext(input),
    initial: 'planning',
    output: ({ context }) => scheduleOutput(context),
    on: {
      PARTITION_LOST: { target: '.done', actions: { type: 'end', params: { end: 'partition_lost' } } },
      EFFECT_FAILED: { target: '.done', actions: 'recordFailure' },
    },
    states: {
      planning: {
        entry: 'makePlan',
        always: [
          { guard: 'isPaused', target: 'done', actions: { type: 'end', params: { end: 'paused' } } },
          { guard: 'hasFires', target: 'publishing' },
          { guard: 'mustAdvance', target: 'advancing' },
          { target: 'done', actions: { type: 'end', params: { end: 'not_due' } } },
        ],
      },
      publishing: {
        entry: { type: 'publishJobs', params: publishParams },
        on: { JOBS_PUBLISHED: { target: 'advancing', actions: 'recordPublished' } },
      },
      advancing: {
        entry: { type: 'advanceSchedule', params: advanceParams },
        on: {
          SCHEDULE_ADVANCED: { target: 'done', actions: ['recordAdvance', { type: 'end', params: { end: 'advanced' } }] },
          ADVANCE_CONFLICT: [
            { guard: 'canReload', target: 'reloading' },
            { target: 'done', actions: { type: 'end', params: { end: 'failed' } } },
          ],
        },
      },
      reloading: {
        entry: { type: 'loadSchedule', params: loadParams },
        on: {
          SCHEDULE_LOADED: { target: 'planning', actions: 'recordReload' },
          SCHEDULE_GONE: { target: 'done', actions: 'endRemoved' },
        },
      },
      done: { type: 'final', entry: 'reportEnd' },
    },
  });
}

export type ScheduleMachine = ReturnType<typeof createScheduleMachine>;
