/**
 * The embedded store: one process, no server. `memoryStore()` makes one shared in-memory "server";
 * each `open()` is one node's handle on it, so several runtimes in a test share buckets, queue and
 * events exactly as nodes share a nats-server. Closing a handle is what a crash looks like to the
 * others: its deliveries stay unacked until their ack wait runs out, its leases until their TTL.
 */
import { setMaxListeners } from 'node:events';
import { systemClock, type StoreClock } from '../clock.js';
import { LocalEventListeners, encodeEvent, type EventBus } from '../event-bus.js';
import type { FetchOptions, JobDelivery, JobDispatch } from '../job-dispatch.js';
import type { KvBucket } from '../kv-bucket.js';
import {
  assembleBackend,
  BucketName,
  resolveStoreOptions,
  type ConnectionState,
  type OpenStoreOptions,
  type ResolvedStoreOptions,
  type StoreBackend,
  type StoreDriver,
  type StoreFactory,
} from '../store-backend.js';
import { StoreClosedError, StoreConfigError } from '../store-errors.js';
import { MemoryBucket } from './memory-bucket.js';
import { MemoryWorkQueue } from './memory-work-queue.js';

export interface MemoryStoreOptions {
  /** Time source for TTLs, redelivery and housekeeping timers; inject a simulated clock in tests. @defaultValue systemClock */
  clock?: StoreClock;
  /** Largest value accepted, like nats-server's max_payload. @defaultValue 1_048_576 (nats.conf's 1MB) */
  maxPayloadBytes?: number;
}

/** The state all handles of one memory store share. */
class MemoryCluster {
  readonly buckets = new Map<string, MemoryBucket>();
  queue: MemoryWorkQueue | null = null;
  readonly eventHubs = new Set<LocalEventListeners>();

  constructor(
    readonly clock: StoreClock,
    readonly maxPayloadBytes: number,
  ) {}

  /** Creates the bucket on first use; later opens must agree on its TTL, like the NATS backend. */
  bucket(name: BucketName, ttlMs: number): MemoryBucket {
    const existing = this.buckets.get(name);
    if (existing) {
      if (existing.ttlMs !== ttlMs) throw ttlMismatch(name, existing.ttlMs, ttlMs);
      return existing;
    }
    const created = new MemoryBucket(name, ttlMs, this.clock, this.maxPayloadBytes);
    this.buckets.set(name, created);
    return created;
  }

  workQueue(ackWaitMs: number): MemoryWorkQueue {
    if (!this.queue) this.queue = new MemoryWorkQueue(this.clock, ackWaitMs);
    if (this.queue.ackWaitMs !== ackWaitMs) {
      throw new StoreConfigError(
        `the dispatch queue already has an ack wait of ${this.queue.ackWaitMs} ms but this node asks for ${ackWaitMs} ms: ` +
          'open every node with the same leaseDurationMs/ackWaitMs',
      );
    }
    return this.queue;
  }
}

function ttlMismatch(name: string, existing: number, wanted: number): StoreConfigError {
  return new StoreConfigError(
    `bucket "${name}" exists with TTL ${existing} ms but this node needs ${wanted} ms: ` +
      'open every node with the same leaseDurationMs/nodeTtlMs (or delete the bucket to change it)',
  );
}

/** One node's handle: refuses calls after close and detaches its watchers and listeners. */
class MemoryDriver implements StoreDriver {
  readonly kind = 'memory';
  readonly buckets: Record<BucketName, KvBucket>;
  readonly dispatch: JobDispatch;
  readonly events: EventBus;
  #state: ConnectionState = 'up';
  readonly #stateListeners = new Set<(state: ConnectionState) => void>();
  readonly #cleanups = new Set<() => void>();
  readonly #closing = new AbortController();
  readonly #listeners = new LocalEventListeners();

