/** Pure bookkeeping of the worker machine: which fetched jobs start, which go back. */
import type { FetchedJob, ReturnReason } from './worker-types.js';
import type { JobInput } from './job-types.js';

export interface FetchedJobsPlan {
  start: FetchedJob[];
  giveBack: { reason: ReturnReason; jobs: FetchedJob[] }[];
  /** Running job ids after starting `start`, sorted (a canonical form for snapshots and graphs). */
  running: string[];
}

/** Index of `id` in the sorted `ids`, or -(insertion point) - 1 when absent. */
export function sortedIndexOf(ids: readonly string[], id: string): number {
  let lo = 0;
  let hi = ids.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = ids[mid] as string;
    if (at < id) lo = mid + 1;
    else if (at > id) hi = mid - 1;
    else return mid;
  }
  return -lo - 1;
}

/** Whether the sorted `ids` hold `id`. */
export const sortedHas = (ids: readonly string[], id: string): boolean => sortedIndexOf(ids, id) >= 0;

/** `ids` (sorted) without `id`; the same array when it is absent. */
export function sortedWithout(ids: readonly string[], id: string): readonly string[] {
  const at = sortedIndexOf(ids, id);
  if (at < 0) return ids;
  const out = ids.slice();
  out.splice(at, 1);
  return out;
}

/** Starts fetched jobs up to capacity; hands back duplicates of running jobs and any excess. */
export function planFetchedJobs(running: readonly string[], capacity: number, fetched: readonly FetchedJob[]): FetchedJobsPlan {
  const start: FetchedJob[] = [];
  const alreadyRunning: FetchedJob[] = [];
  const overCapacity: FetchedJob[] = [];
  let ids: string[] | null = null;
  for (const item of fetched) {
    const current = ids ?? running;
    const at = sortedIndexOf(current, item.job.id);
    if (at >= 0) alreadyRunning.push(item);
    else if (current.length < capacity) {
      ids ??= running.slice();
      ids.splice(-at - 1, 0, item.job.id);
      start.push(item);
    } else overCapacity.push(item);
  }
  const giveBack: FetchedJobsPlan['giveBack'] = [];
  if (alreadyRunning.length > 0) giveBack.push({ reason: 'already_running', jobs: alreadyRunning });
  if (overCapacity.length > 0) giveBack.push({ reason: 'over_capacity', jobs: overCapacity });
  return { start, giveBack, running: ids ?? (running as string[]) };
}

/** The job actor's input for a fetched job. */
export function jobInputFor(item: FetchedJob, nodeId: string | null): JobInput {
  return {
    job: item.job,
    timeoutMs: item.timeoutMs ?? null,
    retry: item.retry ?? null,
    nodeId,
  };
}

/** Pause before the next fetch after a failure: 0 → initial, then doubling up to max. */
export function nextFetchRetryDelay(previousMs: number, initialMs: number, maxMs: number): number {
  return previousMs === 0 ? initialMs : Math.min(previousMs * 2, maxMs);
}
