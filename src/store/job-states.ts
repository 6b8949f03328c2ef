/**
 * How a job's key state and record change from one state to the next: pure functions the job store
 * builds its writes with (the record at an attempt, the done state and its notes, the attempt of a
 * holder that vanished), and the ids of the leases it writes.
 */
import { randomBytes } from 'node:crypto';
import type { DoneJobState, JobAttempt, JobLogLine, JobRecord, JobResult, RunningJobState } from '../records.js';
import type { StoreClock } from './clock.js';

/** What the final attempt of a commit leaves beside its result: its `ctx.log` lines and latest progress. */
export interface AttemptNotes {
  logs?: JobLogLine[];
  /** Lines dropped beyond the bound. */
  logsDropped?: number;
  /** The latest progress value (undefined: none was reported). */
  progress?: unknown;
}

/**
 * The record kept with a result: without its args, which travelled in the queue message and can be
 * as large as the server's payload limit — with a return value as large beside them, the done state
 * would not fit.
 */
export function withoutArgs(job: JobRecord): JobRecord {
  const { args: _args, ...rest } = job;
  return rest as JobRecord;
}

/** A record for a job known only by its key state (its message is gone): enough for a result. */
export function placeholderRecord(id: string, task: string, attempt: number, now: number): JobRecord {
  return { id, task, args: null, createdAt: new Date(now), attempt, resultTtlMs: null };
}

/** The attempt of a holder that stopped renewing, as the node taking the job over records it. */
export function abandonedAttempt(seen: RunningJobState): JobAttempt {
  const attempt: JobAttempt = { attempt: seen.attempt, nodeId: seen.nodeId, startedAt: seen.startedAt, endedAt: seen.renewedAt, outcome: 'abandoned' };
  if (seen.progress !== undefined) attempt.progress = seen.progress;
  return attempt;
}

/** The done state with the history (from the running state) and the final attempt's notes. */
export function withNotes(done: DoneJobState, running: RunningJobState, notes: AttemptNotes): DoneJobState {
  const progress = notes.progress !== undefined ? notes.progress : running.progress;
  const hasLogs = notes.logs !== undefined && notes.logs.length > 0;
  if (running.attempts === undefined && !hasLogs && !notes.logsDropped && progress === undefined) return done;
  const noted: DoneJobState = { ...done };
  if (running.attempts !== undefined && running.attempts.length > 0) noted.attempts = running.attempts;
  if (hasLogs) noted.logs = notes.logs as JobLogLine[];
  if (notes.logsDropped) noted.logsDropped = notes.logsDropped;
  if (progress !== undefined) noted.progress = progress;
  return noted;
}

/** The done state of a job that ends without a lease (cancelled, or never runnable), expiring `resultTtlMs` from now. */
export function doneState(clock: StoreClock, job: JobRecord, result: JobResult, resultTtlMs: number | null, attempts?: JobAttempt[]): DoneJobState {
  const expiresAt = resultTtlMs === null ? null : new Date(clock.now() + resultTtlMs);
  const done: DoneJobState = { phase: 'done', job: withoutArgs(job), result, expiresAt };
  if (attempts !== undefined && attempts.length > 0) done.attempts = attempts;
  return done;
}

/** The record as it runs for the attempt (and backoff) a state says. */
export function atAttempt(job: JobRecord, state: { attempt: number; notBefore?: Date }): JobRecord {
  if (job.attempt === state.attempt && job.notBefore === state.notBefore) return job;
  const next: JobRecord = { ...job, attempt: state.attempt };
  if (state.notBefore) next.notBefore = state.notBefore;
  else delete next.notBefore;
  return next;
}

/** Lease ids: a random prefix per process and a counter — unique, and cheaper than random bytes each time. */
const LEASE_ID_PREFIX = randomBytes(6).toString('base64url');
let leaseCounter = 0;
export const newLeaseId = (): string => `${LEASE_ID_PREFIX}.${(++leaseCounter).toString(36)}`;
