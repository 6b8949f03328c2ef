/** What `rt.listJobs` and `rt.getJob` tell of a job: its record, where it stands and its attempts, in one plain object. */
import type { AttemptOutcome, JobError, JobLogLine, JobRecord, JobResult } from '../records.js';
import type { ListedJob } from '../store/index.js';

/** Where a job stands: waiting in the queue, held by a runner, or finished with its result. */
export type JobPhase = 'queued' | 'running' | 'done';

/**
 * One attempt of a job: ended ones from the job's history, then the one running now (`running`)
 * or the one whose result ended the job (its outcome).
 */
export interface JobAttemptInfo {
  attempt: number;
  /** `running` while it runs; `interrupted`: its node stopped and handed the job back. */
  outcome: AttemptOutcome | 'running';
  /** Absent for an attempt that never ran (a job cancelled while queued). */
  nodeId?: string;
  startedAt?: Date;
  /** Absent while running. */
  endedAt?: Date;
  error?: JobError;
  /** What the task wrote with `ctx.log` (kept: the last lines of the latest attempts; see job-attempts.ts). */
  logs: JobLogLine[];
  /** Lines not kept. */
  logsDropped?: number;
  /** The latest `ctx.progress` value (while running: as of the last lease renewal). */
  progress?: unknown;
  /** A failed attempt: when the next one may start. */
  nextAttemptAt?: Date;
  /** While running: the last lease renewal. */
  renewedAt?: Date;
}

export interface JobInfo {
  id: string;
  task: string;
  state: JobPhase;
  /** The attempt running or next to run (the last one, when done). */
  attempt: number;
  /** null when the job is known only by its state (its record is unreadable or gone). */
  createdAt: Date | null;
  args?: unknown;
  scheduleId?: string;
  scheduledFireTime?: Date;
  /** Queued: not started before this (retry backoff, jitter). */
  notBefore?: Date;
  /** Running: the node holding it, since when, last renewal. */
  nodeId?: string;
  startedAt?: Date;
  renewedAt?: Date;
  /** Done: the result. */
  result?: JobResult;
  /** Every attempt kept, oldest first (empty while the first attempt waits). */
  attempts: JobAttemptInfo[];
  /** The latest `ctx.progress` value of the current (or final) attempt. */
  progress?: unknown;
}

export function toJobInfo({ jobId, state, job }: ListedJob): JobInfo {
  const record: JobRecord | null = state.phase === 'done' ? state.job : job;
  const info: JobInfo = {
    id: jobId,
    task: state.phase === 'done' ? state.job.task : state.task,
    state: state.phase,
    attempt: state.phase === 'done' ? state.result.attempt : state.attempt,
    createdAt: record?.createdAt ?? null,
    attempts: attemptsOf(state),
  };
  if (record) {
    info.args = record.args;
    if (record.scheduleId !== undefined) info.scheduleId = record.scheduleId;
    if (record.scheduledFireTime !== undefined) info.scheduledFireTime = record.scheduledFireTime;
  }
  if (state.phase === 'queued') {
    const notBefore = state.notBefore ?? (state.attempt === 1 ? record?.notBefore : undefined);
    if (notBefore) info.notBefore = notBefore;
  }
  if (state.phase === 'running') {
    info.nodeId = state.nodeId;
    info.startedAt = state.startedAt;
    info.renewedAt = state.renewedAt;
  }
  if (state.phase === 'done') info.result = state.result;
  const progress = state.phase === 'queued' ? undefined : state.progress;
  if (progress !== undefined) info.progress = progress;
  return info;
}

/** The job's attempts: its history, then the current or final one. */
function attemptsOf(state: ListedJob['state']): JobAttemptInfo[] {
  const ended: JobAttemptInfo[] = (state.attempts ?? []).map(({ logs, ...attempt }) => ({ ...attempt, logs: logs ?? [] }));
  if (state.phase === 'running') {
    const current: JobAttemptInfo = { attempt: state.attempt, outcome: 'running', nodeId: state.nodeId, startedAt: state.startedAt, renewedAt: state.renewedAt, logs: [] };
    if (state.progress !== undefined) current.progress = state.progress;
    return [...ended, current];
  }
  if (state.phase === 'done') {
    const { result } = state;
    const final: JobAttemptInfo = { attempt: result.attempt, outcome: result.outcome, endedAt: result.finishedAt, logs: state.logs ?? [] };
    if (result.nodeId !== undefined) final.nodeId = result.nodeId;
    if (result.startedAt !== undefined) final.startedAt = result.startedAt;
    if (result.error !== undefined) final.error = result.error;
    if (state.logsDropped) final.logsDropped = state.logsDropped;
    if (state.progress !== undefined) final.progress = state.progress;
    return [...ended, final];
  }
  return ended;
}
