/**
 * The node's lease keeper: renews every job lease this node holds on ONE timer (BullMQ's lock
 * manager idea) and tells each job actor `LEASE_RENEWED` / `LEASE_LOST` as events; it also makes the
 * fenced commit and requeue, because those must not overlap a renewal of the same key (a renewal
 * moves the revision the write carries). Job actors hold no timers of their own.
 *
 * Timing, for a lease duration D and the queue's ack wait W (2D by default):
 * - a lease is renewed once D/3 has passed since the write that last succeeded was sent (a renewal
 *   also sends `working()` for the job's delivery, restarting the queue's ack wait);
 * - a lease is lost when no write has succeeded for `deadline = min(4D/3, W − D/6)` since that
 *   write was sent. Another node can only take the job over once the queue redelivered it, i.e.
 *   after W without `working()` — and the last successful renewal's `working()` left before it — so
 *   the holder always stops (signal aborted, result refused) before anyone else may start. Up to
 *   the deadline, failed renewals are retried every tick: a store outage shorter than D costs no
 *   running job its attempt.
 * - the timer ticks every min(1 s, D/10). A tick that finds the deadline passed (the event loop was
 *   blocked, or the process paused with SIGSTOP) reports the loss before renewing anything, and
 *   because its period is short it is among the first timers to run when the loop wakes, ahead of
 *   the task's own timers that were due later. Timers due before that tick still run first (Node
 *   runs due timers in order of due time; a SIGCONT handler only runs after them), so a task's
 *   signal is also checked against the deadline when the task reads it (`checkDeadline`, see
 *   job-host.ts): a task that looks at `signal.aborted` before its side effect sees the loss.
 */
import type { LeaseLostReason as MachineLeaseLostReason } from '../machines/lease-timing.js';
import type { HeldLease, JobEvent } from '../machines/job-types.js';
import type { DoneJobState, JobAttempt, JobRecord, JobResult } from '../records.js';
import { LeaseLostReason, type AttemptNotes, type JobDelivery, type JobLease, type JobStore, type LeaseLost } from '../store/index.js';

/** Where the keeper reports a lease's fate: the job actor (sends are dropped once it has ended). */
export interface LeaseTarget {
  send(event: Extract<JobEvent, { type: 'LEASE_RENEWED' | 'LEASE_LOST' }>): void;
  /** The task's latest progress value, written with each renewal (undefined: none). */
  progress?(): unknown;
}

export interface JobLeaseKeeperOptions {
  leaseDurationMs: number;
  /** The queue's ack wait. @defaultValue 2 × leaseDurationMs */
  ackWaitMs?: number;
  /** Every loss, whatever its cause (for the LeaseLost event). */
  onLost?: (jobId: string, lost: LeaseLost) => void;
  /** A renewal or write that got no answer (it is retried until the deadline). */
  onError?: (error: unknown, jobId: string) => void;
}

interface Kept {
  lease: JobLease;
  delivery: JobDelivery;
  target: LeaseTarget;
  /** Local time the last successful write was sent. */
  confirmedAt: number;
  nextRenewalAt: number;
  inflight: Promise<void> | null;
  /** closing: a commit/requeue owns the lease now (no more renewals); lost: reported. */
  phase: 'held' | 'closing' | 'lost';
  lostReason: MachineLeaseLostReason | null;
}

/** The outcome of a fenced write through the keeper. */
export type FencedOutcome<T> = { status: 'ok'; value: T } | { status: 'lost'; reason: MachineLeaseLostReason };

/** Maps the store's reasons onto the machine's vocabulary. */
export function machineLeaseLostReason(reason: LeaseLost['reason']): MachineLeaseLostReason {
  switch (reason) {
    case 'revision_moved':
      return 'revision_moved';
    case 'expired_and_taken':
      return 'expired';
    case 'key_gone':
      return 'deleted';
    case 'store_unreachable':
      return 'renewal_deadline';
  }
}

