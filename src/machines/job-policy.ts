/** Pure decisions of the job machine: retry arithmetic, deadlines, result drafts. */
import type { JobError, JobRecord } from '../records.js';
import type { Outcome } from '../outcome.js';
import type { JobResultDraft, RetryPolicy } from './job-types.js';

/** Backoff before the attempt after `failedAttempt` (1-based): `min(initial · factor^(n−1), max)`. */
export function retryDelayMs(policy: RetryPolicy, failedAttempt: number): number {
  const { initialMs, maxMs, factor } = policy.backoff;
  const raw = initialMs * Math.pow(factor, Math.max(0, failedAttempt - 1));
  return Math.max(0, Math.min(maxMs, Math.round(raw)));
}

/** Whether another attempt may follow `attempt` under `policy` (null = single attempt). */
export function hasAttemptsLeft(policy: RetryPolicy | null, attempt: number): boolean {
  return policy !== null && attempt < policy.attempts;
}

/**
 * Whether a job acquired at `now` missed its start deadline. Only the first attempt is held to it:
 * a retry continues a job that did start in time, and its backoff would otherwise eat the window.
 */
export function missedStartDeadline(job: JobRecord, now: number, attempt = job.attempt): boolean {
  return attempt === 1 && job.startDeadline !== undefined && now > job.startDeadline.getTime();
}

/** Turns whatever a task threw into the serialisable error a JobResult carries. */
export function toJobError(thrown: unknown): JobError {
  if (thrown instanceof Error) {
    const error: JobError = { name: thrown.name, message: thrown.message };
    if (thrown.stack !== undefined) error.stack = thrown.stack;
    return error;
  }
  if (typeof thrown === 'object' && thrown !== null && 'message' in thrown) {
    const { name, message } = thrown as { name?: unknown; message: unknown };
    return { name: typeof name === 'string' ? name : 'Error', message: String(message) };
  }
  return { name: 'Error', message: String(thrown) };
}

/** Builds the result draft for `outcome`; `finishedAt` is stamped by writeResult. */
export function resultDraft(
  job: JobRecord,
  outcome: Outcome,
  extra: { startedAt: Date | null; nodeId: string | null; returnValue?: unknown; error?: JobError },
): JobResultDraft {
  const draft: JobResultDraft = { jobId: job.id, outcome, attempt: job.attempt };
  if (extra.startedAt !== null) draft.startedAt = extra.startedAt;
  if (extra.nodeId !== null) draft.nodeId = extra.nodeId;
  if ('returnValue' in extra) draft.returnValue = extra.returnValue;
  if (extra.error !== undefined) draft.error = extra.error;
  return draft;
}
