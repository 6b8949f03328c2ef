/**
 * The job machine: one actor per job this node tries to run.
 *
 *   leasing ──LEASE_ACQUIRED──▶ holding (parallel) ══════════════════════════════════════╗
 *     │ LEASE_HELD_ELSEWHERE → done (skipped)   lease: held ─RENEW_DUE─▶ renewing         ║
 *     │ TASK_SLOTS_FULL → deferring → done             ◀─LEASE_RENEWED─ (queued →         ║
 *     │ ACQUIRE_TIMEOUT / error → done                  requesting ⇄ waitingToRetry)      ║
 *     ▼                                          work:  starting → running                ║
 *   done (final; entry: releaseSlot)                      ─TASK_SUCCEEDED / CANCEL / TIMEOUT─▶ writingResult ─RESULT_WRITTEN─▶ releasing → done
 *                                                         ─TASK_FAILED·retry / SHUTDOWN─▶ requeueing ─JOB_REQUEUED─▶ releasing → done
 *                                                LEASE_LOST (any work state) → done (discarded, nothing written)
 *                                               ╚══════════════════════════════════════════╝
 *
 * The two guarantees are structural:
 * - every path ends in the single final state `done`, whose entry sends SLOT_RELEASED to the
 *   parent worker; a final state is entered once, so the slot is released exactly once (G2);
 * - LEASE_LOST is handled on `holding` itself, above the work region, so from any work state it
 *   leaves for `done` without passing `writingResult`; the task's AbortSignal fires because the
 *   runTask invocation is stopped, and `abortTask` fires for runtimes that need more (G1).
 *
 * Renewals and fenced calls (writeResult, requeueJob) take turns through the `queued` sub-states:
 * a renewal moves the revision a fenced call carries, so overlapping them would refuse a good
 * result. Renewal goes first; both waits are bounded by the renewal deadline (see lease-timing.ts
 * for why a holder always stops before its lease can expire).
 *
 * Timers are XState delayed events: RENEW_DUE, LEASE_LOST (renewal deadline), TIMEOUT,
 * ACQUIRE_TIMEOUT, and retries. Effects are `setup.actors` placeholders that src/actors provides;
 * RESTORED re-arms timers after a restore from a persisted snapshot.
 */
import { and, cancel, not, raise } from 'xstate';
import { Outcome } from '../outcome.js';
import { DiscardReason } from './job-types.js';
import { toJobError } from './job-policy.js';
import { abortTask, acquisitionEvent, discarded, draftOf, heldLease, jobSetup, renewalEvent, requeueInput, writeEvent } from './job-logic.js';
import { initialJobContext } from './job-logic.js';

