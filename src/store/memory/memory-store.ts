/**
 * The embedded store: one process, no server. `memoryStore()` makes one shared in-memory "server";
 * each `open()` is one node's handle on it, so several runtimes in a test share buckets, queue and
 * events exactly as nodes share a nats-server. Closing a handle is what a crash looks like to the
 * others: its deliveries stay unacked until their ack wait runs out, its leases until their TTL.
 */
import { setMaxListeners } from 'node:events';
import { systemClock, type StoreClock } from '../clock.js';
import type { JobQueue, QueueDelivery, QueueFetchOptions } from '../job-queue.js';
import type { KvBucket } from '../kv-bucket.js';
import type { SignalChannel, SignalTransport } from '../signals.js';
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
import { RecordTooLargeError, StoreClosedError, StoreConfigError } from '../store-errors.js';
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
  /** Signal listeners of every open handle, by channel. */
  readonly signalListeners = new Map<SignalChannel, Set<(key: string, data: Uint8Array) => void>>();

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

  workQueue(ackWaitMs: number, duplicateWindowMs: number): MemoryWorkQueue {
    if (!this.queue) this.queue = new MemoryWorkQueue(this.clock, ackWaitMs, duplicateWindowMs);
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
  readonly queue: JobQueue;
  readonly signals: SignalTransport;
  #state: ConnectionState = 'up';
  readonly #stateListeners = new Set<(state: ConnectionState) => void>();
  readonly #cleanups = new Set<() => void>();
  readonly #closing = new AbortController();

  constructor(
    private readonly cluster: MemoryCluster,
    opts: ResolvedStoreOptions,
  ) {
    const ttl: Record<BucketName, number> = {
      schedules: 0,
      jobs: 0,
      leases: opts.leaseDurationMs,
      nodes: opts.nodeTtlMs,
    };
    // Every waiting fetch listens on the closing signal; hundreds of waiting workers are normal.
    setMaxListeners(0, this.#closing.signal);
    const buckets = {} as Record<BucketName, KvBucket>;
    for (const name of Object.values(BucketName)) buckets[name] = this.#guardBucket(cluster.bucket(name, ttl[name]));
    this.buckets = buckets;
    this.queue = this.#guardQueue(cluster.workQueue(opts.ackWaitMs, opts.duplicateWindowMs));
    this.signals = {
      send: (channel, key, data) => {
        if (this.#state === 'closed') return;
        const listeners = cluster.signalListeners.get(channel);
        if (!listeners || listeners.size === 0) return;
        // Asynchronous like a NATS subscription: never inside the sender's call stack.
        queueMicrotask(() => {
          for (const listener of [...listeners]) listener(key, data);
        });
      },
      listen: (channel, listener) => {
        let set = cluster.signalListeners.get(channel);
        if (!set) cluster.signalListeners.set(channel, (set = new Set()));
        const entry = (key: string, data: Uint8Array): void => listener(key, data);
        set.add(entry);
        const stop = (): void => {
          set.delete(entry);
          this.#cleanups.delete(stop);
        };
        this.#cleanups.add(stop);
        return stop;
      },
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
    for (const cleanup of [...this.#cleanups]) cleanup();
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

  #guardQueue(queue: MemoryWorkQueue): JobQueue {
    const closing = this.#closing.signal;
    const detach = (delivery: QueueDelivery): QueueDelivery => ({
      jobId: delivery.jobId,
      data: delivery.data,
      seq: delivery.seq,
      deliveryCount: delivery.deliveryCount,
      // After close this node is gone: like a closed NATS connection, it can no longer settle.
      ack: () => !closing.aborted && delivery.ack(),
      nak: (delayMs) => !closing.aborted && delivery.nak(delayMs),
      working: () => !closing.aborted && delivery.working(),
      term: () => !closing.aborted && delivery.term(),
    });
    return {
      publish: async (messages) => {
        this.#assertOpen('publish');
        for (const { jobId, data } of messages) {
          if (data.length > this.cluster.maxPayloadBytes) throw new RecordTooLargeError(`job ${jobId}`, data.length, this.cluster.maxPayloadBytes);
        }
        return queue.publish(messages);
      },
      fetch: async (max: number, opts: QueueFetchOptions = {}) => {
        this.#assertOpen('fetch');
        // Every store call here answers in a microtask: without this turn of the event loop a
        // worker draining a full queue would run batch after batch without ever letting timers
        // (lease renewals, task timeouts) or I/O in.
        await new Promise((resolve) => setImmediate(resolve));
        const signal = opts.signal ? AbortSignal.any([opts.signal, closing]) : closing;
        const deliveries = await queue.fetch(max, { ...opts, signal });
        return deliveries.map(detach);
      },
      peek: async (jobId) => {
        this.#assertOpen('peek');
        return queue.peek(jobId);
      },
      depth: async () => {
        this.#assertOpen('depth');
        return queue.size;
      },
      messages: async (limit) => {
        this.#assertOpen('messages');
        return queue.messages(limit);
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
      return assembleBackend(new MemoryDriver(cluster, resolved), resolved, openOpts.reportError);
    },
  };
}
