/**
 * What the runtime works with: a `StoreFactory` (from `memoryStore()` or `natsStore(...)`) is
 * opened once per node with the node's lease duration, giving a `StoreBackend` with the domain's
 * operations. Both backends provide the same primitives (`StoreDriver`: KV buckets, the dispatch
 * queue, signal channels); everything above them — jobs and their fenced state, leases, schedules,
 * events, result retention — is this one shared code, which is why one conformance suite covers both.
 */
import type { StoreClock, TimerHandle } from './clock.js';
import { EVENTS_TOPIC, SignalEventBus, type EventBus } from './event-bus.js';
import { InterestTracker } from './interest.js';
import type { JobQueue } from './job-queue.js';
import { DONE_TOPIC } from './job-signals.js';
import { JobStore } from './job-store.js';
import type { KvBucket } from './kv-bucket.js';
import { LeaseRenewer, type LeaseRenewerOptions } from './lease-renewer.js';
import { LeaseStore } from './lease-store.js';
import { NodeRegistry } from './node-registry.js';
import { ScheduleRepository } from './schedule-repository.js';
import type { SignalTransport } from './signals.js';
import { StoreConfigError, type CorruptRecordError } from './store-errors.js';

export type StoreKind = 'memory' | 'nats';

/** `up`: store reachable; `down`: connection lost, reconnecting; `closed`: for good. */
export type ConnectionState = 'up' | 'down' | 'closed';

/** The buckets of a store, by short name (`<prefix>_<name>` on NATS). `jobs` holds each job's state and result. */
export const BucketName = {
  schedules: 'schedules',
  jobs: 'jobs',
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
   * How often a maintenance round runs (on one node per round, elected by a lease): delete finished
   * jobs whose result expired, then delete markers older than 15 min in the TTL-less buckets.
   * 0 = never (call `jobs.sweep()` yourself). @defaultValue 60_000
   */
  resultSweepIntervalMs?: number;
  /** Called for every corrupt record met while reading (listing returns them too). @defaultValue none */
  onCorrupt?: (error: CorruptRecordError) => void;
  /**
   * How long the queue remembers a job id to drop a second message for it (NATS: the stream's
   * duplicate window). @defaultValue max(2 min, 4 × leaseDurationMs)
   */
  duplicateWindowMs?: number;
  /** Where errors without a caller go (a listener that threw, a failed background send). @defaultValue ignored */
  reportError?: (error: unknown, where: string) => void;
}

export type ResolvedStoreOptions = Required<Omit<OpenStoreOptions, 'onCorrupt' | 'reportError'>> & Pick<OpenStoreOptions, 'onCorrupt'>;

/** What each backend provides; `assembleBackend` builds the rest on it. */
export interface StoreDriver {
  readonly kind: StoreKind;
  readonly clock: StoreClock;
  readonly buckets: Readonly<Record<BucketName, KvBucket>>;
  readonly queue: JobQueue;
  readonly signals: SignalTransport;
  readonly connectionState: ConnectionState;
  onConnectionChange(listener: (state: ConnectionState) => void): () => void;
  close(): Promise<void>;
}

/** Opens one node's handle on a store. */
export interface StoreFactory {
  readonly kind: StoreKind;
  open(opts: OpenStoreOptions): Promise<StoreBackend>;
}

