/**
 * The job machine's contract: input, events, output and the input/output of every effect it
 * invokes. src/actors implements the effects against this file.
 */
import type { JobError, JobRecord, JobResult } from '../records.js';
import type { LeaseGrant, LeaseLostReason } from './lease-timing.js';

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
  job: JobRecord;
  /** Opaque runtime data travelling with the job (e.g. its dispatch delivery). @defaultValue null */
  ticket?: unknown;
  /** TTL of the job's lease key; renewed every third of it. */
  leaseDurationMs: number;
  /** Stamped on the result draft. @defaultValue null */
  nodeId?: string | null;
}

/** A result as the machine knows it; `writeResult` stamps `finishedAt` when it makes it durable. */
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
  /** acquireLease failed; the runtime's dispatch redelivers the job. */
  acquireFailed: 'acquire_failed',
  /** acquireLease did not answer within the renewal deadline. */
  acquireTimeout: 'acquire_timeout',
  /** requeueJob failed without a lease to retry under. */
  requeueFailed: 'requeue_failed',
} as const;
export type DiscardReason = (typeof DiscardReason)[keyof typeof DiscardReason];

/** What the job actor ends with (its `output`). */
export type JobOutput =
  | { kind: 'result'; result: JobResult }
  | { kind: 'requeued'; attempt: number; delayMs: number; reason: RequeueReason }
  | { kind: 'skipped'; reason: 'held_elsewhere' }
  | { kind: 'discarded'; reason: DiscardReason; leaseLostReason: LeaseLostReason | null };

/** Events the job machine accepts from outside (the worker, the runtime, its own timers). */
export type JobEvent =
  /** Renewal succeeded (raised by the machine from renewLease's answer). */
  | { type: 'LEASE_RENEWED'; lease: LeaseGrant; now: number }
  /** The lease is gone: abort, refuse the result. Also raised by the renewal deadline timer. */
  | { type: 'LEASE_LOST'; reason: LeaseLostReason }
  /** Timer: time to renew. */
  | { type: 'RENEW_DUE' }
  /** Timer: the task ran past its timeout. */
  | { type: 'TIMEOUT' }
  /** The user cancelled the job: abort the task, write a `cancelled` result. */
  | { type: 'CANCEL' }
  /** The node is stopping: abort the task and requeue the same attempt for another node. */
  | { type: 'SHUTDOWN' }
  /** The task returned (raised by the machine from runTask's answer). */
  | { type: 'TASK_SUCCEEDED'; value: unknown }
  /** The task threw (raised by the machine from runTask's rejection). */
  | { type: 'TASK_FAILED'; error: JobError }
  /**
   * The actor was just restored from a persisted snapshot. XState does not persist delayed events,
   * so the machine re-arms its timers (and renews at once) on this event; send it right after start.
   */
  | { type: 'RESTORED' };

/** Sent to the parent worker exactly once, when the job actor reaches its final state. */
export interface SlotReleasedEvent {
  type: 'SLOT_RELEASED';
  jobId: string;
}

// ---- effects --------------------------------------------------------------------------------

/** acquireLease: take the job's lease (and, for `maxRunning` tasks, a task slot). */
export interface AcquireLeaseInput {
  job: JobRecord;
  ticket: unknown;
}
export type AcquireLeaseOutput =
  /**
   * The lease is ours. `now` is the store-side clock at acquisition (ms since epoch): it becomes
   * `startedAt` and is compared with `job.startDeadline`. `previousAttemptAbandoned` says an
   * earlier runner of the same attempt started and vanished (crash) without a result.
   */
  | { status: 'acquired'; lease: LeaseGrant; now: number; previousAttemptAbandoned?: boolean }
  /** Another runner holds the job's lease: this delivery ends without a result. */
  | { status: 'held_elsewhere' }
  /** The task's slots are all taken; nothing is held. Requeued after `retryInMs` (default 1000). */
  | { status: 'task_slots_full'; retryInMs?: number };

/** renewLease: revision-checked rewrite of the lease key (restarts its TTL). */
export interface RenewLeaseInput {
  job: JobRecord;
  lease: LeaseGrant;
}
export type RenewLeaseOutput =
  | { status: 'renewed'; lease: LeaseGrant; now: number }
  | { status: 'lost'; reason: LeaseLostReason };

/**
 * runTask: run the user's function. The promise actor's own `signal` aborts whenever the machine
 * leaves `running` (lease lost, timeout, cancel, shutdown); resolve with the return value, reject
 * with the thrown error.
 */
export interface RunTaskInput {
  job: JobRecord;
  attempt: number;
}

/**
 * writeResult: store the result, fenced by the lease revision (refused if it moved). Never runs
 * concurrently with renewLease for the same job: the machine serialises them, so the revision it
 * carries is the one the store holds unless someone else took the lease.
 */
export interface WriteResultInput {
  job: JobRecord;
  lease: LeaseGrant;
  result: JobResultDraft;
}
export type WriteResultOutput =
  /** `lease`: the new revision, when the store fences by rewriting the lease key (for the release). */
  | { status: 'written'; result: JobResult; lease?: LeaseGrant }
  | { status: 'lease_lost'; reason: LeaseLostReason };

/**
 * requeueJob: put the job back for `attempt`, not before `delayMs` from now. `lease` is null when
 * nothing is held (task slots full): the runtime then only returns the delivery.
 */
export interface RequeueJobInput {
  job: JobRecord;
  ticket: unknown;
  lease: LeaseGrant | null;
  attempt: number;
  delayMs: number;
  reason: RequeueReason;
}

/** releaseLease: delete the lease key (revision-checked); failures are ignored (the TTL cleans up). */
export interface ReleaseLeaseInput {
  job: JobRecord;
  lease: LeaseGrant;
}

/** Params of the `abortTask` action (fires when the running task must stop). */
export interface AbortTaskParams {
  jobId: string;
  reason: 'lease_lost' | 'timeout' | 'cancelled' | 'shutdown';
}
