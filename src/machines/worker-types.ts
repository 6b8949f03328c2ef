/** The worker machine's contract: input, events, the fetched-job descriptor and its effects. */
import type { JobRecord } from '../records.js';
import type { JobPolicy } from './job-types.js';

/**
 * One job handed to the worker by `fetchJobs`. Its delivery stays with the runtime (a registry
 * keyed by job id beside the actors); policy fields (`timeoutMs`, `retry`) come from the task's
 * registration.
 */
export interface FetchedJob extends JobPolicy {
  job: JobRecord;
}

/**
 * fetchJobs params: never ask for more than the free slots; `waitMs` > 0 waits that long for a
 * first job when the queue looks empty (a long poll: a job added meanwhile is delivered at once).
 * Answered by JOBS_FETCHED (at most `max` jobs; fewer tells the worker the queue is drained) or
 * FETCH_FAILED. `cancelFetch` (on leaving the state) ends the wait; deliveries that arrive after
 * it are handed back by the runtime itself.
 */
export interface FetchJobsParams {
  max: number;
  waitMs: number;
}

/** startJobs params: the jobs to run, each as a job actor whose parent is the worker. */
export interface StartJobsParams {
  jobs: FetchedJob[];
}

/** Why fetched jobs are handed back unstarted. */
export const ReturnReason = {
  /** Capacity shrank while the fetch was in flight. */
  overCapacity: 'over_capacity',
  /** The same job is already running here (a redelivery); keep the running one. */
  alreadyRunning: 'already_running',
} as const;
export type ReturnReason = (typeof ReturnReason)[keyof typeof ReturnReason];

/** Params of the `returnUnstartedJobs` action (effect: hand the deliveries back so others can take them). */
export interface ReturnUnstartedJobsParams {
  jobs: FetchedJob[];
  reason: ReturnReason;
}

export interface WorkerInput {
  /** Most jobs running at once on this node. @defaultValue 100 */
  maxConcurrentJobs?: number;
  /** Longest wait of one fetch while the queue looks empty (then it asks again). @defaultValue 1000 */
  pollIntervalMs?: number;
  /** First pause after a failed fetch; doubles per failure. @defaultValue 100 */
  fetchRetryInitialMs?: number;
  /** Longest pause between failed fetches. @defaultValue 5000 */
  fetchRetryMaxMs?: number;
  /** Stamped on results. @defaultValue null */
  nodeId?: string | null;
}

export type WorkerEvent =
  /** Somebody queued a job (a hint: the next fetch asks without waiting). */
  | { type: 'JOB_AVAILABLE' }
  /** fetchJobs answered. */
  | { type: 'JOBS_FETCHED'; jobs: FetchedJob[] }
  /** fetchJobs failed (store unreachable, …). */
  | { type: 'FETCH_FAILED'; error: string }
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
  /** Restored from a persisted snapshot: a fetch in flight was not persisted, so decide (and fetch) again. */
  | { type: 'RESTORED' };
