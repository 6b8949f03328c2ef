/**
 * The records jobchart stores (schedules, jobs, results, leases). They travel through the codec
 * (`src/codec/record-codec.ts`) into KV values; Dates survive the round trip.
 */
import type { Outcome } from './outcome.js';
import type { Trigger } from './triggers/index.js';

/** How missed fire times of one schedule turn into jobs (APScheduler 4 semantics). */
export const CoalescePolicy = { earliest: 'earliest', latest: 'latest', all: 'all' } as const;
export type CoalescePolicy = (typeof CoalescePolicy)[keyof typeof CoalescePolicy];

export interface ScheduleRecord {
  id: string;
  task: string;
  trigger: Trigger;
  args: unknown;
  paused: boolean;
  coalesce: CoalescePolicy;
  /** Max lateness of a job's start after its fire time (+ jitter); null = no deadline. */
  misfireGraceTimeMs: number | null;
  /** Upper bound of the random delay added to each fire time; 0 = none. */
  maxJitterMs: number;
  /** Priority of the jobs it fires (see JobRecord.priority); absent = the task's default, else 0. */
  priority?: number;
  /** The next fire time not yet turned into a job; null once the trigger is exhausted. */
  nextFireTime: Date | null;
  lastFireTime: Date | null;
  createdAt: Date;
}

export interface JobRecord {
  id: string;
  task: string;
  args: unknown;
  createdAt: Date;
  scheduleId?: string;
  scheduledFireTime?: Date;
  /** The job must have started by then, or it ends `missed_start_deadline`. */
  startDeadline?: Date;
  /** 1-based number of the attempt that runs next. */
  attempt: number;
  /** Not started before this instant (retry backoff). */
  notBefore?: Date;
  /** How long the result is kept after the job ends; null = until deleted. */
  resultTtlMs: number | null;
  /**
   * Higher runs first: > 0 high, 0 normal (default), < 0 low. Workers take high before normal
   * before low, and give the lower levels a share of their fetches so that none starves.
   */
  priority?: number;
}

/**
 * A job's state on its key in the `jobs` bucket. The key is the job's lease, start marker and
 * result at once: every change is a revision-checked write on it, so a takeover moves the revision
 * that a superseded runner's renewal, requeue or commit carries, and that write is refused (G1).
 * While the job is queued or running its record travels in its queue message, so those states
 * carry only what changes; the done state keeps the record with the result.
 */
export type JobState = QueuedJobState | RunningJobState | DoneJobState;

/** Waiting for a worker: written by a requeue (retry backoff, shutdown). */
export interface QueuedJobState {
  phase: 'queued';
  task: string;
  /** The attempt that runs next. */
  attempt: number;
  /** Not started before this instant (retry backoff). */
  notBefore?: Date;
  /** The lease of the runner that requeued it. */
  leaseId?: string;
  /** The attempts that ended so far (failed and retried, abandoned, interrupted), oldest first; bounded (see job-attempts.ts). */
  attempts?: JobAttempt[];
}

/** Held by a runner; `renewedAt` moves with every renewal (the holder's clock). */
export interface RunningJobState {
  phase: 'running';
  task: string;
  attempt: number;
  nodeId: string;
  /** Random per acquisition: tells a runner its own write apart from anyone else's. */
  leaseId: string;
  /** Stream sequence of the queue message this run came from (a different one is a duplicate). */
  seq: number;
  startedAt: Date;
  renewedAt: Date;
  /** The attempts before this one (carried from the queued state it was taken from). */
  attempts?: JobAttempt[];
  /** The task's latest `ctx.progress(value)`, as of the last renewal. */
  progress?: unknown;
}

/** Finished for good: the one committed result, with the job's record (without its args: see job-store.ts). */
export interface DoneJobState {
  phase: 'done';
  job: JobRecord;
  result: JobResult;
  /** When the sweep may delete the key; null = kept until deleted. */
  expiresAt: Date | null;
  /** The lease of the runner that committed it (absent for results written without one: cancel, corrupt). */
  leaseId?: string;
  /** The attempts before the one `result` describes, oldest first; bounded (see job-attempts.ts). */
  attempts?: JobAttempt[];
  /** What the final attempt's task wrote with `ctx.log(...)` (the last lines, bounded). */
  logs?: JobLogLine[];
  /** Lines of the final attempt dropped beyond the bound. */
  logsDropped?: number;
  /** The final attempt's latest `ctx.progress(value)`. */
  progress?: unknown;
}

/** One line a task wrote with `ctx.log(...)`. */
export interface JobLogLine {
  at: Date;
  message: string;
}

/** How an attempt that is not the job's result ended: an outcome, or `interrupted` (its node stopped and handed the job back). */
export type AttemptOutcome = Outcome | 'interrupted';

/**
 * An attempt that ended without being the job's result: failed and retried, abandoned by a runner
 * that vanished (recorded by the node that took the job over), or interrupted by its node stopping.
 */
export interface JobAttempt {
  attempt: number;
  nodeId: string;
  startedAt: Date;
  /** When it ended (for an abandoned attempt: its runner's last renewal). */
  endedAt: Date;
  outcome: AttemptOutcome;
  error?: JobError;
  logs?: JobLogLine[];
  /** Log lines dropped beyond the bounds. */
  logsDropped?: number;
  progress?: unknown;
  /** A retry: the next attempt does not start before this. */
  nextAttemptAt?: Date;
}

export interface JobError {
  name: string;
  message: string;
  stack?: string;
}

export interface JobResult {
  jobId: string;
  outcome: Outcome;
  returnValue?: unknown;
  /** Why it failed: the task's error (`error`), a TimeoutError (`timeout`), or what refused the run. */
  error?: JobError;
  startedAt?: Date;
  finishedAt: Date;
  attempt: number;
  nodeId?: string;
}

/** The value of a lease key; the key's KV revision is the fencing token. */
export interface LeaseRecord {
  nodeId: string;
  acquiredAt: Date;
}
