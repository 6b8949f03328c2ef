/**
 * What the runtime works with: a `StoreFactory` (from `memoryStore()` or `natsStore(...)`) is
 * opened once per node with the node's lease duration, giving a `StoreBackend` with the domain's
 * operations. Both backends provide the same primitives (`StoreDriver`); everything above them —
 * leases, repositories, result retention, job completion — is this one shared code, which is why
 * one conformance suite covers both.
 */
import type { JobResult } from '../records.js';
import type { StoreClock, TimerHandle } from './clock.js';
import type { EventBus } from './event-bus.js';
import type { JobDispatch } from './job-dispatch.js';
import { JobRepository } from './job-repository.js';
import type { KvBucket } from './kv-bucket.js';
import { isLeaseLost, type Lease, type LeaseLost } from './lease.js';
import { LeaseRenewer, type LeaseRenewerOptions } from './lease-renewer.js';
import { LeaseStore } from './lease-store.js';
import { NodeRegistry } from './node-registry.js';
import { ResultRepository, type StoredResult } from './result-repository.js';
import { ScheduleRepository } from './schedule-repository.js';
import { StoreConfigError, type CorruptRecordError } from './store-errors.js';

export type StoreKind = 'memory' | 'nats';

/** `up`: store reachable; `down`: connection lost, reconnecting; `closed`: for good. */
export type ConnectionState = 'up' | 'down' | 'closed';

/** The buckets of a store, by short name (`<prefix>_<name>` on NATS). */
export const BucketName = {
  schedules: 'schedules',
  jobs: 'jobs',
  results: 'results',
  leases: 'leases',
  nodes: 'nodes',
} as const;
export type BucketName = (typeof BucketName)[keyof typeof BucketName];

export interface OpenStoreOptions {
  /** Lease TTL = the `leases` bucket TTL; every node of a store must use the same value. Required, >= 100. */
  leaseDurationMs: number;
  /**
   * How long a fetched job may stay unacked before it is redelivered to another worker. A runner
   * keeps it with `delivery.working()` on each lease renewal; a vanished one's job comes back after
   * this. Twice the lease duration means the vanished holder's lease (renewed every third of it)
   * has surely expired by the time the job is redelivered, so the next worker can acquire it at once.
   * @defaultValue 2 × leaseDurationMs
   */
  ackWaitMs?: number;
  /** TTL of the `nodes` bucket: a node that has not heartbeated for this long is not listed. @defaultValue 3 × leaseDurationMs */
  nodeTtlMs?: number;
  /**
   * How often a maintenance round runs (on one node per round, elected by a lease): delete expired
   * results, then delete markers older than 15 min in the TTL-less buckets. 0 = never (call
   * `results.sweep()` yourself). @defaultValue 60_000
   */
  resultSweepIntervalMs?: number;
  /** Called for every corrupt record met while reading (listing returns them too). @defaultValue none */
  onCorrupt?: (error: CorruptRecordError) => void;
}

export type ResolvedStoreOptions = Required<Omit<OpenStoreOptions, 'onCorrupt'>> & Pick<OpenStoreOptions, 'onCorrupt'>;

/** What each backend provides; `assembleBackend` builds the rest on it. */
export interface StoreDriver {
  readonly kind: StoreKind;
  readonly clock: StoreClock;
  readonly buckets: Readonly<Record<BucketName, KvBucket>>;
  readonly dispatch: JobDispatch;
  readonly events: EventBus;
  readonly connectionState: ConnectionState;
  onConnectionChange(listener: (state: ConnectionState) => void): () => void;
  close(): Promise<void>;
}

/** Opens one node's handle on a store. */
export interface StoreFactory {
  readonly kind: StoreKind;
  open(opts: OpenStoreOptions): Promise<StoreBackend>;
}

/** The outcome of `completeJob`. */
export type CompleteJobOutcome =
  /** The result is stored; `released` is false if the lease moved between the write and the release. */
  | { status: 'written'; result: StoredResult; released: boolean }
  /** The lease was no longer ours: the result was NOT written (G1). */
  | { status: 'lease_lost'; lost: LeaseLost }
  /** A result for this job existed already (write-once); ours was not written. The lease was released. */
  | { status: 'duplicate' };

export interface StoreBackend {
  readonly kind: StoreKind;
  /** The raw buckets, for tooling (`jobchart status`) and tests; the runtime uses the repositories. */
  readonly buckets: Readonly<Record<BucketName, KvBucket>>;
  readonly leaseDurationMs: number;
  readonly ackWaitMs: number;
  readonly clock: StoreClock;
  readonly leases: LeaseStore;
  readonly schedules: ScheduleRepository;
  readonly jobs: JobRepository;
  readonly results: ResultRepository;
  readonly dispatch: JobDispatch;
  readonly events: EventBus;
  readonly nodes: NodeRegistry;
  readonly connectionState: ConnectionState;
  /** Calls `listener` on every change of `connectionState`; returns an unsubscribe function. */
  onConnectionChange(listener: (state: ConnectionState) => void): () => void;
  /** A renewer for this node's leases (one timer, every leaseDuration/3 by default). */
  createLeaseRenewer(opts?: LeaseRenewerOptions): LeaseRenewer;
  /**
   * Fenced completion: renews `lease` at its revision (proving it is still ours and restarting its
   * TTL, so it cannot expire during the next write), writes `result` write-once, then releases the
   * lease. If the lease sits in a `LeaseRenewer`, take it out first (`await renewer.forget(key)`),
   * or the two would move each other's revision.
   */
  completeJob(lease: Lease, result: JobResult, opts: { resultTtlMs: number | null }): Promise<CompleteJobOutcome>;
  /** Stops timers and renewers, closes the connection (NATS) or detaches from the shared memory store. */
  close(): Promise<void>;
}

