/**
 * Jobs on a store: the dispatch queue carries each job's record to a worker, and one KV key per job
 * (`jobs` bucket, no TTL) holds its state — queued, running (the lease) or done (the result). Every
 * change of that key is a revision-checked write, so:
 *
 * - acquiring is one write (`create` on a first delivery), the commit is ONE write that turns the
 *   running state at the held revision into the done state with the result (G1: a runner whose
 *   lease was taken over carries a stale revision, whatever the delay on the wire), and a requeue
 *   is one write to the queued state;
 * - a takeover only happens when the queue redelivers the job's own message (its holder stopped
 *   sending `working()` for a whole ack wait, 2 lease durations) AND the running state has not been
 *   renewed for a lease duration; the taker rewrites the key at the revision it read, which every
 *   later write of the old holder then misses;
 * - a message whose job key tracks another message (a duplicate publish past the queue's dedup
 *   window) or a finished job is acked and dropped: a job runs for one message at a time.
 *
 * Round trips of a job that succeeds first time: publish (producer); fetch share, create, commit
 * (worker); the ack and the completion signal are one-way.
 *
 * This file holds that hot path. What is not on it JobStore hands to collaborators: lookups,
 * listings and the sweep (job-listing.ts), endings without a lease (job-settling.ts), listening for
 * completions and cancel requests (job-signals.ts).
 */
import { encodeRecord } from '../codec/index.js';
import type { DoneJobState, JobAttempt, JobRecord, JobResult, QueuedJobState, RunningJobState } from '../records.js';
import type { StoreClock } from './clock.js';
import { appendAttempt } from './job-attempts.js';
import { decodeDelivery, type JobDelivery } from './job-delivery.js';
import { readJobState, writeJobState, type StoredJobState } from './job-key.js';
import { JobListing, type JobLookup, type ListedJob, type ListJobsQuery } from './job-listing.js';
import { priorityLevel, type JobQueue, type PublishOutcome, type QueueFetchOptions } from './job-queue.js';
import { JobSettling, type CancelOutcome } from './job-settling.js';
import { JobSignals, signalDone } from './job-signals.js';
import { abandonedAttempt, atAttempt, newLeaseId, withNotes, withoutArgs, type AttemptNotes } from './job-states.js';
import type { KvBucket } from './kv-bucket.js';
import { LeaseLostReason, type LeaseLost } from './lease.js';
import type { InterestTracker } from './interest.js';
import type { SignalTransport } from './signals.js';
import { CorruptRecordError, RecordTooLargeError } from './store-errors.js';
import { encodeKeyToken } from './store-keys.js';

/** A held job: the running state at `revision`, which only this holder's writes may move. */
export interface JobLease {
  readonly jobId: string;
  readonly revision: number;
  readonly state: RunningJobState;
  /** The job's record with the attempt being run. */
  readonly job: JobRecord;
  /** Local time the write that produced `revision` was sent: the holder counts its deadline from it. */
  readonly sentAt: number;
}

export type AcquireOutcome =
  /** The job is ours; `job` carries the attempt to run. */
  | { status: 'acquired'; lease: JobLease; job: JobRecord; previousAttemptAbandoned: boolean }
  /** The job has its result already: ack the delivery. */
  | { status: 'finished' }
  /** The job's key tracks another message of the same job: ack this one. */
  | { status: 'duplicate' }
  /** Someone may still run it (renewed recently), the job waits for its backoff, or a race was lost: nak with the delay. */
  | { status: 'later'; retryInMs: number; reason: 'held' | 'not_yet' | 'contended' }
  /** The job's key held an unreadable state: the job was ended `deserialization_failed` (fenced on that state). */
  | { status: 'corrupt'; error: CorruptRecordError };

/** A short wait before a delivery whose key changed under us is looked at again. */
const CONTENDED_RETRY_MS = 100;
const MIN_HELD_RETRY_MS = 50;

