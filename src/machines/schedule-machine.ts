/**
 * The schedule machine: one actor per schedule on each scheduler node; it fires only while it
 * holds the schedule's lease.
 *
 *   acquiring ─LEASE_ACQUIRED─▶ holding ═══════════════════════════════════════════════════╗
 *     │ LEASE_HELD_ELSEWHERE / error → standby ─(standbyRetry)─▶ acquiring                  ║
 *     │ SCHEDULE_GONE → removed                    lease: held ⇄ renewing (PROVE_LEASE too)  ║
 *     ▼                                            work:  planning → waiting ─FIRE_DUE─▶ proving
 *   holding ─LEASE_LOST─▶ lost ─(standbyRetry)─▶ acquiring        ─LEASE_RENEWED (proof)─▶ firing
 *   holding ─STOP / SCHEDULE_REMOVED / exhausted─▶ releasing           (createJobs) ─▶ advancing
 *   releasing ─▶ finished | removed | stopped (final)                  ─▶ planning   (conflict ─▶ reloading)
 *                                                  planning → paused (record paused)        ║
 *                                                  ╚═══════════════════════════════════════╝
 *
 * Why it cannot fire without the lease: LEASE_LOST is handled on `holding`, above the work
 * region, so it ends any firing at once; and `proving` only lets `firing` start on a renewal that
 * was *requested after* the fire time came (numbered renewal requests), so a node back from a long
 * pause asks the store before it creates jobs. Job ids are deterministic (schedule id + fire time,
 * created with `create`), so a firing interrupted and redone never doubles a job (G4), and the
 * record only advances with a revision check.
 *
 * "now" is the clock reading of the latest store answer (acquire, renew, advance, load,
 * SCHEDULE_UPDATED); the fire timer is `nextFireTime − now` (clamped to setTimeout's range; an
 * early wake-up finds nothing due and re-plans). Fire times come from the injected `nextFireTime`.
 */
import { cancel, raise } from 'xstate';
import {
  acquisitionEvent,
  advanceEvent,
  heldScheduleLease,
  initialScheduleContext,
  loadEvent,
  renewalEvent,
  scheduleSetup,
} from './schedule-logic.js';
import type { ScheduleContext } from './schedule-logic.js';
import type { ScheduleMachineDeps } from './schedule-types.js';

function firingOf(context: ScheduleContext): NonNullable<ScheduleContext['firing']> {
  if (context.firing === null) throw new Error(`schedule ${context.schedule.id}: no firing planned (machine bug)`);
  return context.firing;
}

const ignoreOlder = { guard: 'isNewerRecord', actions: 'recordUpdate' } as const;

