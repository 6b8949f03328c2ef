/** The worker machine's contract: input, events, the fetched-job descriptor and its effects. */
import type { JobRecord } from '../records.js';
import type { JobPolicy } from './job-types.js';

/**
 * One job handed to the worker by `fetchJobs`. `ticket` is opaque to the machines: the runtime
 * attaches its dispatch delivery (to ack/nak it) and gets it back in every job effect's input.
 * Policy fields (`timeoutMs`, `retry`) come from the task's registration.
 */
export interface FetchedJob extends JobPolicy {
  job: JobRecord;
  ticket?: unknown;
}

/** fetchJobs input: never ask for more than the free slots. */
export interface FetchJobsInput {
  max: number;
}
/**
 * fetchJobs output: at most `max` jobs. Fewer than `max` tells the worker the queue is drained.
 * The promise actor's `signal` aborts when the worker stops waiting (drain, stop, connection lost);
 * deliveries obtained after that must be handed back by the runtime itself.
 */
export type FetchJobsOutput = FetchedJob[];

/** Why fetched jobs are handed back unstarted. */
export const ReturnReason = {
  /** Capacity shrank while the fetch was in flight. */
  overCapacity: 'over_capacity',
  /** The same job is already running here (a redelivery); keep the running one. */
  alreadyRunning: 'already_running',
} as const;
export type ReturnReason = (typeof ReturnReason)[keyof typeof ReturnReason];

/** Params of the `returnUnstartedJobs` action (effect: nak the deliveries so others can take them). */
export interface ReturnUnstartedJobsParams {
  jobs: FetchedJob[];
  reason: ReturnReason;
}

export interface WorkerInput {
  /** Most jobs running at once on this node. @defaultValue 100 */
  maxConcurrentJobs?: number;
  /** Fallback poll while idle, for lost JOB_AVAILABLE notifications. @defaultValue 1000 */
  pollIntervalMs?: number;
  /** Lease duration handed to every job. @defaultValue 30000 */
  leaseDurationMs?: number;
  /** First pause after a failed fetch; doubles per failure. @defaultValue 100 */
  fetchRetryInitialMs?: number;
  /** Longest pause between failed fetches. @defaultValue 5000 */
  fetchRetryMaxMs?: number;
  /** Stamped on results. @defaultValue null */
  nodeId?: string | null;
}

export type WorkerEvent =
  /** Somebody queued a job (a notification; may be lost, POLL covers that). */
  | { type: 'JOB_AVAILABLE' }
  /** Timer (also accepted from outside): look at the queue now. */
  | { type: 'POLL' }
  /** A job actor ended (sent by the job machine's final state). */
  | { type: 'SLOT_RELEASED'; jobId: string }
  /** Live resize; shrinking never stops running jobs. Non-integers and negatives are ignored. */
  | { type: 'CAPACITY_CHANGED'; capacity: number }
  /** Finish running jobs, take no new ones, then stop. */
  | { type: 'DRAIN' }
  /** Hand running jobs back (job SHUTDOWN: abort + requeue), then stop. */
  | { type: 'STOP' }
  /** The store/dispatch connection dropped: stop fetching until it is back. */
  | { type: 'CONNECTION_LOST' }
  | { type: 'CONNECTION_RESTORED' }
  /** Just restored from a persisted snapshot: timers were not persisted; poll now, tell the jobs. */
  | { type: 'RESTORED' };