const SWEEP_LEASE_KEY = 'maintenance.result-sweep';
/**
 * Delete markers younger than this are kept: a marker is what lets `update(key, v, markerRevision)`
 * and watchers see a delete, and nothing reads one after minutes.
 */
const TOMBSTONE_RETENTION_MS = 15 * 60_000;

/** Fills in defaults and rejects contradictory options with a message naming the value. */
export function resolveStoreOptions(opts: OpenStoreOptions): ResolvedStoreOptions {
  const { leaseDurationMs } = opts;
  if (!Number.isFinite(leaseDurationMs) || leaseDurationMs < 100) {
    throw new StoreConfigError(`leaseDurationMs must be a number >= 100, got ${leaseDurationMs} (the runtime default is 30000)`);
  }
  const resolved: ResolvedStoreOptions = {
    leaseDurationMs: Math.round(leaseDurationMs),
    ackWaitMs: Math.round(opts.ackWaitMs ?? 2 * leaseDurationMs),
    nodeTtlMs: Math.round(opts.nodeTtlMs ?? 3 * leaseDurationMs),
    resultSweepIntervalMs: opts.resultSweepIntervalMs ?? 60_000,
  };
  if (opts.onCorrupt) resolved.onCorrupt = opts.onCorrupt;
  if (!(resolved.ackWaitMs >= 100)) throw new StoreConfigError(`ackWaitMs must be >= 100, got ${opts.ackWaitMs}`);
  if (!(resolved.nodeTtlMs >= 100)) throw new StoreConfigError(`nodeTtlMs must be >= 100, got ${opts.nodeTtlMs}`);
  if (!(resolved.resultSweepIntervalMs >= 0)) {
    throw new StoreConfigError(`resultSweepIntervalMs must be >= 0 (0 = off), got ${opts.resultSweepIntervalMs}`);
  }
  return resolved;
}

/** Builds the domain layer on a backend's primitives. */
export function assembleBackend(driver: StoreDriver, opts: ResolvedStoreOptions): StoreBackend {
  const { clock, buckets } = driver;
  const onCorrupt = opts.onCorrupt ?? (() => undefined);
  const leases = new LeaseStore(buckets.leases, clock, opts.leaseDurationMs);
  const results = new ResultRepository(buckets.results, clock, onCorrupt);
  const renewers = new Set<LeaseRenewer>();
  // Whoever wins this lease sweeps this round; the others skip (no duplicate scans of the bucket).
  const sweeperId = `sweeper-${Math.random().toString(36).slice(2, 10)}`;
  let sweepTimer: TimerHandle | null = null;
  let closed = false;

  const jobs = new JobRepository(buckets.jobs, onCorrupt);
  /**
   * One maintenance round: expired results with their job records (a finished job's record is kept
   * as long as its result, so a redelivery or a re-fire of the same fire time finds it: G4), then
   * old delete markers of the TTL-less buckets.
   */
  const maintain = async (): Promise<void> => {
    await results.sweep((jobId) => jobs.delete(jobId).catch(() => false));
    for (const bucket of [buckets.results, buckets.jobs, buckets.schedules]) {
      await bucket.purgeTombstones(TOMBSTONE_RETENTION_MS);
    }
  };
  const scheduleSweep = (): void => {
    if (closed || opts.resultSweepIntervalMs <= 0) return;
    sweepTimer = clock.setTimeout(() => {
      leases
        .acquire(SWEEP_LEASE_KEY, sweeperId)
        .then((won) => (won ? maintain() : undefined))
        .catch(() => undefined) // store unreachable: next round
        .finally(scheduleSweep);
    }, opts.resultSweepIntervalMs);
  };
  scheduleSweep();

  return {
    kind: driver.kind,
    buckets,
    leaseDurationMs: opts.leaseDurationMs,
    ackWaitMs: opts.ackWaitMs,
    clock,
    leases,
    schedules: new ScheduleRepository(buckets.schedules, onCorrupt),
    jobs,
    results,
    dispatch: driver.dispatch,
    events: driver.events,
    nodes: new NodeRegistry(buckets.nodes, () => clock.now()),
    get connectionState() {
      return driver.connectionState;
    },
    onConnectionChange: (listener) => driver.onConnectionChange(listener),
    createLeaseRenewer(renewerOpts = {}) {
      const renewer = new LeaseRenewer(leases, clock, renewerOpts);
      renewers.add(renewer);
      return renewer;
    },
    async completeJob(lease, result, { resultTtlMs }) {
      const fenced = await leases.renew(lease);
      if (isLeaseLost(fenced)) return { status: 'lease_lost', lost: fenced };
      const stored = await results.create(result, { ttlMs: resultTtlMs });
      const released = await leases.release(fenced);
      if (!stored) return { status: 'duplicate' };
      return { status: 'written', result: stored, released: !isLeaseLost(released) };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (sweepTimer !== null) clock.clearTimeout(sweepTimer);
      for (const renewer of renewers) renewer.stop();
      await driver.close();
    },
  };
}
