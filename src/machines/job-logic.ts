/**
 * The job machine's vocabulary: context, effects (setup.actors placeholders that src/actors
 * provides), guards, actions and delays. The chart itself is in job-machine.ts.
 */
import { assertEvent, assign, enqueueActions, fromPromise, or, sendParent, setup, stateIn } from 'xstate';
import type { JobRecord } from '../records.js';
import { Outcome } from '../outcome.js';
import { EffectNotProvidedError, InvalidMachineInputError } from './errors.js';
import { hasAttemptsLeft, missedStartDeadline, resultDraft, retryDelayMs } from './job-policy.js';
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
export type JobInternalEvent =
  | { type: 'LEASE_ACQUIRED'; lease: LeaseGrant; now: number; previousAttemptAbandoned: boolean }
  | { type: 'LEASE_HELD_ELSEWHERE' }
  | { type: 'TASK_SLOTS_FULL'; retryInMs: number }
  | { type: 'ACQUIRE_TIMEOUT' }
  | { type: 'RESULT_WRITTEN'; output: JobOutput; lease: LeaseGrant | null }
  | { type: 'JOB_REQUEUED' };

export type JobMachineEvent = JobEvent | JobInternalEvent;

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
export function heldLease(context: JobContext): LeaseGrant {
  if (context.lease === null) throw new Error(`job ${context.job.id}: no lease while holding (machine bug)`);
  return context.lease;
}

export function acquisitionEvent(output: AcquireLeaseOutput): JobMachineEvent {
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

export function renewalEvent(output: RenewLeaseOutput): JobMachineEvent {
  return output.status === 'renewed'
    ? { type: 'LEASE_RENEWED', lease: output.lease, now: output.now }
    : { type: 'LEASE_LOST', reason: output.reason };
}

export function writeEvent(output: WriteResultOutput): JobMachineEvent {
  return output.status === 'written'
    ? { type: 'RESULT_WRITTEN', output: { kind: 'result', result: output.result }, lease: output.lease ?? null }
    : { type: 'LEASE_LOST', reason: output.reason };
}

export function discarded(reason: DiscardReason, leaseLostReason: LeaseLostReason | null = null): JobOutput {
  return { kind: 'discarded', reason, leaseLostReason };
}

export function draftOf(context: JobContext): JobResultDraft {
  if (context.draft === null) throw new Error(`job ${context.job.id}: writing without a draft (machine bug)`);
  return context.draft;
}

export function requeueInput(context: JobContext, lease: LeaseGrant | null): RequeueJobInput {
  const plan = context.requeue;
  if (plan === null) throw new Error(`job ${context.job.id}: requeueing without a plan (machine bug)`);
  return { job: context.job, ticket: context.ticket, lease, ...plan };
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
    // Fenced store calls and renewals take turns: a renewal moves the revision a fenced write
    // carries, so running both at once would get a good result refused as "lease lost". Renewal
    // has priority: a fenced call waits while the lease region is anywhere in `renewing`; a
    // renewal waits only for a fenced call in flight. (Both guards are read on the same snapshot
    // when one event moves both regions, so symmetric "not in flight" checks would let both go.)
    fencedCallInFlight: or([
      stateIn('#job.holding.work.writingResult.writing'),
      stateIn('#job.holding.work.requeueing.requesting'),
    ]),
    leaseRenewing: stateIn('#job.holding.lease.renewing'),
  },
  actions: {
    /** Effect: stop the running task beyond its AbortSignal (e.g. a worker thread). Default: none. */
    abortTask: (_, _params: AbortTaskParams) => {},
    /** The slot release the whole design hangs on; runs in the final state's entry, so once. */
    releaseSlot: sendParent(({ context }): SlotReleasedEvent => ({ type: 'SLOT_RELEASED', jobId: context.job.id })),
    // Each arm cancels its timer first, so re-arming (RESTORED) never leaves a stale duplicate.
    armAcquireTimeout: enqueueActions(({ enqueue }) => {
      enqueue.cancel('acquireTimeout');
      enqueue.raise({ type: 'ACQUIRE_TIMEOUT' }, { delay: 'renewalDeadline', id: 'acquireTimeout' });
    }),
    armRenewal: enqueueActions(({ enqueue }) => {
      enqueue.cancel('renewDue');
      enqueue.raise({ type: 'RENEW_DUE' }, { delay: 'renewInterval', id: 'renewDue' });
    }),
    armRenewalDeadline: enqueueActions(({ enqueue }) => {
      enqueue.cancel('renewalDeadline');
      enqueue.raise({ type: 'LEASE_LOST', reason: 'renewal_deadline' }, { delay: 'renewalDeadline', id: 'renewalDeadline' });
    }),
    armTaskTimeout: enqueueActions(({ context, enqueue }) => {
      enqueue.cancel('taskTimeout');
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
    endWithResult: assign(({ context, event }) => {
      assertEvent(event, 'RESULT_WRITTEN');
      // A store that fences by rewriting the lease key returns the new revision, for the release.
      return { ending: event.output, lease: event.lease ?? context.lease };
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
});