export interface StoreBackend {
  readonly kind: StoreKind;
  /** The raw buckets, for tooling (`jobchart status`) and tests; the runtime uses the repositories. */
  readonly buckets: Readonly<Record<BucketName, KvBucket>>;
  readonly leaseDurationMs: number;
  readonly ackWaitMs: number;
  readonly clock: StoreClock;
  /** Generic leases (schedules, task slots, the maintenance round). */
  readonly leases: LeaseStore;
  readonly schedules: ScheduleRepository;
  /** Jobs: the dispatch queue and each job's fenced state (lease, result). */
  readonly jobs: JobStore;
  /** The raw dispatch queue, for tooling and tests; the runtime uses `jobs`. */
  readonly queue: JobQueue;
  readonly events: EventBus;
  readonly nodes: NodeRegistry;
  readonly connectionState: ConnectionState;
  /** Calls `listener` on every change of `connectionState`; returns an unsubscribe function. */
  onConnectionChange(listener: (state: ConnectionState) => void): () => void;
  /** A renewer for this node's generic leases (one timer, every leaseDuration/3 by default). */
  createLeaseRenewer(opts?: LeaseRenewerOptions): LeaseRenewer;
  /** Stops timers and renewers, sends batched events, closes the connection (NATS) or detaches from the memory store. */
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
    duplicateWindowMs: Math.round(opts.duplicateWindowMs ?? Math.max(120_000, 4 * leaseDurationMs)),
  };
  if (opts.onCorrupt) resolved.onCorrupt = opts.onCorrupt;
  if (!(resolved.ackWaitMs >= 100)) throw new StoreConfigError(`ackWaitMs must be >= 100, got ${opts.ackWaitMs}`);
  if (!(resolved.duplicateWindowMs >= 1000)) throw new StoreConfigError(`duplicateWindowMs must be >= 1000, got ${opts.duplicateWindowMs}`);
  if (!(resolved.nodeTtlMs >= 100)) throw new StoreConfigError(`nodeTtlMs must be >= 100, got ${opts.nodeTtlMs}`);
  if (!(resolved.resultSweepIntervalMs >= 0)) {
    throw new StoreConfigError(`resultSweepIntervalMs must be >= 0 (0 = off), got ${opts.resultSweepIntervalMs}`);
  }
  return resolved;
}

/** Builds the domain layer on a backend's primitives. */
export function assembleBackend(driver: StoreDriver, opts: ResolvedStoreOptions, reportError: (error: unknown, where: string) => void = () => undefined): StoreBackend {
  const { clock, buckets } = driver;
  const onCorrupt = opts.onCorrupt ?? (() => undefined);
  const leases = new LeaseStore(buckets.leases, clock, opts.leaseDurationMs);
  const interest = new InterestTracker(driver.signals, () => clock.now(), [EVENTS_TOPIC, DONE_TOPIC]);
  const jobs = new JobStore(buckets.jobs, driver.queue, driver.signals, clock, opts.leaseDurationMs, onCorrupt, interest);
  const events = new SignalEventBus(
    driver.signals,
    () => clock.now(),
    (error, event) => reportError(error, `a ${event.type} event listener threw`),
    interest,
  );
  const renewers = new Set<LeaseRenewer>();
  // Whoever wins this lease sweeps this round; the others skip (no duplicate scans of the bucket).
  const sweeperId = `sweeper-${Math.random().toString(36).slice(2, 10)}`;
  let sweepTimer: TimerHandle | null = null;
  let closed = false;

  /** One maintenance round: finished jobs whose result expired, then old delete markers of the TTL-less buckets. */
  const maintain = async (): Promise<void> => {
    await jobs.sweep();
    for (const bucket of [buckets.jobs, buckets.schedules]) {
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
    schedules: new ScheduleRepository(buckets.schedules, onCorrupt, reportError),
    jobs,
    queue: driver.queue,
    events,
    nodes: new NodeRegistry(buckets.nodes, () => clock.now()),
    get connectionState() {
      return driver.connectionState;
    },
    onConnectionChange: (listener) => driver.onConnectionChange(listener),
    createLeaseRenewer(renewerOpts = {}) {
      const renewer = new LeaseRenewer(leases, clock, { reportError, ...renewerOpts });
      renewers.add(renewer);
      return renewer;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (sweepTimer !== null) clock.clearTimeout(sweepTimer);
      for (const renewer of renewers) renewer.stop();
      events.flush();
      events.close();
      interest.close();
      await driver.close();
    },
  };
}

/** Internal lease keys (the maintenance round) are not users' leases: tools list them apart. */
export const INTERNAL_LEASE_KEYS: readonly string[] = [SWEEP_LEASE_KEY];
