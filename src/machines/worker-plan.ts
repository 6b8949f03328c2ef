/** Pure bookkeeping of the worker machine: which fetched jobs start, which go back. */
import type { WorkerContext } from './worker-machine.js';
import type { FetchedJob, ReturnReason } from './worker-types.js';
import type { JobInput } from './job-types.js';

export interface FetchedJobsPlan {
  start: FetchedJob[];
  giveBack: { reason: ReturnReason; jobs: FetchedJob[] }[];
  /** Running job ids after starting `start`, sorted (a canonical form for snapshots and graphs). */
  running: string[];
}

/** Starts fetched jobs up to capacity; hands back duplicates of running jobs and any excess. */
export function planFetchedJobs(running: readonly string[], capacity: number, fetched: readonly FetchedJob[]): FetchedJobsPlan {
  const ids = new Set(running);
  const start: FetchedJob[] = [];
  const alreadyRunning: FetchedJob[] = [];
  const overCapacity: FetchedJob[] = [];
  for (const item of fetched) {
    if (ids.has(item.job.id)) alreadyRunning.push(item);
    else if (ids.size < capacity) {
      ids.add(item.job.id);
      start.push(item);
    } else overCapacity.push(item);
  }
  const giveBack: FetchedJobsPlan['giveBack'] = [];
  if (alreadyRunning.length > 0) giveBack.push({ reason: 'already_running', jobs: alreadyRunning });
  if (overCapacity.length > 0) giveBack.push({ reason: 'over_capacity', jobs: overCapacity });
  return { start, giveBack, running: [...ids].sort() };
}

/** The job actor's input for a fetched job. */
export function jobInputFor(item: FetchedJob, context: Pick<WorkerContext, 'leaseDurationMs' | 'nodeId'>): JobInput {
  return {
    job: item.job,
    ticket: item.ticket ?? null,
    leaseDurationMs: context.leaseDurationMs,
    timeoutMs: item.timeoutMs ?? null,
    retry: item.retry ?? null,
    nodeId: context.nodeId,
  };
}

/** Pause before the next fetch after a failure: 0 → initial, then doubling up to max. */
export function nextFetchRetryDelay(previousMs: number, initialMs: number, maxMs: number): number {
  return previousMs === 0 ? initialMs : Math.min(previousMs * 2, maxMs);
}