  constructor(
    private readonly cluster: MemoryCluster,
    opts: ResolvedStoreOptions,
  ) {
    const ttl: Record<BucketName, number> = {
      schedules: 0,
      jobs: 0,
      results: 0,
      leases: opts.leaseDurationMs,
      nodes: opts.nodeTtlMs,
    };
    // Every waiting fetch listens on the closing signal; hundreds of waiting workers are normal.
    setMaxListeners(0, this.#closing.signal);
    const buckets = {} as Record<BucketName, KvBucket>;
    for (const name of Object.values(BucketName)) buckets[name] = this.#guardBucket(cluster.bucket(name, ttl[name]));
    this.buckets = buckets;
    this.dispatch = this.#guardDispatch(cluster.workQueue(opts.ackWaitMs));
    cluster.eventHubs.add(this.#listeners);
    this.#cleanups.add(() => cluster.eventHubs.delete(this.#listeners));
    this.events = {
      publish: async (event) => {
        this.#assertOpen('publish');
        const bytes = encodeEvent(event);
        for (const hub of cluster.eventHubs) queueMicrotask(() => hub.deliver(bytes));
      },
      subscribe: (listener) => this.#listeners.add(listener),
      on: (type, listener) => this.#listeners.addTyped(type, listener),
    };
  }

  get clock(): StoreClock {
    return this.cluster.clock;
  }

  get connectionState(): ConnectionState {
    return this.#state;
  }

  onConnectionChange(listener: (state: ConnectionState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#closing.abort();
    for (const cleanup of this.#cleanups) cleanup();
    this.#listeners.clear();
    for (const listener of this.#stateListeners) listener('closed');
    this.#stateListeners.clear();
  }

  #assertOpen(what: string): void {
    if (this.#state === 'closed') throw new StoreClosedError(what);
  }

  #guardBucket(bucket: MemoryBucket): KvBucket {
    const guard = <A extends unknown[], R>(what: string, fn: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        this.#assertOpen(`${what} on ${bucket.name}`);
        return fn(...args);
      };
    return {
      name: bucket.name,
      ttlMs: bucket.ttlMs,
      get: guard('get', (key) => bucket.get(key)),
      create: guard('create', (key, value) => bucket.create(key, value)),
      update: guard('update', (key, value, revision) => bucket.update(key, value, revision)),
      put: guard('put', (key, value) => bucket.put(key, value)),
      delete: guard('delete', (key, opts) => bucket.delete(key, opts)),
      entries: guard('entries', (filter) => bucket.entries(filter)),
      purgeTombstones: guard('purgeTombstones', (olderThanMs) => bucket.purgeTombstones(olderThanMs)),
      watch: guard('watch', async (filter, onChange, opts) => {
        const stop = await bucket.watch(filter, onChange, opts);
        this.#cleanups.add(stop);
        return () => {
          stop();
          this.#cleanups.delete(stop);
        };
      }),
    };
  }

  #guardDispatch(queue: MemoryWorkQueue): JobDispatch {
    const closing = this.#closing.signal;
    const detach = (delivery: JobDelivery): JobDelivery => ({
      jobId: delivery.jobId,
      deliveryCount: delivery.deliveryCount,
      // After close this node is gone: like a closed NATS connection, it can no longer settle.
      ack: async () => {
        this.#assertOpen('ack');
        await delivery.ack();
      },
      nak: (delayMs) => !closing.aborted && delivery.nak(delayMs),
      working: () => !closing.aborted && delivery.working(),
      term: () => !closing.aborted && delivery.term(),
    });
    return {
      enqueue: async (jobId) => {
        this.#assertOpen('enqueue');
        queue.enqueue(jobId);
      },
      fetch: async (max: number, opts: FetchOptions = {}) => {
        this.#assertOpen('fetch');
        const signal = opts.signal ? AbortSignal.any([opts.signal, closing]) : closing;
        const deliveries = await queue.fetch(max, { ...opts, signal });
        return deliveries.map(detach);
      },
      onJobAvailable: (listener) => {
        const stop = queue.onJobAvailable(listener);
        this.#cleanups.add(stop);
        return () => {
          stop();
          this.#cleanups.delete(stop);
        };
      },
    };
  }
}

/** The embedded store (default): one process, no server, NATS KV semantics emulated. */
export function memoryStore(opts: MemoryStoreOptions = {}): StoreFactory {
  const cluster = new MemoryCluster(opts.clock ?? systemClock, opts.maxPayloadBytes ?? 1024 * 1024);
  return {
    kind: 'memory',
    async open(openOpts: OpenStoreOptions): Promise<StoreBackend> {
      const resolved = resolveStoreOptions(openOpts);
      return assembleBackend(new MemoryDriver(cluster, resolved), resolved);
    },
  };
}
