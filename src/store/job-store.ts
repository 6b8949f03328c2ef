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
 */
import { randomBytes } from 'node:crypto';
import { decodeRecord, encodeRecord } from '../codec/index.js';
import type { DoneJobState, JobAttempt, JobLogLine, JobRecord, JobResult, JobState, QueuedJobState, RunningJobState } from '../records.js';
import type { StoreClock } from './clock.js';
import { priorityLevel, type JobQueue, type PublishOutcome, type QueueDelivery, type QueueFetchOptions } from './job-queue.js';
import type { KvBucket } from './kv-bucket.js';
import { LeaseLostReason, type LeaseLost } from './lease.js';
import type { InterestTracker } from './interest.js';
import { SignalChannel, type SignalTransport } from './signals.js';
import { CorruptRecordError, RecordTooLargeError, RevisionConflictError } from './store-errors.js';
import { encodeKeyToken, tryDecodeKeyToken } from './store-keys.js';
import { DeserializationError } from '../codec/index.js';
import { appendAttempt } from './job-attempts.js';

/** A delivery of a job, with its record decoded (or the reason it could not be). */
export interface JobDelivery {
  readonly jobId: string;
  /** The record as published; null when the message is corrupt (see `corrupt`). */
  readonly job: JobRecord | null;
  readonly corrupt: CorruptRecordError | null;
  readonly seq: number;
  readonly deliveryCount: number;
  ack(): void;
  nak(delayMs?: number): void;
  working(): void;
  term(): void;
}

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

/** A job's state with the revision it was read at. */
export interface StoredJobState {
  state: JobState;
  revision: number;
}

/**
 * What `lookup` knows of a job: its key's state (revision 0 when it has none yet: only its message
 * waits in the queue) and its record (from the done state, or from its message).
 */
export interface JobLookup {
  state: JobState;
  revision: number;
  job: JobRecord | null;
}

export type CancelOutcome = 'cancelled' | 'finished' | 'running' | 'unknown';

/** One job in a listing: its state (a job known only by its queue message is `queued`) and record. */
export interface ListedJob {
  jobId: string;
  state: JobState;
  /** The record (from the done state or the queue message); null when neither is readable. */
  job: JobRecord | null;
}

/** What the final attempt of a commit leaves beside its result: its `ctx.log` lines and latest progress. */
export interface AttemptNotes {
  logs?: JobLogLine[];
  /** Lines dropped beyond the bound. */
  logsDropped?: number;
  /** The latest progress value (undefined: none was reported). */
  progress?: unknown;
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

/**
 * The record kept with a result: without its args, which travelled in the queue message and can be
 * as large as the server's payload limit — with a return value as large beside them, the done state
 * would not fit.
 */
function withoutArgs(job: JobRecord): JobRecord {
  const { args: _args, ...rest } = job;
  return rest as JobRecord;
}

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

/** A record for a job known only by its key state (its message is gone): enough for a result. */
function placeholderRecord(id: string, task: string, attempt: number, now: number): JobRecord {
  return { id, task, args: null, createdAt: new Date(now), attempt, resultTtlMs: null };
}

/** The interest topic of job completions (result waiters). */
export const DONE_TOPIC = 'done';

/** The attempt of a holder that stopped renewing, as the node taking the job over records it. */
function abandonedAttempt(seen: RunningJobState): JobAttempt {
  const attempt: JobAttempt = { attempt: seen.attempt, nodeId: seen.nodeId, startedAt: seen.startedAt, endedAt: seen.renewedAt, outcome: 'abandoned' };
  if (seen.progress !== undefined) attempt.progress = seen.progress;
  return attempt;
}

/** The done state with the history (from the running state) and the final attempt's notes. */
function withNotes(done: DoneJobState, running: RunningJobState, notes: AttemptNotes): DoneJobState {
  const progress = notes.progress !== undefined ? notes.progress : running.progress;
  const hasLogs = notes.logs !== undefined && notes.logs.length > 0;
  if (running.attempts === undefined && !hasLogs && !notes.logsDropped && progress === undefined) return done;
  const noted: DoneJobState = { ...done };
  if (running.attempts !== undefined && running.attempts.length > 0) noted.attempts = running.attempts;
  if (hasLogs) noted.logs = notes.logs as JobLogLine[];
  if (notes.logsDropped) noted.logsDropped = notes.logsDropped;
  if (progress !== undefined) noted.progress = progress;
  return noted;
}

/** A short wait before a delivery whose key changed under us is looked at again. */
const CONTENDED_RETRY_MS = 100;
const MIN_HELD_RETRY_MS = 50;

/** Lease ids: a random prefix per process and a counter — unique, and cheaper than random bytes each time. */
const LEASE_ID_PREFIX = randomBytes(6).toString('base64url');
let leaseCounter = 0;
const newLeaseId = (): string => `${LEASE_ID_PREFIX}.${(++leaseCounter).toString(36)}`;

/** The record as it runs for the attempt (and backoff) a state says. */
function atAttempt(job: JobRecord, state: { attempt: number; notBefore?: Date }): JobRecord {
  if (job.attempt === state.attempt && job.notBefore === state.notBefore) return job;
  const next: JobRecord = { ...job, attempt: state.attempt };
  if (state.notBefore) next.notBefore = state.notBefore;
  else delete next.notBefore;
  return next;
}

export class JobStore {
  readonly #doneListeners = new Set<(jobId: string, state: DoneJobState) => void>();
  #stopDone: (() => void) | null = null;
  #stopDoneInterest: (() => void) | null = null;

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
  ) {}

