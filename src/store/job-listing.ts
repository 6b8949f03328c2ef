/**
 * Reading jobs for callers that do not run them: one job's lookup (its key state, or its message
 * while it waits in the queue), listings over every job (filter and page), and the sweep of expired
 * results. None of it is on a job's hot path.
 */
import { decodeRecord } from '../codec/index.js';
import type { JobRecord, JobResult, JobState } from '../records.js';
import type { StoreClock } from './clock.js';
import type { JobQueue } from './job-queue.js';
import { decodeJobState, readJobState, type StoredJobState } from './job-key.js';
import { atAttempt } from './job-states.js';
import type { KvBucket } from './kv-bucket.js';
import { CorruptRecordError, RevisionConflictError } from './store-errors.js';
import { encodeKeyToken, tryDecodeKeyToken } from './store-keys.js';

/**
 * What `lookup` knows of a job: its key's state (revision 0 when it has none yet: only its message
 * waits in the queue) and its record (from the done state, or from its message).
 */
export interface JobLookup {
  state: JobState;
  revision: number;
  job: JobRecord | null;
}

/** One job in a listing: its state (a job known only by its queue message is `queued`) and record. */
export interface ListedJob {
  jobId: string;
  state: JobState;
  /** The record (from the done state or the queue message); null when neither is readable. */
  job: JobRecord | null;
}

/** Outcomes `state: 'failed'` lists: every way a job ends but success and cancellation. */
export const FAILED_OUTCOMES: readonly JobResult['outcome'][] = ['error', 'timeout', 'abandoned', 'missed_start_deadline', 'deserialization_failed'];

/** Filter and page of `JobStore.list`. */
export interface ListJobsQuery {
  /** `queued`, `running`, `done`, `failed` (done, neither success nor cancelled) or a done job's outcome. @defaultValue all */
  state?: 'queued' | 'running' | 'done' | 'failed' | JobResult['outcome'];
  task?: string;
  scheduleId?: string;
  /** @defaultValue 100 */
  limit?: number;
  /** From the previous page's `nextCursor`. @defaultValue the first page */
  cursor?: string | null;
}

/** Messages read from the queue for one listing at most (a listing reads them one by one on NATS). */
const LISTING_QUEUE_SCAN_LIMIT = 10_000;

function tryDecodeJob(data: Uint8Array): JobRecord | null {
  try {
    return decodeRecord('job', data);
  } catch {
    return null;
  }
}

function matches(listed: ListedJob, query: ListJobsQuery): boolean {
  const { state } = listed;
  const task = state.phase === 'done' ? state.job.task : state.task;
  if (query.task !== undefined && task !== query.task) return false;
  if (query.scheduleId !== undefined && listed.job?.scheduleId !== query.scheduleId) return false;
  if (query.state === undefined) return true;
  if (query.state === 'queued' || query.state === 'running' || query.state === 'done') return state.phase === query.state;
  if (query.state === 'failed') return state.phase === 'done' && FAILED_OUTCOMES.includes(state.result.outcome);
  return state.phase === 'done' && state.result.outcome === query.state;
}

/** The reading side of the job store (JobStore delegates to it): lookups, listings and the sweep. */
export class JobListing {
  constructor(
    private readonly bucket: KvBucket,
    private readonly queue: JobQueue,
    private readonly clock: StoreClock,
    private readonly onCorrupt: (error: CorruptRecordError) => void,
  ) {}

