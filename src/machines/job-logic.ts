/**
 * The job machine's vocabulary: context, guards, actions and the effect placeholders that
 * src/actors provides. The chart itself is in job-machine.ts.
 */
import { assertEvent, assign, sendParent, setup } from 'xstate';
import type { JobRecord } from '../records.js';
import { Outcome } from '../outcome.js';
import { InvalidMachineInputError } from './errors.js';
import { hasAttemptsLeft, missedStartDeadline, resultDraft, retryDelayMs } from './job-policy.js';
import type {
  AbortTaskParams,
  CommitResultParams,
  HeldLease,
  JobEvent,
  JobInput,
  JobOutput,
  JobResultDraft,
  RequeueJobParams,
  RequeueReason,
  RetryPolicy,
  RunTaskParams,
  SlotReleasedEvent,
} from './job-types.js';
import { DiscardReason } from './job-types.js';
import type { LeaseLostReason } from './lease-timing.js';

export type JobMachineEvent = JobEvent;

export interface JobContext {
  /** The job; `attempt` is the attempt being run once the lease is held. */
  job: JobRecord;
  nodeId: string | null;
  timeoutMs: number | null;
  retry: RetryPolicy | null;
  /** The lease while held: the last revision written (null before acquisition and after a loss). */
  lease: HeldLease | null;
  startedAt: Date | null;
  previousAttemptAbandoned: boolean;
  cancelRequested: boolean;
  shutdownRequested: boolean;
  /** The result this attempt will commit, once decided. */
  draft: JobResultDraft | null;
  /** How the job goes back to the queue, once decided. */
  requeue: { attempt: number; delayMs: number; reason: RequeueReason } | null;
  /** The actor's output, set on the transition that decides it. */
  ending: JobOutput | null;
}