export class JobStore {
  readonly #listing: JobListing;
  readonly #settling: JobSettling;
  readonly #jobSignals: JobSignals;

  constructor(
    private readonly bucket: KvBucket,
    private readonly queue: JobQueue,
    private readonly signals: SignalTransport,
    private readonly clock: StoreClock,
    /** A running state not renewed for this long (and redelivered) may be taken over. */
    readonly leaseDurationMs: number,
    private readonly onCorrupt: (error: CorruptRecordError) => void,
    /** Completions are signalled only while some node waits for results (see interest.ts). */
    private readonly interest: InterestTracker,
  ) {
    this.#listing = new JobListing(bucket, queue, clock, onCorrupt);
    this.#settling = new JobSettling(bucket, signals, interest, clock, this.#listing);
    this.#jobSignals = new JobSignals(signals, interest);
  }

  // ---- producing ----------------------------------------------------------------------------

  /** Queues each record (one pipelined publish each); `duplicate` when its id was queued recently. */
  async add(records: readonly JobRecord[]): Promise<PublishOutcome[]> {
    return this.queue.publish(records.map((job) => ({ jobId: job.id, data: encodeRecord('job', job), level: priorityLevel(job.priority) })));
  }

  // ---- working ------------------------------------------------------------------------------

  /** Up to `max` deliveries with their records decoded. */
  async fetch(max: number, opts?: QueueFetchOptions): Promise<JobDelivery[]> {
    const deliveries = await this.queue.fetch(max, opts);
    return deliveries.map((d) => decodeDelivery(d, this.onCorrupt));
  }

  /**
   * Takes the job of `delivery` for `nodeId`: one write on a first delivery; on a redelivery, a read
   * and then a revision-checked write that moves whatever state a vanished holder left.
   */
  async acquire(delivery: JobDelivery, job: JobRecord, nodeId: string): Promise<AcquireOutcome> {
    const leaseId = newLeaseId();
    const key = encodeKeyToken(delivery.jobId);
    const { jobId, seq } = delivery;
    const running = (of: JobRecord, sentAt: number, attempts: JobAttempt[] | undefined): RunningJobState => {
      const state: RunningJobState = {
        phase: 'running',
        task: of.task,
        attempt: of.attempt,
        nodeId,
        leaseId,
        seq,
        startedAt: new Date(sentAt),
        renewedAt: new Date(sentAt),
      };
      if (attempts !== undefined && attempts.length > 0) state.attempts = attempts;
      return state;
    };
    // The history travels on: a requeued job's attempts, and a vanished holder's attempt as abandoned.
    const take = async (of: JobRecord, expected: number, abandoned: boolean, attempts?: JobAttempt[]): Promise<AcquireOutcome | null> => {
      const sentAt = this.clock.now();
      const state = running(of, sentAt, attempts);
      const revision = await writeJobState(this.bucket, key, encodeRecord('jobState', state), expected);
      if (revision === null) return null;
      return { status: 'acquired', lease: { jobId, revision, state, job: of, sentAt }, job: of, previousAttemptAbandoned: abandoned };
    };
    try {
      if (delivery.deliveryCount === 1) {
        const taken = await take(job, 0, false);
        if (taken) return taken;
      }
      for (let round = 0; round < 2; round++) {
        let current: StoredJobState | null;
        try {
          current = await readJobState(this.bucket, key, this.onCorrupt);
        } catch (error) {
          if (!(error instanceof CorruptRecordError)) throw error;
          const ended = await this.#settling.endCorrupt(key, job, error, nodeId);
          return ended ? { status: 'corrupt', error } : { status: 'later', retryInMs: CONTENDED_RETRY_MS, reason: 'contended' };
        }
        const now = this.clock.now();
        if (current === null) {
          const taken = await take(job, 0, false);
          if (taken) return taken;
          continue;
        }
        const { state: seen, revision: seenRevision } = current;
        if (seen.phase === 'done') return { status: 'finished' };
        if (seen.phase === 'queued') {
          const waitMs = seen.notBefore ? seen.notBefore.getTime() - now : 0;
          if (waitMs > 0) return { status: 'later', retryInMs: waitMs, reason: 'not_yet' };
          const taken = await take(atAttempt(job, { attempt: seen.attempt }), seenRevision, false, seen.attempts);
          if (taken) return taken;
          continue;
        }
        if (seen.leaseId === leaseId) {
          const of = atAttempt(job, seen);
          return { status: 'acquired', lease: { jobId, revision: seenRevision, state: seen, job: of, sentAt: seen.renewedAt.getTime() }, job: of, previousAttemptAbandoned: false };
        }
        if (seen.seq !== seq) return { status: 'duplicate' };
        const quietMs = now - seen.renewedAt.getTime();
        if (quietMs < this.leaseDurationMs) {
          return { status: 'later', retryInMs: Math.max(MIN_HELD_RETRY_MS, this.leaseDurationMs - quietMs), reason: 'held' };
        }
        // The queue redelivered this message (its holder stopped keeping it) and the lease has not
        // been renewed for a lease duration: the holder vanished mid-attempt.
        const taken = await take(atAttempt(job, { attempt: seen.attempt }), seenRevision, true, appendAttempt(seen.attempts, abandonedAttempt(seen)));
        if (taken) return taken;
      }
      return { status: 'later', retryInMs: CONTENDED_RETRY_MS, reason: 'contended' };
    } catch (error) {
      // The write may have landed with its answer lost: our lease id on the key says so.
      const after = await readJobState(this.bucket, key, this.onCorrupt).catch(() => null);
      if (after && after.state.phase === 'running' && after.state.leaseId === leaseId) {
        const of = atAttempt(job, after.state);
        return { status: 'acquired', lease: { jobId, revision: after.revision, state: after.state, job: of, sentAt: after.state.renewedAt.getTime() }, job: of, previousAttemptAbandoned: false };
      }
      throw error;
    }
  }