export const jobMachine = jobSetup.createMachine({
  id: 'job',
  context: ({ input }) => initialJobContext(input),
  initial: 'leasing',
  output: ({ context }) => context.ending ?? discarded(DiscardReason.leaseLost),
  states: {
    leasing: {
      entry: 'armAcquireTimeout',
      exit: cancel('acquireTimeout'),
      invoke: {
        id: 'acquireLease',
        src: 'acquireLease',
        input: ({ context }) => ({ job: context.job, ticket: context.ticket }),
        onDone: { actions: raise(({ event }) => acquisitionEvent(event.output)) },
        onError: { target: 'done', actions: { type: 'endDiscarded', params: { reason: DiscardReason.acquireFailed } } },
      },
      on: {
        LEASE_ACQUIRED: { target: 'holding', actions: 'recordAcquisition' },
        LEASE_HELD_ELSEWHERE: { target: 'done', actions: 'endSkipped' },
        TASK_SLOTS_FULL: { target: 'deferring', actions: { type: 'planRequeue', params: { reason: 'task_slots_full' } } },
        ACQUIRE_TIMEOUT: { target: 'done', actions: { type: 'endDiscarded', params: { reason: DiscardReason.acquireTimeout } } },
        CANCEL: { actions: 'requestCancel' },
        SHUTDOWN: { actions: 'requestShutdown' },
        RESTORED: { actions: 'armAcquireTimeout' },
      },
    },

    holding: {
      type: 'parallel',
      on: {
        LEASE_LOST: [
          {
            guard: 'taskRunning',
            target: 'done',
            actions: [abortTask('lease_lost'), 'endLeaseLost'],
          },
          { target: 'done', actions: 'endLeaseLost' },
        ],
      },
      states: {
        lease: {
          initial: 'held',
          states: {
            held: {
              entry: 'armRenewal',
              exit: cancel('renewDue'),
              on: { RENEW_DUE: 'renewing', RESTORED: 'renewing' },
            },
            renewing: {
              entry: 'armRenewalDeadline',
              exit: cancel('renewalDeadline'),
              initial: 'queued',
              on: {
                LEASE_RENEWED: { target: 'held', actions: 'recordRenewal' },
                RESTORED: { actions: 'armRenewalDeadline' },
              },
              states: {
                // Waits while a fenced write is in flight (the deadline keeps running).
                queued: { always: { guard: not('fencedCallInFlight'), target: 'requesting' } },
                requesting: {
                  invoke: {
                    id: 'renewLease',
                    src: 'renewLease',
                    input: ({ context }) => ({ job: context.job, lease: heldLease(context) }),
                    onDone: { actions: raise(({ event }) => renewalEvent(event.output)) },
                    onError: 'waitingToRetry',
                  },
                },
                waitingToRetry: {
                  after: { effectRetry: 'queued' },
                  on: { RESTORED: { target: 'queued', actions: 'armRenewalDeadline' } },
                },
              },
            },
          },
        },

        work: {
          initial: 'starting',
          states: {
            // Decisions that need the lease (a result write or a requeue is fenced by it).
            starting: {
              always: [
                {
                  guard: and(['previousAttemptAbandoned', 'hasAttemptsLeft']),
                  target: 'requeueing',
                  actions: { type: 'planRequeue', params: { reason: 'retry' } },
                },
                {
                  guard: 'previousAttemptAbandoned',
                  target: 'writingResult',
                  actions: { type: 'draftResult', params: { outcome: Outcome.abandoned } },
                },
                {
                  guard: 'cancelRequested',
                  target: 'writingResult',
                  actions: { type: 'draftResult', params: { outcome: Outcome.cancelled } },
                },
                {
                  guard: 'shutdownRequested',
                  target: 'requeueing',
                  actions: { type: 'planRequeue', params: { reason: 'shutdown' } },
                },
                {
                  guard: 'startDeadlineMissed',
                  target: 'writingResult',
                  actions: { type: 'draftResult', params: { outcome: Outcome.missedStartDeadline } },
                },
                { target: 'running' },
              ],
            },

            running: {
              entry: 'armTaskTimeout',
              exit: cancel('taskTimeout'),
              invoke: {
                id: 'runTask',
                src: 'runTask',
                input: ({ context }) => ({ job: context.job, attempt: context.job.attempt }),
                onDone: { actions: raise(({ event }) => ({ type: 'TASK_SUCCEEDED' as const, value: event.output })) },
                onError: { actions: raise(({ event }) => ({ type: 'TASK_FAILED' as const, error: toJobError(event.error) })) },
              },
              on: {
                TASK_SUCCEEDED: {
                  target: 'writingResult',
                  actions: { type: 'draftResult', params: { outcome: Outcome.success } },
                },
                TASK_FAILED: [
                  { guard: 'hasAttemptsLeft', target: 'requeueing', actions: { type: 'planRequeue', params: { reason: 'retry' } } },
                  { target: 'writingResult', actions: { type: 'draftResult', params: { outcome: Outcome.error } } },
                ],
                TIMEOUT: [
                  {
                    guard: 'hasAttemptsLeft',
                    target: 'requeueing',
                    actions: [abortTask('timeout'), { type: 'planRequeue', params: { reason: 'retry' } }],
                  },
                  {
                    target: 'writingResult',
                    actions: [abortTask('timeout'), { type: 'draftResult', params: { outcome: Outcome.timeout } }],
                  },
                ],
                CANCEL: {
                  target: 'writingResult',
                  actions: [abortTask('cancelled'), { type: 'draftResult', params: { outcome: Outcome.cancelled } }],
                },
                SHUTDOWN: {
                  target: 'requeueing',
                  actions: [abortTask('shutdown'), { type: 'planRequeue', params: { reason: 'shutdown' } }],
                },
                // The timeout restarts in full: XState did not persist how much of it had passed.
                RESTORED: { actions: 'armTaskTimeout' },
              },
            },

            writingResult: {
              initial: 'queued',
              on: { RESULT_WRITTEN: { target: '#job.releasing', actions: 'endWithResult' } },
              states: {
                // Waits out a renewal, then writes with the revision it brought.
                queued: { always: { guard: not('leaseRenewing'), target: 'writing' } },
                writing: {
                  invoke: {
                    id: 'writeResult',
                    src: 'writeResult',
                    input: ({ context }) => ({ job: context.job, lease: heldLease(context), result: draftOf(context) }),
                    onDone: { actions: raise(({ event }) => writeEvent(event.output)) },
                    onError: 'waitingToRetry',
                  },
                },
                // Retried under the lease: the renewal region keeps it alive or ends the job.
                waitingToRetry: { after: { effectRetry: 'queued' }, on: { RESTORED: 'queued' } },
              },
            },

            requeueing: {
              initial: 'queued',
              on: { JOB_REQUEUED: { target: '#job.releasing', actions: 'endRequeued' } },
              states: {
                queued: { always: { guard: not('leaseRenewing'), target: 'requesting' } },
                requesting: {
                  invoke: {
                    id: 'requeueJob',
                    src: 'requeueJob',
                    input: ({ context }) => requeueInput(context, heldLease(context)),
                    onDone: { actions: raise({ type: 'JOB_REQUEUED' }) },
                    onError: 'waitingToRetry',
                  },
                },
                waitingToRetry: { after: { effectRetry: 'queued' }, on: { RESTORED: 'queued' } },
              },
            },
          },
        },
      },
    },

    // Task slots full: nothing is held, so the requeue is a plain hand-back with no retry loop.
    deferring: {
      invoke: {
        id: 'requeueJob',
        src: 'requeueJob',
        input: ({ context }) => requeueInput(context, null),
        onDone: { target: 'done', actions: 'endRequeued' },
        onError: { target: 'done', actions: { type: 'endDiscarded', params: { reason: DiscardReason.requeueFailed } } },
      },
    },

    // A failed release is harmless: the key's TTL removes it.
    releasing: {
      invoke: {
        id: 'releaseLease',
        src: 'releaseLease',
        input: ({ context }) => ({ job: context.job, lease: heldLease(context) }),
        onDone: 'done',
        onError: 'done',
      },
    },

    done: { type: 'final', entry: 'releaseSlot' },
  },
});
