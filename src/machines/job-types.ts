/**
 * The job machine's contract: input, events, output and the effects it asks for. Effects are named
 * actions (`acquireLease`, `runTask`, `commitResult`, `requeueJob`, `abortTask`) that src/actors
 * provides; each answers, later, with one of the events below sent to the job actor. The machine
 * holds no timers: the node's lease keeper renews every held lease on one timer and reports
 * `LEASE_RENEWED` / `LEASE_LOST`, and the task runner reports `TIMEOUT`.
 */
import type { JobError, JobRecord, JobResult } from '../records.js';
import type { LeaseLostReason } from './lease-timing.js';

/** Exponential backoff between attempts: `min(initialMs · factor^(n−1), maxMs)` after attempt n. */
export interface RetryBackoff {
  initialMs: number;
  maxMs: number;
  factor: number;
}

/** How often a failing job runs. `attempts` counts runs, so 1 means "no retry". */
export interface RetryPolicy {
  attempts: number;
  backoff: RetryBackoff;
}

/** Per-task run settings the runtime attaches to each fetched job. */
export interface JobPolicy {
  /** Task timeout; null = none. @defaultValue null */
  timeoutMs?: number | null;
  /** Retry policy; null = a single attempt. @defaultValue null */
  retry?: RetryPolicy | null;
}

/** Input of the job machine (the worker builds it from a fetched job). */
export interface JobInput extends JobPolicy {
  /** The job as delivered; the attempt that runs comes with LEASE_ACQUIRED. */
  job: JobRecord;
  /** Stamped on the result draft. @defaultValue null */
  nodeId?: string | null;
}

/** A result as the machine knows it; `commitResult` stamps `finishedAt` when it makes it durable. */
export type JobResultDraft = Omit<JobResult, 'finishedAt'>;

/** Why a job goes back to the queue instead of ending. */
export const RequeueReason = {
  /** The attempt failed (error, timeout, abandoned predecessor) and attempts remain. */
  retry: 'retry',
  /** The task's cluster-wide `maxRunning` slots are all taken. */
  taskSlotsFull: 'task_slots_full',
  /** This node is stopping; another node should run the job (same attempt). */
  shutdown: 'shutdown',
} as const;
export type RequeueReason = (typeof RequeueReason)[keyof typeof RequeueReason];

/** Why a job ended on this node without a result and without being requeued. */
export const DiscardReason = {
  /** The lease was lost; whatever the task produced is refused (G1). */
  leaseLost: 'lease_lost',
  /** acquireLease failed (store error); the delivery comes back to the queue. */
  acquireFailed: 'acquire_failed',
} as const;
export type DiscardReason = (typeof DiscardReason)[keyof typeof DiscardReason];

/** Why this node did not take the job, although it was delivered here. */
export const SkipReason = {
  /** Another runner holds it (or held it within a lease duration): looked at again later. */
  heldElsewhere: 'held_elsewhere',
  /** It has its result already, or another message of the same job is being run. */
  finished: 'finished',
  /** Its retry backoff has not passed yet. */
  notYet: 'not_yet',
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

/** What the job actor ends with (its `output`). */
export type JobOutput =
  | { kind: 'result'; result: JobResult }
  | { kind: 'requeued'; attempt: number; delayMs: number; reason: RequeueReason }
  | { kind: 'skipped'; reason: SkipReason }
  | { kind: 'discarded'; reason: DiscardReason; leaseLostReason: LeaseLostReason | null };

/** The lease as the machine sees it: the revision of the job's key it last wrote (the fencing token). */
export interface HeldLease {
  revision: number;
}

/** Events the job machine accepts: effect answers, the lease keeper's reports, and outside requests. */
export type JobEvent =
  /** acquireLease: the job is ours. `attempt` is the attempt to run; `now` the acquisition time (ms). */
  | { type: 'LEASE_ACQUIRED'; lease: HeldLease; attempt: number; now: number; previousAttemptAbandoned: boolean }
  /** acquireLease: not ours to run now (the delivery was settled by the effect). */
  | { type: 'LEASE_NOT_ACQUIRED'; reason: SkipReason }
  /** acquireLease: the task's cluster-wide slots are all taken; handed back for `retryInMs`. */
  | { type: 'TASK_SLOTS_FULL'; retryInMs: number }
  /** acquireLease: the store failed; the delivery comes back. */
  | { type: 'ACQUIRE_FAILED'; error: string }
  /** Lease keeper: a renewal succeeded. */
  | { type: 'LEASE_RENEWED'; lease: HeldLease }
  /** Lease keeper (renewal refused, deadline passed) or a fenced write refused: abort, refuse the result. */
  | { type: 'LEASE_LOST'; reason: LeaseLostReason }
  /** runTask: the task returned. */
  | { type: 'TASK_SUCCEEDED'; value: unknown }
  /** runTask: the task threw. */
  | { type: 'TASK_FAILED'; error: JobError }
  /** runTask: the task ran past its timeout. */
  | { type: 'TIMEOUT' }
  /** commitResult: the result is durable (one fenced write). */
  | { type: 'RESULT_COMMITTED'; result: JobResult }
  /** requeueJob: the job is back in the queue for the planned attempt. */
  | { type: 'JOB_REQUEUED' }
  /** The user cancelled the job: abort the task, commit a `cancelled` result. */
  | { type: 'CANCEL' }
  /** The node is stopping: abort the task and requeue the same attempt for another node. */
  | { type: 'SHUTDOWN' };

/** Sent to the parent worker exactly once, when the job actor reaches its final state. */
export interface SlotReleasedEvent {
  type: 'SLOT_RELEASED';
  jobId: string;
}

// ---- effect params ----------------------------------------------------------------------------

/** commitResult: make `result` durable, fenced by the held lease. */
export interface CommitResultParams {
  jobId: string;
  result: JobResultDraft;
}

/** requeueJob: put the job back for `attempt`, not before `delayMs` from now, fenced by the held lease. */
export interface RequeueJobParams {
  jobId: string;
  attempt: number;
  delayMs: number;
  reason: RequeueReason;
}

/** runTask: run the user's function for `attempt`. */
export interface RunTaskParams {
  jobId: string;
  attempt: number;
  timeoutMs: number | null;
}

/** abortTask: stop the running task (its AbortSignal fires). */
export interface AbortTaskParams {
  jobId: string;
  reason: 'lease_lost' | 'timeout' | 'cancelled' | 'shutdown';
}
