/**
 * The job machine: one actor per job this node tries to run.
 *
 *   leasing ──LEASE_ACQUIRED──▶ holding ═══════════════════════════════════════╗
 *     │ LEASE_HELD_ELSEWHERE → done (skipped)     ║ lease: held ⇄ renewing      ║
 *     │ TASK_SLOTS_FULL → deferring → done        ║ work:  starting → running   ║
 *     │ ACQUIRE_TIMEOUT / error → done            ║          → writingResult ──▶ releasing → done
 *     ▼                                           ║          → requeueing ────▶ releasing → done
 *   done (final; entry: releaseSlot)              ║ LEASE_LOST → done (discarded, nothing written)
 *                                                 ╚═════════════════════════════════════════════╝
 *
 * The two guarantees are structural:
 * - every path ends in the single final state `done`, whose entry sends SLOT_RELEASED to the
 *   parent worker; a final state is entered once, so the slot is released exactly once (G2);
 * - LEASE_LOST is handled on `holding` itself, above the work region, so from any work state it
 *   leaves for `done` without passing `writingResult`; the task's AbortSignal fires because the
 *   runTask invocation is stopped, and `abortTask` fires for runtimes that need more (G1).
 *
 * Timers are XState delayed events: RENEW_DUE, LEASE_LOST (renewal deadline), TIMEOUT,
 * ACQUIRE_TIMEOUT. Effects are `setup.actors` placeholders that src/actors provides.
 */
import { and, assertEvent, assign, cancel, enqueueActions, fromPromise, raise, sendParent, setup, stateIn } from 'xstate';
import type { JobRecord } from '../records.js';
import { Outcome } from '../outcome.js';
import { EffectNotProvidedError, InvalidMachineInputError } from './errors.js';
import { hasAttemptsLeft, missedStartDeadline, resultDraft, retryDelayMs, toJobError } from './job-policy.js';
import type {
  AbortTaskParams,
  AcquireLeaseInput,
  AcquireLeaseOutput,
  JobEvent,
  JobInput,
  JobOutput,
  JobResultDraft,
  ReleaseLeaseInput,
  RenewLeaseInput,
  RenewLeaseOutput,
  RequeueJobInput,
  RequeueReason,
  RetryPolicy,
  RunTaskInput,
  SlotReleasedEvent,
  WriteResultInput,
  WriteResultOutput,
} from './job-types.js';
import { DiscardReason } from './job-types.js';
import type { LeaseGrant, LeaseLostReason, LeaseTiming } from './lease-timing.js';
import { leaseTiming } from './lease-timing.js';

/** Internal events: effect answers turned into domain events so the inspector shows them by name. */
type JobInternalEvent =
  | { type: 'LEASE_ACQUIRED'; lease: LeaseGrant; now: number; previousAttemptAbandoned: boolean }
  | { type: 'LEASE_HELD_ELSEWHERE' }
  | { type: 'TASK_SLOTS_FULL'; retryInMs: number }
  | { type: 'ACQUIRE_TIMEOUT' }
  | { type: 'RESULT_WRITTEN'; output: JobOutput }
  | { type: 'JOB_REQUEUED' };

type JobMachineEvent = JobEvent | JobInternalEvent;

export interface JobContext {
  job: JobRecord;
  ticket: unknown;
  nodeId: string | null;
  timing: LeaseTiming;
  timeoutMs: number | null;
  retry: RetryPolicy | null;
  lease: LeaseGrant | null;
  startedAt: Date | null;
  previousAttemptAbandoned: boolean;
  cancelRequested: boolean;
  shutdownRequested: boolean;
  /** The result this attempt will write, once decided. */
  draft: JobResultDraft | null;
  /** How the job goes back to the queue, once decided. */
  requeue: { attempt: number; delayMs: number; reason: RequeueReason } | null;
  /** The actor's output, set on the transition that decides it. */
  ending: JobOutput | null;
}

/** Slot-full requeue delay when acquireLease does not suggest one. */
const DEFAULT_SLOTS_FULL_RETRY_MS = 1000;

function initialJobContext(input: JobInput): JobContext {
  const timeoutMs = input.timeoutMs ?? null;
  if (timeoutMs !== null && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new InvalidMachineInputError('job', 'timeoutMs', timeoutMs, 'use a positive number of ms or null for no timeout');
  }
  const retry = input.retry ?? null;
  if (retry !== null && !(Number.isInteger(retry.attempts) && retry.attempts >= 1)) {
    throw new InvalidMachineInputError('job', 'retry.attempts', retry.attempts, 'use an integer ≥ 1 (1 = no retry)');
  }
  return {
    job: input.job,
    ticket: input.ticket ?? null,
    nodeId: input.nodeId ?? null,
    timing: leaseTiming('job', input.leaseDurationMs),
    timeoutMs,
    retry,
    lease: null,
    startedAt: null,
    previousAttemptAbandoned: false,
    cancelRequested: false,
    shutdownRequested: false,
    draft: null,
    requeue: null,
    ending: null,
  };
}