  /** Sends the completion signal of `key` if anyone waits for results. */
  #signalDone(key: string, bytes: Uint8Array): void {
    if (this.interest.wanted(DONE_TOPIC)) this.signals.send(SignalChannel.done, key, bytes);
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
    return deliveries.map((d) => this.#decodeDelivery(d));
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
      const revision = await this.#write(key, state, expected);
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
          current = await this.#read(key);
        } catch (error) {
          if (!(error instanceof CorruptRecordError)) throw error;
          return await this.#endCorrupt(key, job, error, nodeId);
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
      const after = await this.#read(key).catch(() => null);
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
    const revision = await this.#write(key, state, lease.revision);
    if (revision !== null) return { jobId: lease.jobId, revision, state, job: lease.job, sentAt };
    // An earlier renewal of this lease may have landed with its answer lost: the key still holds it.
    const current = await this.#read(key).catch(() => null);
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
        revision = await this.#writeBytes(key, bytes, lease.revision);
      } catch (error) {
        // Nothing was sent: the history and logs must not cost the job its result.
        if (!(error instanceof RecordTooLargeError) || state === bare) throw error;
        state = bare;
        bytes = encodeRecord('jobState', state);
        revision = await this.#writeBytes(key, bytes, lease.revision);
      }
    } catch (error) {
      // The write may have landed with its answer lost.
      const own = await this.#ownDone(key, lease.state.leaseId);
      if (!own) throw error;
      this.#signalDone(key, encodeRecord('jobState', own));
      return { status: 'committed', state: own };
    }
    if (revision === null) {
      // Refused: either someone else moved the key, or an earlier commit of this very lease landed
      // (its answer lost, so the caller tried again): then that result is the one that stands.
      const own = await this.#ownDone(key, lease.state.leaseId);
      if (!own) return this.#lost(lease, key);
      this.#signalDone(key, encodeRecord('jobState', own));
      return { status: 'committed', state: own };
    }
    this.#signalDone(key, bytes);
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
      revision = await this.#write(key, state, lease.revision);
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
  async settle(jobId: string, job: JobRecord, result: JobResult, opts: { resultTtlMs: number | null }): Promise<boolean> {
    const state = this.#doneState(job, result, opts.resultTtlMs);
    const key = encodeKeyToken(jobId);
    const bytes = encodeRecord('jobState', state);
    const revision = await this.#writeBytes(key, bytes, 0);
    if (revision === null) return false;
    this.#signalDone(key, bytes);
    return true;
  }

  /** Overwrites an unreadable state (at its revision) with a `deserialization_failed` result. */
  async #endCorrupt(key: string, job: JobRecord, error: CorruptRecordError, nodeId: string): Promise<AcquireOutcome> {
    const result: JobResult = {
      jobId: job.id,
      outcome: 'deserialization_failed',
      error: { name: error.name, message: error.message },
      finishedAt: new Date(this.clock.now()),
      attempt: job.attempt,
      nodeId,
    };
    const bytes = encodeRecord('jobState', this.#doneState(job, result, job.resultTtlMs));
    const revision = await this.#writeBytes(key, bytes, error.revision);
    if (revision === null) return { status: 'later', retryInMs: CONTENDED_RETRY_MS, reason: 'contended' };
    this.#signalDone(key, bytes);
    return { status: 'corrupt', error };
  }

  // ---- reading ------------------------------------------------------------------------------

  /** The job's key state, or null. Throws CorruptRecordError (after reporting it). */
  async get(jobId: string): Promise<StoredJobState | null> {
    return this.#read(encodeKeyToken(jobId));
  }

  /** The job's state from its key, or from its message while it waits in the queue; null if unknown. */
  async lookup(jobId: string): Promise<JobLookup | null> {
    const stored = await this.get(jobId);
    if (stored && stored.state.phase === 'done') return { ...stored, job: stored.state.job };
    const queued = await this.queue.peek(jobId);
    const message = queued ? tryDecodeJob(queued.data) : null;
    if (stored) return { ...stored, job: message && atAttempt(message, stored.state as { attempt: number; notBefore?: Date }) };
    if (message) return { state: { phase: 'queued', task: message.task, attempt: message.attempt }, revision: 0, job: message };
    // An unreadable message: queued all the same (the worker that takes it ends it deserialization_failed).
    if (queued) return { state: { phase: 'queued', task: '?', attempt: 1 }, revision: 0, job: null };
    // Acquired (and its message acked) between the two reads: the key exists now.
    const late = await this.get(jobId);
    return late && { ...late, job: late.state.phase === 'done' ? late.state.job : null };
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

  // ---- cancelling ---------------------------------------------------------------------------

  /**
   * Cancels a job that is not running: writes the `cancelled` result (the queue's message is dropped
   * when it is delivered). `running`: ask its holder with `requestCancel`.
   */
  async cancelQueued(jobId: string, result: (job: JobRecord) => JobResult, resultTtlMs: (job: JobRecord) => number | null): Promise<CancelOutcome> {
    for (let round = 0; round < 3; round++) {
      const found = await this.lookup(jobId);
      if (!found) return 'unknown';
      const { state } = found;
      if (state.phase === 'done') return 'finished';
      if (state.phase === 'running') return 'running';
      const job = found.job ?? placeholderRecord(jobId, state.task, state.attempt, this.clock.now());
      const done = this.#doneState(job, result(job), resultTtlMs(job), state.attempts);
      const bytes = encodeRecord('jobState', done);
      const key = encodeKeyToken(jobId);
      if ((await this.#writeBytes(key, bytes, found.revision)) !== null) {
        this.#signalDone(key, bytes);
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
    const done = this.#doneState(job, result, resultTtlMs, attempts);
    const bytes = encodeRecord('jobState', done);
    const key = encodeKeyToken(jobId);
    if ((await this.#writeBytes(key, bytes, revision)) === null) return false;
    this.#signalDone(key, bytes);
    return true;
  }

  /** Asks the node running `jobId` to cancel it (best effort; one-way). */
  requestCancel(jobId: string): void {
    this.signals.send(SignalChannel.cancel, encodeKeyToken(jobId), new Uint8Array(0));
  }

  /** Cancel requests from the whole cluster. */
  onCancelRequested(listener: (jobId: string) => void): () => void {
    return this.signals.listen(SignalChannel.cancel, (key) => {
      const jobId = tryDecodeKeyToken(key);
      if (jobId !== null) listener(jobId);
    });
  }

  /**
   * Completions from the whole cluster, as they are committed. The channel is listened to only
   * while someone listens here.
   */
  onDone(listener: (jobId: string, state: DoneJobState) => void): () => void {
    this.#doneListeners.add(listener);
    if (this.#stopDone === null) {
      this.#stopDoneInterest = this.interest.listen(DONE_TOPIC);
      this.#stopDone = this.signals.listen(SignalChannel.done, (key, data) => {
        const jobId = tryDecodeKeyToken(key);
        if (jobId === null) return;
        let state: JobState;
        try {
          state = decodeRecord('jobState', data);
        } catch {
          return; // foreign or damaged: the waiter's re-read finds the truth
        }
        if (state.phase !== 'done') return;
        for (const l of [...this.#doneListeners]) l(jobId, state);
      });
    }
    return () => {
      this.#doneListeners.delete(listener);
      if (this.#doneListeners.size === 0 && this.#stopDone) {
        this.#stopDone();
        this.#stopDone = null;
        this.#stopDoneInterest?.();
        this.#stopDoneInterest = null;
      }
    };
  }

  // ---- housekeeping -------------------------------------------------------------------------

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
      const decoded = this.#decode(entry.key, entry.value, entry.revision);
      if (!(decoded instanceof CorruptRecordError)) out.push({ ...decoded, jobId });
    }
    return out;
  }

  // ---- internals ----------------------------------------------------------------------------

  #doneState(job: JobRecord, result: JobResult, resultTtlMs: number | null, attempts?: JobAttempt[]): DoneJobState {
    const expiresAt = resultTtlMs === null ? null : new Date(this.clock.now() + resultTtlMs);
    const done: DoneJobState = { phase: 'done', job: withoutArgs(job), result, expiresAt };
    if (attempts !== undefined && attempts.length > 0) done.attempts = attempts;
    return done;
  }

  #expired(state: DoneJobState): boolean {
    return state.expiresAt !== null && state.expiresAt.getTime() <= this.clock.now();
  }

  /** The done state on `key`, if the lease `leaseId` committed it. */
  async #ownDone(key: string, leaseId: string): Promise<DoneJobState | null> {
    const current = await this.#read(key).catch(() => null);
    return current !== null && current.state.phase === 'done' && current.state.leaseId === leaseId ? current.state : null;
  }

  async #isOwnWrite(key: string, leaseId: string, phase: 'done' | 'queued'): Promise<boolean> {
    const current = await this.#read(key).catch(() => null);
    return current !== null && current.state.phase === phase && current.state.leaseId === leaseId;
  }

  /** Revision-checked write (0 = create); null when the key moved (RevisionConflictError). */
  #write(key: string, state: JobState, expected: number): Promise<number | null> {
    return this.#writeBytes(key, encodeRecord('jobState', state), expected);
  }

  async #writeBytes(key: string, bytes: Uint8Array, expected: number): Promise<number | null> {
    try {
      return expected === 0 ? await this.bucket.create(key, bytes) : await this.bucket.update(key, bytes, expected);
    } catch (error) {
      if (error instanceof RevisionConflictError) return null;
      throw error;
    }
  }

  async #read(key: string): Promise<StoredJobState | null> {
    const entry = await this.bucket.get(key);
    if (!entry) return null;
    const decoded = this.#decode(key, entry.value, entry.revision);
    if (decoded instanceof CorruptRecordError) throw decoded;
    return decoded;
  }

  #decode(key: string, value: Uint8Array, revision: number): StoredJobState | CorruptRecordError {
    try {
      return { state: decodeRecord('jobState', value), revision };
    } catch (error) {
      const cause = error instanceof DeserializationError ? error : new DeserializationError('jobState', String(error), { cause: error });
      const corrupt = new CorruptRecordError('jobs', tryDecodeKeyToken(key) ?? key, revision, cause);
      this.#report(corrupt);
      return corrupt;
    }
  }

  #report(corrupt: CorruptRecordError): void {
    try {
      this.onCorrupt(corrupt);
    } catch {
      // a throwing callback must not break the read
    }
  }

  async #lost(lease: JobLease, key: string): Promise<LeaseLost> {
    const base = { lost: true as const, key: `job.${key}`, owner: lease.state.nodeId, revision: lease.revision };
    const current = await this.#read(key).catch(() => null);
    if (!current) return { ...base, reason: LeaseLostReason.keyGone };
    if (current.state.phase === 'running' && current.state.leaseId !== lease.state.leaseId) {
      return { ...base, reason: LeaseLostReason.expiredAndTaken, holder: current.state.nodeId };
    }
    // Our own lease at another revision (a second handle wrote it), or the job went on without us.
    return { ...base, reason: LeaseLostReason.revisionMoved };
  }

  #decodeDelivery(d: QueueDelivery): JobDelivery {
    let job: JobRecord | null = null;
    let corrupt: CorruptRecordError | null = null;
    try {
      job = decodeRecord('job', d.data);
      if (job.id !== d.jobId) throw new DeserializationError('job', `record id "${job.id}" does not match its message's job id "${d.jobId}"`);
    } catch (error) {
      const cause = error instanceof DeserializationError ? error : new DeserializationError('job', String(error), { cause: error });
      corrupt = new CorruptRecordError('jobs', d.jobId, d.seq, cause);
      job = null;
      this.#report(corrupt);
    }
    return {
      jobId: d.jobId,
      job,
      corrupt,
      seq: d.seq,
      deliveryCount: d.deliveryCount,
      ack: () => d.ack(),
      nak: (ms) => d.nak(ms),
      working: () => d.working(),
      term: () => d.term(),
    };
  }
}