export function initialJobContext(input: JobInput): JobContext {
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
    nodeId: input.nodeId ?? null,
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

export function discarded(reason: DiscardReason, leaseLostReason: LeaseLostReason | null = null): JobOutput {
  return { kind: 'discarded', reason, leaseLostReason };
}

function draftOf(context: JobContext): JobResultDraft {
  if (context.draft === null) throw new Error(`job ${context.job.id}: committing without a draft (machine bug)`);
  return context.draft;
}

function requeueOf(context: JobContext): NonNullable<JobContext['requeue']> {
  if (context.requeue === null) throw new Error(`job ${context.job.id}: requeueing without a plan (machine bug)`);
  return context.requeue;
}

/** The `abortTask` effect with its reason, as a parameterized action. */
export function abortTask(reason: AbortTaskParams['reason']) {
  return {
    type: 'abortTask',
    params: ({ context }: { context: JobContext }): AbortTaskParams => ({ jobId: context.job.id, reason }),
  } as const;
}

export const jobSetup = setup({
  types: {} as {
    context: JobContext;
    events: JobMachineEvent;
    input: JobInput;
    output: JobOutput;
  },
  guards: {
    hasAttemptsLeft: ({ context }) => hasAttemptsLeft(context.retry, context.job.attempt),
    /** The common case, tested first: nothing stands between acquisition and running the task. */
    readyToRun: ({ context, event }) =>
      event.type === 'LEASE_ACQUIRED' &&
      !event.previousAttemptAbandoned &&
      !context.cancelRequested &&
      !context.shutdownRequested &&
      !missedStartDeadline(context.job, event.now, event.attempt),
    // Read on LEASE_ACQUIRED, before the acquisition is recorded: they look at the event.
    abandonedWithAttemptsLeft: ({ context, event }) =>
      event.type === 'LEASE_ACQUIRED' && event.previousAttemptAbandoned && hasAttemptsLeft(context.retry, event.attempt),
    previousAttemptAbandoned: ({ event }) => event.type === 'LEASE_ACQUIRED' && event.previousAttemptAbandoned,
    startDeadlineMissed: ({ context, event }) => event.type === 'LEASE_ACQUIRED' && missedStartDeadline(context.job, event.now, event.attempt),
    cancelRequested: ({ context }) => context.cancelRequested,
    shutdownRequested: ({ context }) => context.shutdownRequested,
  },
  actions: {
    // ---- effects (provided by src/actors; each answers with an event) ----
    /** Effect: take the job's lease; answers LEASE_ACQUIRED / LEASE_NOT_ACQUIRED / TASK_SLOTS_FULL / ACQUIRE_FAILED. */
    acquireLease: (_, _params: { jobId: string }) => {},
    /** Effect: run the task; answers TASK_SUCCEEDED / TASK_FAILED, or TIMEOUT. */
    runTask: (_, _params: RunTaskParams) => {},
    /** Effect: stop the running task (its AbortSignal fires). */
    abortTask: (_, _params: AbortTaskParams) => {},
    /** Effect: the fenced commit; answers RESULT_COMMITTED or LEASE_LOST. */
    commitResult: (_, _params: CommitResultParams) => {},
    /** Effect: the fenced requeue; answers JOB_REQUEUED or LEASE_LOST. */
    requeueJob: (_, _params: RequeueJobParams) => {},

    /** The slot release the whole design hangs on; runs in the final state's entry, so once. */
    releaseSlot: sendParent(({ context }): SlotReleasedEvent => ({ type: 'SLOT_RELEASED', jobId: context.job.id })),
    recordAcquisition: assign(({ context, event }) => {
      assertEvent(event, 'LEASE_ACQUIRED');
      return {
        lease: event.lease,
        job: event.attempt === context.job.attempt ? context.job : { ...context.job, attempt: event.attempt },
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
    planRequeue: assign(({ context }, params: { reason: 'retry' | 'shutdown' }) => {
      const { attempt } = context.job;
      if (params.reason === 'shutdown') return { requeue: { attempt, delayMs: 0, reason: params.reason } };
      return {
        requeue: { attempt: attempt + 1, delayMs: context.retry ? retryDelayMs(context.retry, attempt) : 0, reason: params.reason },
      };
    }),
    endWithResult: assign(({ event }) => {
      assertEvent(event, 'RESULT_COMMITTED');
      return { ending: { kind: 'result', result: event.result } satisfies JobOutput };
    }),
    endRequeued: assign(({ context }) => ({ ending: { kind: 'requeued', ...requeueOf(context) } satisfies JobOutput })),
    endDeferred: assign(({ context, event }) => {
      assertEvent(event, 'TASK_SLOTS_FULL');
      const ending: JobOutput = { kind: 'requeued', attempt: context.job.attempt, delayMs: event.retryInMs, reason: 'task_slots_full' };
      return { ending };
    }),
    endSkipped: assign(({ event }) => {
      assertEvent(event, 'LEASE_NOT_ACQUIRED');
      return { ending: { kind: 'skipped', reason: event.reason } satisfies JobOutput };
    }),
    endAcquireFailed: assign({ ending: discarded(DiscardReason.acquireFailed) }),
    endLeaseLost: assign(({ event }) => {
      assertEvent(event, 'LEASE_LOST');
      return { ending: discarded(DiscardReason.leaseLost, event.reason), lease: null };
    }),
  },
});

/** Params of the commit effect: the draft decided on the way in. */
export const commitParams = ({ context }: { context: JobContext }): CommitResultParams => ({ jobId: context.job.id, result: draftOf(context) });
/** Params of the requeue effect: the plan decided on the way in. */
export const requeueParams = ({ context }: { context: JobContext }): RequeueJobParams => ({ jobId: context.job.id, ...requeueOf(context) });
/** Params of the task effect. */
export const runTaskParams = ({ context }: { context: JobContext }): RunTaskParams => ({
  jobId: context.job.id,
  attempt: context.job.attempt,
  timeoutMs: context.timeoutMs,
});
