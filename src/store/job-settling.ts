/**
 * Ending a job that no node runs: cancelling one still queued or one whose holder stopped renewing,
 * and settling one that cannot run (a corrupt message or key state). Each writes a done state without
 * a lease to the job's key at the revision it read, fenced as a commit is, and signals the completion.
 */
import { encodeRecord } from '../codec/index.js';
import type { JobAttempt, JobRecord, JobResult } from '../records.js';
import type { StoreClock } from './clock.js';
import type { InterestTracker } from './interest.js';
import { writeJobState } from './job-key.js';
import type { JobListing } from './job-listing.js';
import { signalDone } from './job-signals.js';
import { doneState, placeholderRecord } from './job-states.js';
import type { KvBucket } from './kv-bucket.js';
import type { SignalTransport } from './signals.js';
import type { CorruptRecordError } from './store-errors.js';
import { encodeKeyToken } from './store-keys.js';

export type CancelOutcome = 'cancelled' | 'finished' | 'running' | 'unknown';

/** The job store's endings without a lease (JobStore delegates to it). */
export class JobSettling {
  constructor(
    private readonly bucket: KvBucket,
    private readonly signals: SignalTransport,
    private readonly interest: InterestTracker,
    private readonly clock: StoreClock,
    private readonly listing: JobListing,
  ) {}

  /**
   * Cancels a job that is not running: writes the `cancelled` result (the queue's message is dropped
   * when it is delivered). `running`: ask its holder with `requestCancel`.
   */
  async cancelQueued(jobId: string, result: (job: JobRecord) => JobResult, resultTtlMs: (job: JobRecord) => number | null): Promise<CancelOutcome> {
    for (let round = 0; round < 3; round++) {
      const found = await this.listing.lookup(jobId);
      if (!found) return 'unknown';
      const { state } = found;
      if (state.phase === 'done') return 'finished';
      if (state.phase === 'running') return 'running';
      const job = found.job ?? placeholderRecord(jobId, state.task, state.attempt, this.clock.now());
      const done = doneState(this.clock, job, result(job), resultTtlMs(job), state.attempts);
      const bytes = encodeRecord('jobState', done);
      const key = encodeKeyToken(jobId);
      if ((await writeJobState(this.bucket, key, bytes, found.revision)) !== null) {
        signalDone(this.signals, this.interest, key, bytes);
        return 'cancelled';
      }
    }
    return 'running';
  }

  /**
   * Cancels a job whose holder stopped renewing: writes the `cancelled` result at `revision` (the
   * running state seen before asking the holder). Refused if the holder moved the key meanwhile.
   */
  async cancelAbandoned(jobId: string, revision: number, job: JobRecord, result: JobResult, resultTtlMs: number | null, attempts?: JobAttempt[]): Promise<boolean> {
    const done = doneState(this.clock, job, result, resultTtlMs, attempts);
    const bytes = encodeRecord('jobState', done);
    const key = encodeKeyToken(jobId);
    if ((await writeJobState(this.bucket, key, bytes, revision)) === null) return false;
    signalDone(this.signals, this.interest, key, bytes);
    return true;
  }

  /**
   * Ends a job that cannot run (a corrupt message) with `result`, unless it has a state already.
   * Resolves to false when it had one.
   */
  async settle(jobId: string, job: JobRecord, result: JobResult, opts: { resultTtlMs: number | null }): Promise<boolean> {
    const state = doneState(this.clock, job, result, opts.resultTtlMs);
    const key = encodeKeyToken(jobId);
    const bytes = encodeRecord('jobState', state);
    const revision = await writeJobState(this.bucket, key, bytes, 0);
    if (revision === null) return false;
    signalDone(this.signals, this.interest, key, bytes);
    return true;
  }

  /** Overwrites an unreadable state (at its revision) with a `deserialization_failed` result; false when the key moved. */
  async endCorrupt(key: string, job: JobRecord, error: CorruptRecordError, nodeId: string): Promise<boolean> {
    const result: JobResult = {
      jobId: job.id,
      outcome: 'deserialization_failed',
      error: { name: error.name, message: error.message },
      finishedAt: new Date(this.clock.now()),
      attempt: job.attempt,
      nodeId,
    };
    const bytes = encodeRecord('jobState', doneState(this.clock, job, result, job.resultTtlMs));
    const revision = await writeJobState(this.bucket, key, bytes, error.revision);
    if (revision === null) return false;
    signalDone(this.signals, this.interest, key, bytes);
    return true;
  }
}