function notProvided(effect: string): () => Promise<never> {
  return () => Promise.reject(new EffectNotProvidedError('job', effect));
}

/** The lease a holding-state effect runs under; holding is only entered with one. */
function heldLease(context: JobContext): LeaseGrant {
  if (context.lease === null) throw new Error(`job ${context.job.id}: no lease while holding (machine bug)`);
  return context.lease;
}

function acquisitionEvent(output: AcquireLeaseOutput): JobMachineEvent {
  switch (output.status) {
    case 'acquired':
      return {
        type: 'LEASE_ACQUIRED',
        lease: output.lease,
        now: output.now,
        previousAttemptAbandoned: output.previousAttemptAbandoned ?? false,
      };
    case 'held_elsewhere':
      return { type: 'LEASE_HELD_ELSEWHERE' };
    case 'task_slots_full':
      return { type: 'TASK_SLOTS_FULL', retryInMs: output.retryInMs ?? DEFAULT_SLOTS_FULL_RETRY_MS };
  }
}

function renewalEvent(output: RenewLeaseOutput): JobMachineEvent {
  return output.status === 'renewed'
    ? { type: 'LEASE_RENEWED', lease: output.lease, now: output.now }
    : { type: 'LEASE_LOST', reason: output.reason };
}

function writeEvent(output: WriteResultOutput): JobMachineEvent {
  return output.status === 'written'
    ? { type: 'RESULT_WRITTEN', output: { kind: 'result', result: output.result } }
    : { type: 'LEASE_LOST', reason: output.reason };
}

function discarded(reason: DiscardReason, leaseLostReason: LeaseLostReason | null = null): JobOutput {
  return { kind: 'discarded', reason, leaseLostReason };
}

function draftOf(context: JobContext): JobResultDraft {
  if (context.draft === null) throw new Error(`job ${context.job.id}: writing without a draft (machine bug)`);
  return context.draft;
}

function requeueInput(context: JobContext, lease: LeaseGrant | null): RequeueJobInput {
  const plan = context.requeue;
  if (plan === null) throw new Error(`job ${context.job.id}: requeueing without a plan (machine bug)`);
  return { job: context.job, ticket: context.ticket, lease, ...plan };
}

/** The `abortTask` effect with its reason, as a parameterized action. */
function abortTask(reason: AbortTaskParams['reason']) {
  return {
    type: 'abortTask',
    params: ({ context }: { context: JobContext }): AbortTaskParams => ({ jobId: context.job.id, reason }),
  } as const;
}