export class JobLeaseKeeper {
  readonly renewIntervalMs: number;
  readonly deadlineMs: number;
  readonly tickMs: number;
  readonly #held = new Map<string, Kept>();
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(
    private readonly jobs: JobStore,
    private readonly now: () => number,
    private readonly opts: JobLeaseKeeperOptions,
  ) {
    const d = opts.leaseDurationMs;
    const ackWait = opts.ackWaitMs ?? 2 * d;
    this.renewIntervalMs = Math.max(1, Math.floor(d / 3));
    this.deadlineMs = Math.min(Math.floor((4 * d) / 3), ackWait - Math.floor(d / 6));
    this.tickMs = Math.max(5, Math.min(1000, Math.floor(d / 10)));
    if (!(this.deadlineMs > this.renewIntervalMs)) {
      throw new RangeError(`ack wait ${ackWait} ms is too short for a lease of ${d} ms: it must exceed 2/3 of it (default: twice the lease)`);
    }
  }

  /** Leases held. */
  get size(): number {
    return this.#held.size;
  }

  /** Starts keeping `lease` (just acquired) for the job actor `target`. */
  hold(lease: JobLease, delivery: JobDelivery, target: LeaseTarget): void {
    if (this.#stopped) throw new Error('the lease keeper is stopped');
    this.#held.set(lease.jobId, {
      lease,
      delivery,
      target,
      confirmedAt: lease.sentAt,
      nextRenewalAt: lease.sentAt + this.renewIntervalMs,
      inflight: null,
      phase: 'held',
      lostReason: null,
    });
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#tick(), this.tickMs);
      this.#timer.unref();
    }
  }

  /** The lease of `jobId` as last written, if held. */
  current(jobId: string): JobLease | undefined {
    return this.#held.get(jobId)?.lease;
  }

  /** The fenced commit: ONE write of the result at the held revision (after any renewal in flight). */
  commit(jobId: string, result: JobResult, opts: { resultTtlMs: number | null } & AttemptNotes): Promise<FencedOutcome<DoneJobState>> {
    return this.#fenced(jobId, async (lease) => {
      const outcome = await this.jobs.commit(lease, result, opts);
      return 'lost' in outcome ? outcome : { value: outcome.state };
    });
  }

  /** The fenced requeue: the job back to queued (`job` carries the attempt and notBefore; `ended` joins its history). */
  requeue(jobId: string, job: JobRecord, ended?: JobAttempt): Promise<FencedOutcome<null>> {
    return this.#fenced(jobId, async (lease) => {
      const outcome = await this.jobs.requeue(lease, job, ended);
      return 'lost' in outcome ? outcome : { value: null };
    });
  }

  /** Stops keeping `jobId` (its actor ended); its key stays as it is. */
  drop(jobId: string): void {
    const kept = this.#held.get(jobId);
    if (!kept) return;
    kept.phase = 'lost';
    this.#held.delete(jobId);
    this.#disarmIfIdle();
  }

  /** Stops the timer; held leases are left as they are (the queue redelivers their jobs). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    for (const kept of this.#held.values()) kept.phase = 'lost';
    this.#held.clear();
  }

  /** Runs a tick now (tests, and the node after it learns the loop was blocked). */
  tickNow(): void {
    this.#tick();
  }

  /**
   * Declares the lease of `jobId` lost now if its deadline has passed, without waiting for the
   * next tick. Called when the job's task reads its signal: after a pause, a task timer due before
   * the keeper's next tick runs first (Node runs due timers in order of their due time, SIGCONT
   * handlers and I/O after them), and the task must not read a stale "not aborted" then.
   * Returns true when it declared the loss now (the job actor is told as on any loss, but the
   * caller may be inside one of its actions, where the event waits for the action to end).
   */
  checkDeadline(jobId: string): boolean {
    const kept = this.#held.get(jobId);
    if (!kept || kept.phase !== 'held' || this.now() < kept.confirmedAt + this.deadlineMs) return false;
    this.#deadlinePassed(kept);
    return true;
  }

  #tick(): void {
    const now = this.now();
    // Deadlines first, for every lease, before any renewal is sent.
    for (const kept of this.#held.values()) {
      if (kept.phase === 'held' && now >= kept.confirmedAt + this.deadlineMs) this.#deadlinePassed(kept);
    }
    for (const kept of this.#held.values()) {
      if (kept.phase === 'held' && kept.inflight === null && now >= kept.nextRenewalAt) this.#renew(kept, now);
    }
  }

  #renew(kept: Kept, now: number): void {
    const { jobId } = kept.lease;
    const progress = kept.target.progress?.();
    kept.inflight = this.jobs
      .renew(kept.lease, progress === undefined ? {} : { progress })
      .then((renewed) => {
        if ('lost' in renewed) {
          if (kept.phase !== 'lost') this.#lose(kept, renewed, true);
          return;
        }
        kept.lease = renewed;
        kept.confirmedAt = renewed.sentAt;
        kept.nextRenewalAt = renewed.sentAt + this.renewIntervalMs;
        if (kept.phase === 'lost') {
          if (this.#stopped) return; // the node is closing: the queue redelivers its jobs
          // Declared lost (deadline) while this renewal was on the wire, and it landed: the job
          // actor has ended, so hand the job back at once instead of leaving it to the ack wait.
          void this.jobs
            .requeue(renewed, renewed.job)
            .then((r) => 'lost' in r || kept.delivery.nak(0))
            .catch(() => undefined);
          return;
        }
        kept.delivery.working();
        if (kept.phase === 'held') kept.target.send({ type: 'LEASE_RENEWED', lease: { revision: renewed.revision } satisfies HeldLease });
      })
      .catch((error: unknown) => {
        // No answer: retried next tick, until the deadline decides.
        kept.nextRenewalAt = now + this.tickMs;
        this.opts.onError?.(error, jobId);
      })
      .finally(() => {
        kept.inflight = null;
      });
  }

  async #fenced<T>(jobId: string, write: (lease: JobLease) => Promise<LeaseLost | { value: T }>): Promise<FencedOutcome<T>> {
    const kept = this.#held.get(jobId);
    if (!kept) return { status: 'lost', reason: 'deleted' };
    if (kept.phase === 'held') kept.phase = 'closing';
    while (kept.inflight) await kept.inflight;
    for (;;) {
      if (kept.phase === 'lost') return { status: 'lost', reason: kept.lostReason ?? 'reported' };
      if (this.now() >= kept.confirmedAt + this.deadlineMs) {
        this.#deadlinePassed(kept, false);
        return { status: 'lost', reason: 'renewal_deadline' };
      }
      try {
        const outcome = await write(kept.lease);
        if ('lost' in outcome) {
          this.#lose(kept, outcome, false);
          return { status: 'lost', reason: machineLeaseLostReason(outcome.reason) };
        }
        this.#held.delete(jobId);
        this.#disarmIfIdle();
        return { status: 'ok', value: outcome.value };
      } catch (error) {
        if (!isTransient(error)) throw error;
        this.opts.onError?.(error, jobId);
        await new Promise((resolve) => setTimeout(resolve, this.tickMs));
      }
    }
  }

  #deadlinePassed(kept: Kept, notify = true): void {
    const { jobId, revision, state } = kept.lease;
    this.#lose(kept, { lost: true, key: `job.${jobId}`, owner: state.nodeId, revision, reason: LeaseLostReason.storeUnreachable }, notify);
  }

  #lose(kept: Kept, lost: LeaseLost, notifyTarget: boolean): void {
    kept.phase = 'lost';
    kept.lostReason = machineLeaseLostReason(lost.reason);
    if (this.#held.get(kept.lease.jobId) === kept) this.#held.delete(kept.lease.jobId);
    this.#disarmIfIdle();
    this.opts.onLost?.(kept.lease.jobId, lost);
    if (notifyTarget) kept.target.send({ type: 'LEASE_LOST', reason: kept.lostReason });
  }

  #disarmIfIdle(): void {
    if (this.#held.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }
}

/**
 * Errors worth retrying under the lease (no answer, disconnected); anything else (a value the codec
 * refuses, a payload over the server's limit) is the caller's to handle.
 */
function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  return !(error instanceof TypeError || error.name === 'RecordTooLargeError' || error.name === 'DeserializationError');
}
