/**
 * `KvBucket` on a JetStream KV bucket (@nats-io/kv 3.x), created idempotently with file storage,
 * history 1, the bucket TTL and the store's replica count.
 *
 * The hot operations (get, create, update, put, delete) go through `JetStreamRequests` — the same
 * subjects and headers as @nats-io/kv 3.4, without the client's per-request timer and Error — and
 * `entries`, `watch`, `purgeTombstones` through @nats-io/kv. Error 10071 ("wrong last sequence")
 * becomes `RevisionConflictError`.
 */
import { StorageType } from '@nats-io/jetstream';
import { Bucket, Kvm, KvWatchInclude, type KV, type KvEntry as NatsKvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { keyMatches, type KvBucket, type KvChange, type KvEntry, type KvWatchOptions } from '../kv-bucket.js';
import {
  StoreTimeoutError,
  ListingUnsettledError,
  InvalidStoreKeyError,
  RecordTooLargeError,
  RevisionConflictError,
  StoreClosedError,
  StoreConfigError,
} from '../store-errors.js';
import type { StoredMessage } from './jetstream-replies.js';
import { JetStreamRequests } from './jetstream-requests.js';
import { replicationRefusal } from './nats-errors.js';

/** @nats-io/kv's key rule: subject-safe characters, no empty token at either end. */
const validKey = /^[-/=.\w]+$/;
/** The delete marker @nats-io/kv writes (`KV-Operation: DEL`). */
const DELETE_MARKER = { 'KV-Operation': 'DEL' } as const;
const EMPTY = new Uint8Array(0);

/** How many rounds a listing reads before it gives up on writes that keep outrunning it (see entries()). */
const MAX_LISTING_ROUNDS = 32;

export class NatsBucket implements KvBucket {
  /** The stream behind the bucket, `KV_<name>`. */
  readonly #stream: string;
  /** Subject of `key` is `$KV.<name>.<key>` (reads and writes alike, as the JetStream API prefix is the default). */
  readonly #subjectPrefix: string;
  readonly #allowDirect: boolean;

  private constructor(
    private readonly kv: KV,
    private readonly nc: NatsConnection,
    private readonly requests: JetStreamRequests,
    readonly name: string,
    readonly ttlMs: number,
    stream: string,
    allowDirect: boolean,
  ) {
    this.#stream = stream;
    this.#subjectPrefix = `$KV.${name}.`;
    this.#allowDirect = allowDirect;
  }

  /**
   * Opens `name`, creating it if absent. An existing bucket with another TTL is refused: a lease
   * TTL that differs from what the nodes renew against would let leases lapse while still renewed.
   * `requests` carries the hot operations; default: the connection's shared `JetStreamRequests`
   * (5 s timeout). `replicas`: created with that many replicas, and an existing bucket with another
   * count is refused (@nats-io/kv's create would silently return it as it is); undefined creates
   * with 1 and takes an existing bucket as it is.
   */
  static async open(
    kvm: Kvm,
    nc: NatsConnection,
    name: string,
    ttlMs: number,
    requests: JetStreamRequests = JetStreamRequests.shared(nc),
    replicas?: number,
  ): Promise<NatsBucket> {
    if (requests.apiPrefix !== '$JS.API') {
      throw new StoreConfigError(`bucket "${name}": JetStream API prefix "${requests.apiPrefix}" is not supported, only the default $JS.API`);
    }
    const kv = await kvm
      .create(name, { history: 1, storage: StorageType.File, ttl: ttlMs, replicas: replicas ?? 1 })
      .catch((err: unknown) => {
        throw (replicas !== undefined && replicationRefusal(err, `bucket "${name}"`, replicas)) || err;
      });
    const status = await kv.status();
    if (status.ttl !== ttlMs) {
      throw new StoreConfigError(
        `bucket "${name}" exists with TTL ${status.ttl} ms but this node needs ${ttlMs} ms: ` +
          'open every node with the same leaseDurationMs/nodeTtlMs, or delete the bucket (nats kv del) to change it',
      );
    }
    const { config } = status.streamInfo;
    if (config.mirror) throw new StoreConfigError(`bucket "${name}" is a mirror (of "${config.mirror.name}"): jobchart writes to its buckets`);
    const existingReplicas = config.num_replicas || 1;
    if (replicas !== undefined && existingReplicas !== replicas) {
      throw new StoreConfigError(
        `bucket "${name}" exists with ${existingReplicas} replica(s) but this store asks for replicas ${replicas}: ` +
          `open every node with the same natsStore({ replicas }), or change the bucket's stream (nats stream edit ${config.name} --replicas ${replicas}), ` +
          `or delete the bucket (nats kv del ${name}) to have it created again`,
      );
    }
    // Direct get is answered by any replica and costs the leader nothing; KV buckets created on
    // nats-server >= 2.9 allow it. Without it a direct get goes unanswered, so read through the leader.
    // With replicas > 1 a replica may answer a moment behind the leader (as with @nats-io/kv's get):
    // every write stays fenced by its expected revision, so a stale read can only cost a conflict.
    return new NatsBucket(kv, nc, requests, name, ttlMs, config.name, config.allow_direct === true);
  }

  async get(key: string): Promise<KvEntry | null> {
    this.#checkOpen('get');
    const last = await this.#last(key);
    return last && last.operation === 'PUT' ? { key, value: last.data, revision: last.seq } : null;
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    this.#checkOpen('create');
    this.#checkSize(key, value);
    const subject = this.#subject(key);
    const conflict = { bucket: this.name, key, expectedRevision: 0 };
    try {
      return (await this.requests.publish(subject, value, { expectedLastSubjectSequence: 0, conflict })).seq;
    } catch (err) {
      if (!(err instanceof RevisionConflictError)) throw err;
      // As @nats-io/kv: the subject's last message may be a delete/purge marker, which leaves
      // the key absent: create over it, fenced on the marker's revision.
      const last = await this.#last(key);
      if (!last || last.operation === 'PUT') throw err;
      const ack = await this.requests.publish(subject, value, { expectedLastSubjectSequence: last.seq, conflict });
      return ack.seq;
    }
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    this.#checkOpen('update');
    this.#checkSize(key, value);
    if (!(revision > 0)) throw new RevisionConflictError(this.name, key, revision);
    const ack = await this.requests.publish(this.#subject(key), value, {
      expectedLastSubjectSequence: revision,
      conflict: { bucket: this.name, key, expectedRevision: revision },
    });
    return ack.seq;
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    this.#checkOpen('put');
    this.#checkSize(key, value);
    return (await this.requests.publish(this.#subject(key), value)).seq;
  }

  async delete(key: string, opts: { revision?: number } = {}): Promise<void> {
    this.#checkOpen('delete');
    const { revision } = opts;
    const subject = this.#subject(key);
    if (revision === undefined) {
      await this.requests.publish(subject, EMPTY, { headers: DELETE_MARKER });
      return;
    }
    // No write ever has revision 0 (the memory backend refuses it too; @nats-io/kv would drop the
    // condition and delete unconditionally).
    if (!(revision > 0)) throw new RevisionConflictError(this.name, key, revision);
    await this.requests.publish(subject, EMPTY, {
      headers: DELETE_MARKER,
      expectedLastSubjectSequence: revision,
      conflict: { bucket: this.name, key, expectedRevision: revision },
    });
  }

  async entries(filter = '>'): Promise<KvEntry[]> {
    this.#checkOpen('entries');
    let end = (await this.kv.status()).streamInfo.state.last_seq;
    if (end === 0) return [];
    // With history 1 the "history" of the bucket is its last value per key (plus delete markers),
    // read in revision order. The client's iterator would follow writes until a message arrives
    // with nothing pending after it, which a steady writer can put off for good; so the listing
    // reads in rounds, each up to the last revision seen when it began. A key rewritten ahead of
    // the reader loses its old message and gets a new one past that point, so while the bucket
    // moves on the listing reads on: round k covers the window (start, end] written during round
    // k - 1. Once a round (after the first) receives every revision of its window, no message was
    // removed ahead of the reader in it, so no key can be missing. (Under a filter, other keys'
    // revisions count as missing too: such a listing ends when the client's iterator finds nothing
    // matching pending — or, if the keys it lists keep being rewritten, unsettled.)
    const iter = await this.kv.history({ key: filter });
    const out = new Map<string, KvEntry>();
    let idle: NodeJS.Timeout | null = null;
    let timedOut = false;
    const arm = (): void => {
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => {
        timedOut = true;
        iter.stop();
      }, 2 * this.requests.timeoutMs);
    };
    arm();
    let start = 0;
    let received = 0;
    let rounds = 1;
    try {
      for await (const entry of iter) {
        arm();
        if (entry.operation === 'PUT' && keyMatches(filter, entry.key)) out.set(entry.key, toEntry(entry));
        else out.delete(entry.key);
        if (entry.revision <= end && entry.revision > start) received++;
        if (entry.revision < end) continue;
        // A whole window read (a filter's other keys count as gaps: at worst another round).
        if (rounds > 1 && entry.revision === end && received === end - start) break;
        const last = (await this.kv.status()).streamInfo.state.last_seq;
        if (last <= entry.revision) break;
        if (++rounds > MAX_LISTING_ROUNDS) throw new ListingUnsettledError(this.name, MAX_LISTING_ROUNDS);
        start = end;
        end = last;
        received = entry.revision > start ? 1 : 0;
      }
    } finally {
      if (idle) clearTimeout(idle);
      iter.stop();
    }
    if (timedOut) throw new StoreTimeoutError(`listing ${this.name}`, 2 * this.requests.timeoutMs);
    return [...out.values()].sort((a, b) => a.revision - b.revision);
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

  /** The key's last message (value or marker), or null when it has none. */
  #last(key: string): Promise<StoredMessage | null> {
    const subject = this.#subject(key);
    return this.#allowDirect ? this.requests.directGet(this.#stream, subject) : this.requests.lastMessage(this.#stream, subject);
  }

  #subject(key: string): string {
    if (!validKey.test(key) || key.startsWith('.') || key.endsWith('.')) {
      throw new InvalidStoreKeyError(
        `"${key}" is not a valid key in bucket "${this.name}": use letters, digits and -/_=, with dots between non-empty tokens`,
      );
    }
    return this.#subjectPrefix + key;
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