  /**
   * Renews `lease` (restarts its quiet time) with a write at its revision; `progress` (when given)
   * is the task's latest progress value, written with the renewal instead of a write of its own.
   */
  async renew(lease: JobLease, opts: { progress?: unknown } = {}): Promise<JobLease | LeaseLost> {
    const sentAt = this.clock.now();
    const state: RunningJobState = { ...lease.state, renewedAt: new Date(sentAt) };
    if (opts.progress !== undefined) state.progress = opts.progress;
    const key = encodeKeyToken(lease.jobId);
    const revision = await writeJobState(this.bucket, key, encodeRecord('jobState', state), lease.revision);
    if (revision !== null) return { jobId: lease.jobId, revision, state, job: lease.job, sentAt };
    // An earlier renewal of this lease may have landed with its answer lost: the key still holds it.
    const current = await readJobState(this.bucket, key, this.onCorrupt).catch(() => null);
    if (current && current.state.phase === 'running' && current.state.leaseId === lease.state.leaseId) {
      return { jobId: lease.jobId, revision: current.revision, state: current.state, job: lease.job, sentAt: current.state.renewedAt.getTime() };
    }
    return this.#lost(lease, key);
  }

  /**
   * The fenced commit: ONE write turning the running state at the lease's revision into the done
   * state with `result`. Refused (lease lost) if anyone else wrote the key since. On success the
   * completion is signalled to result waiters. The done state keeps the attempts before this one
   * (from the lease) and `opts`' notes of this one; if that would exceed the payload limit, the
   * notes and history are dropped rather than the result.
   */
  async commit(lease: JobLease, result: JobResult, opts: { resultTtlMs: number | null } & AttemptNotes): Promise<{ status: 'committed'; state: DoneJobState } | LeaseLost> {
    const expiresAt = opts.resultTtlMs === null ? null : new Date(this.clock.now() + opts.resultTtlMs);
    const bare: DoneJobState = { phase: 'done', job: withoutArgs(lease.job), result, expiresAt, leaseId: lease.state.leaseId };
    let state = withNotes(bare, lease.state, opts);
    const key = encodeKeyToken(lease.jobId);
    let bytes = encodeRecord('jobState', state);
    let revision: number | null;
    try {
      try {
        revision = await writeJobState(this.bucket, key, bytes, lease.revision);
      } catch (error) {
        // Nothing was sent: the history and logs must not cost the job its result.
        if (!(error instanceof RecordTooLargeError) || state === bare) throw error;
        state = bare;
        bytes = encodeRecord('jobState', state);
        revision = await writeJobState(this.bucket, key, bytes, lease.revision);
      }
    } catch (error) {
      // The write may have landed with its answer lost.
      const own = await this.#ownDone(key, lease.state.leaseId);
      if (!own) throw error;
      signalDone(this.signals, this.interest, key, encodeRecord('jobState', own));
      return { status: 'committed', state: own };
    }
    if (revision === null) {
      // Refused: either someone else moved the key, or an earlier commit of this very lease landed
      // (its answer lost, so the caller tried again): then that result is the one that stands.
      const own = await this.#ownDone(key, lease.state.leaseId);
      if (!own) return this.#lost(lease, key);
      signalDone(this.signals, this.interest, key, encodeRecord('jobState', own));
      return { status: 'committed', state: own };
    }
    signalDone(this.signals, this.interest, key, bytes);
    return { status: 'committed', state };
  }

