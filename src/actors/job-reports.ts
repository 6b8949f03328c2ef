/**
 * What the outside sees of a job's attempts on this node: metrics, log lines and cluster events when
 * an attempt starts, when the job ends, and when a failed attempt is retried.
 */
import type { JobRecord, JobResult } from '../records.js';
import type { NodeContext } from '../runtime/node-context.js';
import type { AttemptRecorder } from './attempt-recorder.js';

/** An attempt starts: the started metric, with (first attempt) its wait since added and lateness after its fire time. */
export function countStart(node: NodeContext, job: JobRecord, attempt: number, startedAt: number): void {
  const first = attempt === 1;
  const waitedMs = first ? startedAt - job.createdAt.getTime() : null;
  const lateMs = first && job.scheduledFireTime ? startedAt - job.scheduledFireTime.getTime() : null;
  node.metrics.jobStarted(job.task, waitedMs, lateMs);
}

/** The job ended with `result`: the finished metric and a log line (debug on success, info otherwise). */
export function countFinish(node: NodeContext, job: JobRecord, result: JobResult, recorder: AttemptRecorder | null): void {
  const runMs = recorder ? result.finishedAt.getTime() - recorder.startedAt : null;
  node.metrics.jobFinished(job.task, result.outcome, runMs);
  const fields = { jobId: job.id, task: job.task, attempt: result.attempt, outcome: result.outcome };
  if (result.outcome === 'success') node.logger.debug(fields, `job ${job.id} (${job.task}) succeeded on attempt ${result.attempt}`);
  else {
    const why = result.error ? `: ${result.error.name}: ${result.error.message}` : '';
    node.logger.info({ ...fields, ...(result.error ? { error: result.error } : {}) }, `job ${job.id} (${job.task}) ended ${result.outcome} on attempt ${result.attempt}${why}`);
  }
}

/** A failed attempt was requeued for `nextAttempt`: the JobRetryScheduled event, a metric, a debug line. */
export function announceRetry(node: NodeContext, job: JobRecord, nextAttempt: number, nextAttemptAt: Date, recorder: AttemptRecorder | null): void {
  const failure = recorder?.failure ?? null;
  const outcome = recorder ? (failure?.outcome ?? 'error') : 'abandoned';
  node.metrics.attemptRetried(job.task, recorder ? node.backend.clock.now() - recorder.startedAt : null);
  const error = failure ? { name: failure.error.name, message: failure.error.message } : undefined;
  node.logger.debug(
    { jobId: job.id, task: job.task, attempt: job.attempt, outcome, nextAttempt, nextAttemptAt, ...(error ? { error } : {}) },
    `job ${job.id} (${job.task}) attempt ${job.attempt} ${outcome}${error ? `: ${error.name}: ${error.message}` : ''}; attempt ${nextAttempt} at ${nextAttemptAt.toISOString()}`,
  );
  if (!node.backend.events.wanted()) return;
  const fields = { jobId: job.id, task: job.task, attempt: job.attempt, outcome, nextAttempt, nextAttemptAt } as const;
  node.emit('JobRetryScheduled', withSchedule(job, error ? { ...fields, error } : fields));
}

/** Event fields with the job's schedule id, when it came from a schedule. */
export function withSchedule<T extends object>(job: JobRecord, fields: T): T & { scheduleId?: string } {
  return job.scheduleId === undefined ? fields : { ...fields, scheduleId: job.scheduleId };
}