/** Builds the schedule machine around the pure `nextFireTime` and `random` it computes with. */
export function createScheduleMachine(deps: ScheduleMachineDeps) {
  return scheduleSetup(deps).createMachine({
    id: 'schedule',
    context: ({ input }) => initialScheduleContext(input),
    initial: 'acquiring',
    output: ({ context }) => ({ scheduleId: context.schedule.id, end: context.end ?? 'stopped' }),
    states: {
      acquiring: {
        invoke: {
          id: 'acquireScheduleLease',
          src: 'acquireScheduleLease',
          input: ({ context }) => ({ scheduleId: context.schedule.id }),
          onDone: { actions: raise(({ event }) => acquisitionEvent(event.output)) },
          onError: 'standby',
        },
        on: {
          LEASE_ACQUIRED: { target: 'holding', actions: 'recordAcquisition' },
          LEASE_HELD_ELSEWHERE: 'standby',
          SCHEDULE_GONE: 'removed',
          SCHEDULE_REMOVED: 'removed',
          SCHEDULE_UPDATED: ignoreOlder,
          STOP: 'stopped',
        },
      },
      // Another node holds the lease; try again later (it may have died).
      standby: {
        after: { standbyRetry: 'acquiring' },
        on: { RESTORED: 'acquiring', SCHEDULE_REMOVED: 'removed', SCHEDULE_UPDATED: ignoreOlder, STOP: 'stopped' },
      },
      holding: {
        type: 'parallel',
        on: {
          LEASE_LOST: { target: 'lost', actions: 'forgetLease' },
          SCHEDULE_REMOVED: { target: 'releasing', actions: { type: 'endWith', params: { end: 'removed' } } },
          SCHEDULE_GONE: { target: 'releasing', actions: { type: 'endWith', params: { end: 'removed' } } },
          STOP: { target: 'releasing', actions: { type: 'endWith', params: { end: 'stopped' } } },
        },
        states: {
          lease: {
            initial: 'held',
            states: {
              held: {
                entry: 'armRenewal',
                exit: cancel('renewDue'),
                on: { RENEW_DUE: 'renewing', PROVE_LEASE: 'renewing', RESTORED: 'renewing' },
              },
              renewing: {
                entry: 'armRenewalDeadline',
                exit: cancel('renewalDeadline'),
                initial: 'requesting',
                on: {
                  LEASE_RENEWED: [
                    // A proof was asked for after this request left: ask once more.
                    { guard: 'proofStillOwed', target: 'renewing', reenter: true, actions: 'recordRenewal' },
                    { target: 'held', actions: 'recordRenewal' },
                  ],
                  RESTORED: { actions: 'armRenewalDeadline' },
                },
                states: {
                  requesting: {
                    entry: 'countRenewalRequest',
                    invoke: {
                      id: 'renewScheduleLease',
                      src: 'renewScheduleLease',
                      input: ({ context }) => ({ scheduleId: context.schedule.id, lease: heldScheduleLease(context) }),
                      onDone: { actions: raise(({ context, event }) => renewalEvent(event.output, context.renewalsStarted)) },
                      onError: 'waitingToRetry',
                    },
                  },
                  waitingToRetry: {
                    after: { effectRetry: 'requesting' },
                    on: { RESTORED: { target: 'requesting', actions: 'armRenewalDeadline' } },
                  },
                },
              },
            },
          },

          work: {
            initial: 'planning',
            on: { SCHEDULE_UPDATED: { guard: 'isNewerRecord', target: '.planning', actions: 'recordUpdate' } },
            states: {
              planning: {
                always: [
                  { guard: 'isPaused', target: 'paused' },
                  { guard: 'isExhausted', target: '#schedule.releasing', actions: { type: 'endWith', params: { end: 'finished' } } },
                  { target: 'waiting' },
                ],
              },
              waiting: {
                entry: 'armFireTimer',
                exit: cancel('fireDue'),
                on: { FIRE_DUE: 'proving', RESTORED: { actions: 'armFireTimer' } },
              },
              // Left by SCHEDULE_UPDATED (resume) on the work region.
              paused: {},
              proving: {
                entry: ['requestProof', raise({ type: 'PROVE_LEASE' })],
                exit: 'clearProof',
                on: { LEASE_RENEWED: { guard: 'provesLease', target: 'firing' } },
              },
              firing: {
                entry: 'planFiring',
                initial: 'choosing',
                states: {
                  // A timer that woke early (clamped delay, clock skew) finds nothing due.
                  choosing: {
                    always: [{ guard: 'nothingDue', target: '#schedule.holding.work.planning' }, { target: 'creatingJobs' }],
                  },
                  creatingJobs: {
                    invoke: {
                      id: 'createJobs',
                      src: 'createJobs',
                      input: ({ context }) => ({ schedule: context.schedule, lease: heldScheduleLease(context), fires: firingOf(context).fires }),
                      onDone: '#schedule.holding.work.advancing',
                      onError: 'waitingToRetry',
                    },
                  },
                  // Retrying is safe: the job ids are deterministic and created with `create`.
                  waitingToRetry: { after: { effectRetry: 'creatingJobs' }, on: { RESTORED: 'creatingJobs' } },
                },
              },
              advancing: {
                initial: 'writing',
                on: {
                  SCHEDULE_ADVANCED: { target: 'planning', actions: 'recordAdvance' },
                  ADVANCE_CONFLICT: 'reloading',
                },
                states: {
                  writing: {
                    invoke: {
                      id: 'advanceSchedule',
                      src: 'advanceSchedule',
                      input: ({ context }) => ({
                        scheduleId: context.schedule.id,
                        lease: heldScheduleLease(context),
                        recordRevision: context.recordRevision,
                        nextFireTime: firingOf(context).nextFireTime,
                        lastFireTime: firingOf(context).lastFireTime,
                      }),
                      onDone: { actions: raise(({ event }) => advanceEvent(event.output)) },
                      onError: 'waitingToRetry',
                    },
                  },
                  waitingToRetry: { after: { effectRetry: 'writing' }, on: { RESTORED: 'writing' } },
                },
              },
              // The record changed under us (edited, paused, replaced): read it and plan again.
              reloading: {
                initial: 'reading',
                on: { SCHEDULE_LOADED: { target: 'planning', actions: 'recordLoad' } },
                states: {
                  reading: {
                    invoke: {
                      id: 'loadSchedule',
                      src: 'loadSchedule',
                      input: ({ context }) => ({ scheduleId: context.schedule.id }),
                      onDone: { actions: raise(({ event }) => loadEvent(event.output)) },
                      onError: 'waitingToRetry',
                    },
                  },
                  waitingToRetry: { after: { effectRetry: 'reading' }, on: { RESTORED: 'reading' } },
                },
              },
            },
          },
        },
      },
      // We held the lease and lost it: someone else may fire now. Try to take it back later.
      lost: {
        after: { standbyRetry: 'acquiring' },
        on: { RESTORED: 'acquiring', SCHEDULE_REMOVED: 'removed', SCHEDULE_UPDATED: ignoreOlder, STOP: 'stopped' },
      },
      // A failed release is harmless: the key's TTL removes it.
      releasing: {
        invoke: {
          id: 'releaseScheduleLease',
          src: 'releaseScheduleLease',
          input: ({ context }) => ({ scheduleId: context.schedule.id, lease: heldScheduleLease(context) }),
          onDone: 'ending',
          onError: 'ending',
        },
      },
      ending: {
        always: [
          { guard: 'endedFinished', target: 'finished' },
          { guard: 'endedRemoved', target: 'removed' },
          { target: 'stopped' },
        ],
      },
      /** The trigger is exhausted. */
      finished: { type: 'final' },
      removed: { type: 'final' },
      stopped: { type: 'final' },
    },
  });
}

/** The schedule machine's type (every createScheduleMachine result has it). */
export type ScheduleMachine = ReturnType<typeof createScheduleMachine>;
