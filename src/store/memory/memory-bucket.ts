/**
 * One KV bucket held in process memory, emulating JetStream KV on nats-server 2.9 (see
 * `kv-bucket.ts`). Expiry is evaluated lazily against the clock whenever a key is touched: since
 * NATS emits no watch event on expiry, nothing could observe an eager timer, and lazy expiry keeps
 * simulated clocks exact without timers.
 */
import type { StoreClock } from '../clock.js';
import { keyMatches, type KvBucket, type KvChange, type KvEntry, type KvWatchOptions } from '../kv-bucket.js';
import { RecordTooLargeError, RevisionConflictError } from '../store-errors.js';

interface StoredValue {
  operation: 'put' | 'delete';
  value: Uint8Array;
  revision: number;
  writtenAt: number;
}

interface Watcher {
  filter: string;
  onChange: (change: KvChange) => void;
}

const EMPTY = new Uint8Array(0);

export class MemoryBucket implements KvBucket {
  /** Like a stream's last sequence: shared by all keys, never reused, not moved by expiry. */
  #lastRevision = 0;
  readonly #values = new Map<string, StoredValue>();
  readonly #watchers = new Set<Watcher>();

  constructor(
    readonly name: string,
    readonly ttlMs: number,
    private readonly clock: StoreClock,
    private readonly maxPayloadBytes: number,
  ) {}

  async get(key: string): Promise<KvEntry | null> {
    const stored = this.#current(key);
    if (!stored || stored.operation === 'delete') return null;
    return { key, value: stored.value.slice(), revision: stored.revision };
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    const stored = this.#current(key);
    if (stored && stored.operation === 'put') throw new RevisionConflictError(this.name, key, 0);
    return this.#write(key, 'put', value);
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    const stored = this.#current(key);
    // Like ExpectedLastSubjectSequence: a tombstone's revision is a valid expectation too.
    if (!stored || stored.revision !== revision) throw new RevisionConflictError(this.name, key, revision);
    return this.#write(key, 'put', value);
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    this.#current(key);
    return this.#write(key, 'put', value);
  }

  async delete(key: string, opts: { revision?: number } = {}): Promise<void> {
    const stored = this.#current(key);
    if (opts.revision !== undefined && (!stored || stored.revision !== opts.revision)) {
      throw new RevisionConflictError(this.name, key, opts.revision);
    }
    this.#write(key, 'delete', EMPTY);
  }

  async entries(filter = '>'): Promise<KvEntry[]> {
    return this.#liveEntries(filter);
  }

  async purgeTombstones(olderThanMs: number): Promise<number> {
    const cutoff = this.clock.now() - olderThanMs;
    let purged = 0;
    for (const [key, stored] of [...this.#values]) {
      if (stored.operation === 'delete' && stored.writtenAt <= cutoff) {
        this.#values.delete(key);
        purged++;
      }
    }
    return purged;
  }

  async watch(filter: string, onChange: (change: KvChange) => void, opts: KvWatchOptions = {}): Promise<() => void> {
    const watcher: Watcher = { filter, onChange };
    // Snapshot and registration happen in one synchronous step, so no write falls between them.
    const current = opts.includeCurrent ? this.#latestChanges(filter) : [];
    this.#watchers.add(watcher);
    for (const change of current) queueMicrotask(() => this.#watchers.has(watcher) && onChange(change));
    return () => {
      this.#watchers.delete(watcher);
    };
  }

  /** The latest write of each matching key, delete markers included (as NATS's "last value" replay). */
  #latestChanges(filter: string): KvChange[] {
    const out: KvChange[] = [];
    for (const key of [...this.#values.keys()]) {
      const stored = keyMatches(filter, key) ? this.#current(key) : undefined;
      if (stored) out.push({ key, operation: stored.operation, value: stored.value.slice(), revision: stored.revision });
    }
    return out.sort((a, b) => a.revision - b.revision);
  }

  #liveEntries(filter: string): KvEntry[] {
    const out: KvEntry[] = [];
    for (const key of [...this.#values.keys()]) {
      if (!keyMatches(filter, key)) continue;
      const stored = this.#current(key);
      if (stored && stored.operation === 'put') out.push({ key, value: stored.value.slice(), revision: stored.revision });
    }
    return out.sort((a, b) => a.revision - b.revision);
  }

  /** The key's latest write, dropping it first if the bucket TTL has passed since it was made. */
  #current(key: string): StoredValue | undefined {
    const stored = this.#values.get(key);
    if (stored && this.ttlMs > 0 && this.clock.now() - stored.writtenAt >= this.ttlMs) {
      this.#values.delete(key);
      return undefined;
    }
    return stored;
  }

  #write(key: string, operation: 'put' | 'delete', value: Uint8Array): number {
    if (value.length > this.maxPayloadBytes) throw new RecordTooLargeError(key, value.length, this.maxPayloadBytes);
    const revision = ++this.#lastRevision;
    const copy = value.slice();
    this.#values.set(key, { operation, value: copy, revision, writtenAt: this.clock.now() });
    for (const watcher of this.#watchers) {
      if (!keyMatches(watcher.filter, key)) continue;
      const change: KvChange = { key, operation, value: copy.slice(), revision };
      // Asynchronous like a NATS push consumer: never inside the writer's call stack.
      queueMicrotask(() => this.#watchers.has(watcher) && watcher.onChange(change));
    }
    return revision;
  }
}
