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
   * The attempt a worker has started (written when it takes the lease). Finding it equal to
   * `attempt` on acquisition means the previous runner vanished mid-attempt (crash): abandoned.
   */
  runningAttempt?: number;
  /** Node that started `runningAttempt`. */
  runningNode?: string;
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