  /** The job's state from its key, or from its message while it waits in the queue; null if unknown. */
  async lookup(jobId: string): Promise<JobLookup | null> {
    const stored = await readJobState(this.bucket, encodeKeyToken(jobId), this.onCorrupt);
    if (stored && stored.state.phase === 'done') return { ...stored, job: stored.state.job };
    const queued = await this.queue.peek(jobId);
    const message = queued ? tryDecodeJob(queued.data) : null;
    if (stored) return { ...stored, job: message && atAttempt(message, stored.state as { attempt: number; notBefore?: Date }) };
    if (message) return { state: { phase: 'queued', task: message.task, attempt: message.attempt }, revision: 0, job: message };
    // An unreadable message: queued all the same (the worker that takes it ends it deserialization_failed).
    if (queued) return { state: { phase: 'queued', task: '?', attempt: 1 }, revision: 0, job: null };
    // Acquired (and its message acked) between the two reads: the key exists now.
    const late = await readJobState(this.bucket, encodeKeyToken(jobId), this.onCorrupt);
    return late && { ...late, job: late.state.phase === 'done' ? late.state.job : null };
  }

  /** Deletes the keys of finished jobs whose result expired (each at the revision read); resolves to how many. */
  async sweep(): Promise<number> {
    const now = this.clock.now();
    let deleted = 0;
    for (const entry of await this.bucket.entries()) {
      let state: JobState;
      try {
        state = decodeRecord('jobState', entry.value);
      } catch {
        continue;
      }
      if (state.phase !== 'done' || state.expiresAt === null || state.expiresAt.getTime() > now) continue;
      try {
        await this.bucket.delete(entry.key, { revision: entry.revision });
        deleted++;
      } catch (error) {
        if (!(error instanceof RevisionConflictError)) throw error;
      }
    }
    return deleted;
  }

  /**
   * Jobs newest first (by creation time, then id), filtered; `nextCursor` continues the listing.
   * Reads every job key and up to 10,000 queued messages: a tool's listing, not a hot path.
   */
  async list(query: ListJobsQuery = {}): Promise<{ jobs: ListedJob[]; nextCursor: string | null }> {
    const limit = query.limit ?? 100;
    const [stored, messages] = await Promise.all([this.states(), this.queue.messages(LISTING_QUEUE_SCAN_LIMIT)]);
    const byId = new Map<string, ListedJob>();
    const records = new Map<string, JobRecord>();
    for (const message of messages) {
      try {
        records.set(message.jobId, decodeRecord('job', message.data));
      } catch {
        // a corrupt message is listed by its key state if it has one, else skipped
      }
    }
    for (const { jobId, state } of stored) {
      const record = state.phase === 'done' ? state.job : records.get(jobId);
      byId.set(jobId, { jobId, state, job: record ? atAttempt(record, state.phase === 'done' ? record : state) : null });
    }
    for (const [jobId, job] of records) {
      if (!byId.has(jobId)) byId.set(jobId, { jobId, state: { phase: 'queued', task: job.task, attempt: job.attempt }, job });
    }
    const wanted = [...byId.values()].filter((listed) => matches(listed, query));
    const sortKey = (l: ListedJob): string => `${String(l.job?.createdAt.getTime() ?? 0).padStart(16, '0')}:${l.jobId}`;
    wanted.sort((a, b) => (sortKey(a) < sortKey(b) ? 1 : sortKey(a) > sortKey(b) ? -1 : 0));
    const start = query.cursor ? wanted.findIndex((l) => sortKey(l) < Buffer.from(query.cursor as string, 'base64url').toString()) : 0;
    const page = start < 0 ? [] : wanted.slice(start, start + limit);
    const last = page[page.length - 1];
    const more = start >= 0 && start + limit < wanted.length;
    return { jobs: page, nextCursor: more && last ? Buffer.from(sortKey(last)).toString('base64url') : null };
  }

  /** Every job state in the bucket, corrupt ones reported and skipped (for listings). */
  async states(): Promise<(StoredJobState & { jobId: string })[]> {
    const out: (StoredJobState & { jobId: string })[] = [];
    for (const entry of await this.bucket.entries()) {
      const jobId = tryDecodeKeyToken(entry.key);
      if (jobId === null) continue;
      const decoded = decodeJobState(entry.key, entry.value, entry.revision, this.onCorrupt);
      if (!(decoded instanceof CorruptRecordError)) out.push({ ...decoded, jobId });
    }
    return out;
  }
}
