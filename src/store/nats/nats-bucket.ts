/**
 * `KvBucket` on a JetStream KV bucket (@nats-io/kv 3.x), created idempotently with file storage,
 * history 1 and the bucket TTL. Error 10071 ("wrong last sequence") becomes `RevisionConflictError`.
 */
import { StorageType } from '@nats-io/jetstream';
import { Bucket, Kvm, KvWatchInclude, type KV, type KvEntry as NatsKvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { keyMatches, type KvBucket, type KvChange, type KvEntry, type KvWatchOptions } from '../kv-bucket.js';
import { RecordTooLargeError, RevisionConflictError, StoreClosedError, StoreConfigError } from '../store-errors.js';
import { isWrongLastSequence } from './nats-errors.js';

export class NatsBucket implements KvBucket {
  private constructor(
    private readonly kv: KV,
    private readonly nc: NatsConnection,
    readonly name: string,
    readonly ttlMs: number,
  ) {}

  /**
   * Opens `name`, creating it if absent. An existing bucket with another TTL is refused: a lease
   * TTL that differs from what the nodes renew against would let leases lapse while still renewed.
   */
  static async open(kvm: Kvm, nc: NatsConnection, name: string, ttlMs: number): Promise<NatsBucket> {
    const kv = await kvm.create(name, { history: 1, storage: StorageType.File, ttl: ttlMs });
    const status = await kv.status();
    if (status.ttl !== ttlMs) {
      throw new StoreConfigError(
        `bucket "${name}" exists with TTL ${status.ttl} ms but this node needs ${ttlMs} ms: ` +
          'open every node with the same leaseDurationMs/nodeTtlMs, or delete the bucket (nats kv del) to change it',
      );
    }
    return new NatsBucket(kv, nc, name, ttlMs);
  }

  async get(key: string): Promise<KvEntry | null> {
    this.#checkOpen('get');
    const entry = await this.kv.get(key);
    return entry && entry.operation === 'PUT' ? toEntry(entry) : null;
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    this.#checkOpen('create');
    this.#checkSize(key, value);
    return this.#conditional(key, 0, () => this.kv.create(key, value));
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    this.#checkOpen('update');
    this.#checkSize(key, value);
    if (!(revision > 0)) throw new RevisionConflictError(this.name, key, revision);
    return this.#conditional(key, revision, () => this.kv.update(key, value, revision));
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    this.#checkOpen('put');
    this.#checkSize(key, value);
    return this.kv.put(key, value);
  }

  async delete(key: string, opts: { revision?: number } = {}): Promise<void> {
    this.#checkOpen('delete');
    const { revision } = opts;
    if (revision === undefined) return this.kv.delete(key);
    await this.#conditional(key, revision, () => this.kv.delete(key, { previousSeq: revision }).then(() => 0));
  }

  async entries(filter = '>'): Promise<KvEntry[]> {
    this.#checkOpen('entries');
    // With history 1 the "history" of the bucket is its last value per key (plus delete markers).
    const iter = await this.kv.history({ key: filter });
    const out: KvEntry[] = [];
    for await (const entry of iter) {
      if (entry.operation === 'PUT' && keyMatches(filter, entry.key)) out.push(toEntry(entry));
    }
    return out.sort((a, b) => a.revision - b.revision);
  }

  async purgeTombstones(olderThanMs: number): Promise<number> {
    this.#checkOpen('purgeTombstones');
    if (!(this.kv instanceof Bucket)) return 0;
    const { purged } = await this.kv.purgeDeletes(olderThanMs);
    return purged;
  }

  async watch(filter: string, onChange: (change: KvChange) => void, opts: KvWatchOptions = {}): Promise<() => void> {
    this.#checkOpen('watch');
    const iter = await this.kv.watch({
      key: filter,
      include: opts.includeCurrent ? KvWatchInclude.LastValue : KvWatchInclude.UpdatesOnly,
    });
    void (async () => {
      try {
        for await (const entry of iter) {
          onChange({
            key: entry.key,
            operation: entry.operation === 'PUT' ? 'put' : 'delete',
            value: entry.value,
            revision: entry.revision,
          });
        }
      } catch {
        // The watch ends with the connection; callers that must not miss a value also poll.
      }
    })();
    return () => iter.stop();
  }

  async #conditional(key: string, expected: number, write: () => Promise<number>): Promise<number> {
    try {
      return await write();
    } catch (err) {
      if (isWrongLastSequence(err)) throw new RevisionConflictError(this.name, key, expected, { cause: err });
      throw err;
    }
  }

  /** Same typed error as the memory backend, instead of the client's ClosedConnectionError. */
  #checkOpen(what: string): void {
    if (this.nc.isClosed()) throw new StoreClosedError(`${what} on ${this.name}`);
  }

  #checkSize(key: string, value: Uint8Array): void {
    const max = this.nc.info?.max_payload;
    if (max !== undefined && value.length > max) throw new RecordTooLargeError(key, value.length, max);
  }
}

function toEntry(entry: NatsKvEntry): KvEntry {
  return { key: entry.key, value: entry.value, revision: entry.revision };
}
