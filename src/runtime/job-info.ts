/** What `rt.listJobs` tells of a job: its record and where it stands, in one plain object. */
import type { JobRecord, JobResult } from '../records.js';
import type { ListedJob } from '../store/index.js';

/** Where a job stands: waiting in the queue, held by a runner, or finished with its result. */
export type JobPhase = 'queued' | 'running' | 'done';

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
}

export function toJobInfo({ jobId, state, job }: ListedJob): JobInfo {
  const record: JobRecord | null = state.phase === 'done' ? state.job : job;
  const info: JobInfo = {
    id: jobId,
    task: state.phase === 'done' ? state.job.task : state.task,
    state: state.phase,
    attempt: state.phase === 'done' ? state.result.attempt : state.attempt,
    createdAt: record?.createdAt ?? null,
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
  return info;
}
