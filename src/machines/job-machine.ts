/**
 * The job machine: one actor per job this node takes from the queue.
 *
 *   acquiring ──LEASE_ACQUIRED──▶ running ──TASK_SUCCEEDED / CANCEL / TIMEOUT·last──▶ committing ─RESULT_COMMITTED─▶ done
 *     │                 │                  ──TASK_FAILED·retry / TIMEOUT·retry / SHUTDOWN──▶ requeueing ─JOB_REQUEUED─▶ done
 *     │                 ├─ (abandoned predecessor, attempts left | shutdown requested) ─▶ requeueing
 *     │                 └─ (abandoned predecessor | cancel requested | start deadline missed) ─▶ committing
 *     │ LEASE_NOT_ACQUIRED → done (skipped)    TASK_SLOTS_FULL → done (requeued)    ACQUIRE_FAILED → done (discarded)
 *     ▼
 *   done (final; entry: releaseSlot)     LEASE_LOST in running, committing or requeueing → done (discarded, nothing written)
 *
 * The guarantees are structural:
 * - every path ends in the single final state `done`, whose entry sends SLOT_RELEASED to the
 *   parent worker; a final state is entered once, so the slot is released exactly once (G2);
 * - a result is only ever made durable by `commitResult`, entered from `running` or on acquisition,
 *   and LEASE_LOST leaves every holding state for `done` without passing `committing`; the commit
 *   itself is one revision-checked write, so a loss the machine has not heard of yet is still
 *   refused by the store (G1). `abortTask` fires on every way out of `running` but the task's own
 *   answer.
 *
 * The machine holds no timers and no live handles: the node's lease keeper renews every held lease
 * on one timer and reports LEASE_RENEWED / LEASE_LOST; the task runner reports TIMEOUT; effects
 * are actions that answer with events (see job-types.ts).
 */
import { Outcome } from '../outcome.js';
import { DiscardReason } from './job-types.js';
import { abortTask, commitParams, discarded, initialJobContext, jobSetup, requeueParams, runTaskParams } from './job-logic.js';

const lost = { target: 'done', actions: 'endLeaseLost' } as const;

export const jobMachine = jobSetup.createMachine({
  id: 'job',
  context: ({ input }) => initialJobContext(input),
  initial: 'acquiring',
  output: ({ context }) => context.ending ?? discarded(DiscardReason.leaseLost),
  states: {
    acquiring: {
      entry: { type: 'acquireLease', params: ({ context }) => ({ jobId: context.job.id }) },
      on: {
        // Decisions that need the lease (a result or a requeue is fenced by it), in this order;
        // `readyToRun` is the negation of all of them, tested first because it is the common case.
        LEASE_ACQUIRED: [
          { guard: 'readyToRun', target: 'running', actions: 'recordAcquisition' },
          { guard: 'abandonedWithAttemptsLeft', target: 'requeueing', actions: ['recordAcquisition', { type: 'planRequeue', params: { reason: 'retry' } }] },
          { guard: 'previousAttemptAbandoned', target: 'committing', actions: ['recordAcquisition', { type: 'draftResult', params: { outcome: Outcome.abandoned } }] },
          { guard: 'cancelRequested', target: 'committing', actions: ['recordAcquisition', { type: 'draftResult', params: { outcome: Outcome.cancelled } }] },
          { guard: 'shutdownRequested', target: 'requeueing', actions: ['recordAcquisition', { type: 'planRequeue', params: { reason: 'shutdown' } }] },
          {
            guard: 'startDeadlineMissed',
            target: 'committing',
            actions: ['recordAcquisition', { type: 'draftResult', params: { outcome: Outcome.missedStartDeadline } }],
          },
          { target: 'running', actions: 'recordAcquisition' },
        ],
        LEASE_NOT_ACQUIRED: { target: 'done', actions: 'endSkipped' },
        TASK_SLOTS_FULL: { target: 'done', actions: 'endDeferred' },
        ACQUIRE_FAILED: { target: 'done', actions: 'endAcquireFailed' },
        CANCEL: { actions: 'requestCancel' },
        SHUTDOWN: { actions: 'requestShutdown' },
      },
    },

    running: {
      entry: { type: 'runTask', params: runTaskParams },
      on: {
        TASK_SUCCEEDED: { target: 'committing', actions: { type: 'draftResult', params: { outcome: Outcome.success } } },
        TASK_FAILED: [
          { guard: 'hasAttemptsLeft', target: 'requeueing', actions: { type: 'planRequeue', params: { reason: 'retry' } } },
          { target: 'committing', actions: { type: 'draftResult', params: { outcome: Outcome.error } } },
        ],
        TIMEOUT: [
          {
            guard: 'hasAttemptsLeft',
            target: 'requeueing',
            actions: [abortTask('timeout'), { type: 'planRequeue', params: { reason: 'retry' } }],
          },
          { target: 'committing', actions: [abortTask('timeout'), { type: 'draftResult', params: { outcome: Outcome.timeout } }] },
        ],
        CANCEL: { target: 'committing', actions: [abortTask('cancelled'), { type: 'draftResult', params: { outcome: Outcome.cancelled } }] },
        SHUTDOWN: { target: 'requeueing', actions: [abortTask('shutdown'), { type: 'planRequeue', params: { reason: 'shutdown' } }] },
        LEASE_RENEWED: { actions: 'recordRenewal' },
        LEASE_LOST: { target: 'done', actions: [abortTask('lease_lost'), 'endLeaseLost'] },
      },
    },

    committing: {
      entry: { type: 'commitResult', params: commitParams },
      on: {
        RESULT_COMMITTED: { target: 'done', actions: 'endWithResult' },
        LEASE_RENEWED: { actions: 'recordRenewal' },
        LEASE_LOST: lost,
      },
    },

    requeueing: {
      entry: { type: 'requeueJob', params: requeueParams },
      on: {
        JOB_REQUEUED: { target: 'done', actions: 'endRequeued' },
        LEASE_RENEWED: { actions: 'recordRenewal' },
        LEASE_LOST: lost,
      },
    },

    done: { type: 'final', entry: 'releaseSlot' },
  },
});