  /**
   * Puts the job back as queued (`job` carries the attempt and notBefore), fenced like a commit;
   * `ended` (the attempt that just ended, if one ran) joins the job's bounded history.
   */
  async requeue(lease: JobLease, job: JobRecord, ended?: JobAttempt): Promise<{ status: 'requeued' } | LeaseLost> {
    const state: QueuedJobState = { phase: 'queued', task: job.task, attempt: job.attempt, leaseId: lease.state.leaseId };
    if (job.notBefore) state.notBefore = job.notBefore;
    const attempts = ended ? appendAttempt(lease.state.attempts, ended) : lease.state.attempts;
    if (attempts !== undefined && attempts.length > 0) state.attempts = attempts;
    const key = encodeKeyToken(lease.jobId);
    let revision: number | null;
    try {
      revision = await writeJobState(this.bucket, key, encodeRecord('jobState', state), lease.revision);
    } catch (error) {
      if (await this.#isOwnWrite(key, lease.state.leaseId, 'queued')) return { status: 'requeued' };
      throw error;
    }
    if (revision === null && !(await this.#isOwnWrite(key, lease.state.leaseId, 'queued'))) return this.#lost(lease, key);
    return { status: 'requeued' };
  }

  /**
   * Ends a job that cannot run (a corrupt message) with `result`, unless it has a state already.
   * Resolves to false when it had one.
   */
  settle(jobId: string, job: JobRecord, result: JobResult, opts: { resultTtlMs: number | null }): Promise<boolean> {
    return this.#settling.settle(jobId, job, result, opts);
  }

  // ---- reading ------------------------------------------------------------------------------

  /** The job's key state, or null. Throws CorruptRecordError (after reporting it). */
  async get(jobId: string): Promise<StoredJobState | null> {
    return readJobState(this.bucket, encodeKeyToken(jobId), this.onCorrupt);
  }

  /** The job's state from its key, or from its message while it waits in the queue; null if unknown. */
  lookup(jobId: string): Promise<JobLookup | null> {
    return this.#listing.lookup(jobId);
  }

  /** The result of a finished job, or null (unknown, not finished, or expired). */
  async result(jobId: string): Promise<JobResult | null> {
    const stored = await this.get(jobId);
    return stored && stored.state.phase === 'done' && !this.#expired(stored.state) ? stored.state.result : null;
  }

  /** Messages waiting in the queue (delivered ones included). */
  queueDepth(): Promise<number> {
    return this.queue.depth();
  }

  /**
   * Jobs newest first (by creation time, then id), filtered; `nextCursor` continues the listing.
   * Reads every job key and up to 10,000 queued messages: a tool's listing, not a hot path.
   */
  list(query: ListJobsQuery = {}): Promise<{ jobs: ListedJob[]; nextCursor: string | null }> {
    return this.#listing.list(query);
  }

  /** Every job state in the bucket, corrupt ones reported and skipped (for listings). */
  states(): Promise<(StoredJobState & { jobId: string })[]> {
    return this.#listing.states();
  }

  // ---- cancelling ---------------------------------------------------------------------------

  /**
   * Cancels a job that is not running: writes the `cancelled` result (the queue's message is dropped
   * when it is delivered). `running`: ask its holder with `requestCancel`.
   */
  cancelQueued(jobId: string, result: (job: JobRecord) => JobResult, resultTtlMs: (job: JobRecord) => number | null): Promise<CancelOutcome> {
    return this.#settling.cancelQueued(jobId, result, resultTtlMs);
  }

  /**
   * Cancels a job whose holder stopped renewing: writes the `cancelled` result at `revision` (the
   * running state seen before asking the holder). Refused if the holder moved the key meanwhile.
   */
  cancelAbandoned(jobId: string, revision: number, job: JobRecord, result: JobResult, resultTtlMs: number | null, attempts?: JobAttempt[]): Promise<boolean> {
    return this.#settling.cancelAbandoned(jobId, revision, job, result, resultTtlMs, attempts);
  }

  /** Asks the node running `jobId` to cancel it (best effort; one-way). */
  requestCancel(jobId: string): void {
    this.#jobSignals.requestCancel(jobId);
  }

  /** Cancel requests from the whole cluster. */
  onCancelRequested(listener: (jobId: string) => void): () => void {
    return this.#jobSignals.onCancelRequested(listener);
  }

  /**
   * Completions from the whole cluster, as they are committed. The channel is listened to only
   * while someone listens here.
   */
  onDone(listener: (jobId: string, state: DoneJobState) => void): () => void {
    return this.#jobSignals.onDone(listener);
  }

  // ---- housekeeping -------------------------------------------------------------------------

  /** Deletes the keys of finished jobs whose result expired (each at the revision read); resolves to how many. */
  sweep(): Promise<number> {
    return this.#listing.sweep();
  }

  // ---- internals ----------------------------------------------------------------------------

  #expired(state: DoneJobState): boolean {
    return state.expiresAt !== null && state.expiresAt.getTime() <= this.clock.now();
  }

  /** The done state on `key`, if the lease `leaseId` committed it. */
  async #ownDone(key: string, leaseId: string): Promise<DoneJobState | null> {
    const current = await readJobState(this.bucket, key, this.onCorrupt).catch(() => null);
    return current !== null && current.state.phase === 'done' && current.state.leaseId === leaseId ? current.state : null;
  }

  async #isOwnWrite(key: string, leaseId: string, phase: 'done' | 'queued'): Promise<boolean> {
    const current = await readJobState(this.bucket, key, this.onCorrupt).catch(() => null);
    return current !== null && current.state.phase === phase && current.state.leaseId === leaseId;
  }

  async #lost(lease: JobLease, key: string): Promise<LeaseLost> {
    const base = { lost: true as const, key: `job.${key}`, owner: lease.state.nodeId, revision: lease.revision };
    const current = await readJobState(this.bucket, key, this.onCorrupt).catch(() => null);
    if (!current) return { ...base, reason: LeaseLostReason.keyGone };
    if (current.state.phase === 'running' && current.state.leaseId !== lease.state.leaseId) {
      return { ...base, reason: LeaseLostReason.expiredAndTaken, holder: current.state.nodeId };
    }
    // Our own lease at another revision (a second handle wrote it), or the job went on without us.
    return { ...base, reason: LeaseLostReason.revisionMoved };
  }
}