export const jobMachine = setup({
  types: {} as {
    context: JobContext;
    events: JobMachineEvent;
    input: JobInput;
    output: JobOutput;
  },
  actors: {
    acquireLease: fromPromise<AcquireLeaseOutput, AcquireLeaseInput>(notProvided('acquireLease')),
    renewLease: fromPromise<RenewLeaseOutput, RenewLeaseInput>(notProvided('renewLease')),
    runTask: fromPromise<unknown, RunTaskInput>(notProvided('runTask')),
    writeResult: fromPromise<WriteResultOutput, WriteResultInput>(notProvided('writeResult')),
    requeueJob: fromPromise<void, RequeueJobInput>(notProvided('requeueJob')),
    releaseLease: fromPromise<void, ReleaseLeaseInput>(notProvided('releaseLease')),
  },
  delays: {
    renewInterval: ({ context }) => context.timing.renewIntervalMs,
    renewalDeadline: ({ context }) => context.timing.renewalDeadlineMs,
    effectRetry: ({ context }) => context.timing.effectRetryMs,
  },
  guards: {
    hasAttemptsLeft: ({ context }) => hasAttemptsLeft(context.retry, context.job.attempt),
    previousAttemptAbandoned: ({ context }) => context.previousAttemptAbandoned,
    cancelRequested: ({ context }) => context.cancelRequested,
    shutdownRequested: ({ context }) => context.shutdownRequested,
    startDeadlineMissed: ({ context }) =>
      context.startedAt !== null && missedStartDeadline(context.job, context.startedAt.getTime()),
    taskRunning: stateIn('#job.holding.work.running'),
  },
  actions: {
    /** Effect: stop the running task beyond its AbortSignal (e.g. a worker thread). Default: none. */
    abortTask: (_, _params: AbortTaskParams) => {},
    /** The slot release the whole design hangs on; runs in the final state's entry, so once. */
    releaseSlot: sendParent(({ context }): SlotReleasedEvent => ({ type: 'SLOT_RELEASED', jobId: context.job.id })),
    armAcquireTimeout: raise({ type: 'ACQUIRE_TIMEOUT' }, { delay: 'renewalDeadline', id: 'acquireTimeout' }),
    armRenewal: raise({ type: 'RENEW_DUE' }, { delay: 'renewInterval', id: 'renewDue' }),
    armRenewalDeadline: raise(
      { type: 'LEASE_LOST', reason: 'renewal_deadline' },
      { delay: 'renewalDeadline', id: 'renewalDeadline' },
    ),
    armTaskTimeout: enqueueActions(({ context, enqueue }) => {
      if (context.timeoutMs !== null) enqueue.raise({ type: 'TIMEOUT' }, { delay: context.timeoutMs, id: 'taskTimeout' });
    }),
    recordAcquisition: assign(({ event }) => {
      assertEvent(event, 'LEASE_ACQUIRED');
      return {
        lease: event.lease,
        startedAt: new Date(event.now),
        previousAttemptAbandoned: event.previousAttemptAbandoned,
      };
    }),
    recordRenewal: assign(({ event }) => {
      assertEvent(event, 'LEASE_RENEWED');
      return { lease: event.lease };
    }),
    requestCancel: assign({ cancelRequested: true }),
    requestShutdown: assign({ shutdownRequested: true }),
    draftResult: assign(({ context, event }, params: { outcome: Outcome }) => {
      const extra: Parameters<typeof resultDraft>[2] = { startedAt: context.startedAt, nodeId: context.nodeId };
      if (event.type === 'TASK_SUCCEEDED') extra.returnValue = event.value;
      if (event.type === 'TASK_FAILED') extra.error = event.error;
      return { draft: resultDraft(context.job, params.outcome, extra) };
    }),
    planRequeue: assign(({ context, event }, params: { reason: RequeueReason }) => {
      const { attempt } = context.job;
      switch (params.reason) {
        case 'retry':
          return {
            requeue: { attempt: attempt + 1, delayMs: context.retry ? retryDelayMs(context.retry, attempt) : 0, reason: params.reason },
          };
        case 'task_slots_full':
          assertEvent(event, 'TASK_SLOTS_FULL');
          return { requeue: { attempt, delayMs: event.retryInMs, reason: params.reason } };
        case 'shutdown':
          return { requeue: { attempt, delayMs: 0, reason: params.reason } };
      }
    }),
    endWithResult: assign(({ event }) => {
      assertEvent(event, 'RESULT_WRITTEN');
      return { ending: event.output };
    }),
    endRequeued: assign(({ context }) => {
      const plan = context.requeue;
      if (plan === null) throw new Error(`job ${context.job.id}: requeued without a plan (machine bug)`);
      return { ending: { kind: 'requeued', ...plan } satisfies JobOutput };
    }),
    endSkipped: assign({ ending: { kind: 'skipped', reason: 'held_elsewhere' } satisfies JobOutput }),
    endDiscarded: assign((_, params: { reason: DiscardReason }) => ({ ending: discarded(params.reason) })),
    endLeaseLost: assign(({ event }) => {
      assertEvent(event, 'LEASE_LOST');
      return { ending: discarded(DiscardReason.leaseLost, event.reason), lease: null };
    }),
  },
}).createMachine({
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
              initial: 'requesting',
              on: {
                LEASE_RENEWED: { target: 'held', actions: 'recordRenewal' },
                RESTORED: { actions: 'armRenewalDeadline' },
              },
              states: {
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
                  after: { effectRetry: 'requesting' },
                  on: { RESTORED: { target: 'requesting', actions: 'armRenewalDeadline' } },
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
              initial: 'writing',
              on: { RESULT_WRITTEN: { target: '#job.releasing', actions: 'endWithResult' } },
              states: {
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
                waitingToRetry: { after: { effectRetry: 'writing' }, on: { RESTORED: 'writing' } },
              },
            },

            requeueing: {
              initial: 'requesting',
              on: { JOB_REQUEUED: { target: '#job.releasing', actions: 'endRequeued' } },
              states: {
                requesting: {
                  invoke: {
                    id: 'requeueJob',
                    src: 'requeueJob',
                    input: ({ context }) => requeueInput(context, heldLease(context)),
                    onDone: { actions: raise({ type: 'JOB_REQUEUED' }) },
                    onError: 'waitingToRetry',
                  },
                },
                waitingToRetry: { after: { effectRetry: 'requesting' }, on: { RESTORED: 'requesting' } },
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
