/**
 * The key-value primitive both backends provide: JetStream KV semantics as of nats-server 2.9,
 * which the memory backend emulates exactly.
 *
 * - Every write (put, create, update, delete) takes the next revision of the bucket: revisions are
 *   per bucket and strictly increasing, like the sequence of the stream behind it.
 * - `create` fails on a live key (a deleted or expired key may be created again); `update` and a
 *   revision-checked `delete` fail unless the key's latest write has exactly that revision. Both
 *   failures are `RevisionConflictError`.
 * - With a bucket TTL, a key vanishes TTL after its last write (each write restarts it, so an update
 *   is a renewal). Expiry produces no watch event and takes no revision. Per-key TTL does not exist.
 * - A watch sees puts and deletes in revision order.
 */

/** A live value in a bucket. */
export interface KvEntry {
  key: string;
  value: Uint8Array;
  revision: number;
}

/** What a watcher sees. Deletes carry an empty value. */
export interface KvChange {
  key: string;
  operation: 'put' | 'delete';
  value: Uint8Array;
  revision: number;
}

export interface KvWatchOptions {
  /** Also deliver the current value of each matching live key first. @defaultValue false */
  includeCurrent?: boolean;
}

/** How a bucket is created (idempotently) when a store opens. */
export interface BucketSpec {
  /** Short name inside the store's prefix: 'schedules', 'jobs', 'results', 'leases', 'nodes'. */
  name: string;
  /** Bucket TTL in ms counted from each key's last write; 0 = keys never expire. */
  ttlMs: number;
}

export interface KvBucket {
  /** Full bucket name on the server, e.g. `jobchart_leases`. */
  readonly name: string;
  readonly ttlMs: number;
  /** The live value of `key`, or null when absent, deleted or expired. */
  get(key: string): Promise<KvEntry | null>;
  /** Writes `key` only if it has no live value; resolves to the new revision. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Writes `key` only if its latest revision is `revision`; resolves to the new revision. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  /** Writes `key` unconditionally; resolves to the new revision. */
  put(key: string, value: Uint8Array): Promise<number>;
  /** Deletes `key` (a tombstone write); with `revision`, only if that is still its latest revision. */
  delete(key: string, opts?: { revision?: number }): Promise<void>;
  /** All live entries whose key matches `filter` (NATS subject syntax, default `>`). */
  entries(filter?: string): Promise<KvEntry[]>;
  /**
   * Removes delete markers older than `olderThanMs`; resolves to how many. A delete is a write, so
   * without a bucket TTL its marker stays forever (nats-server 2.9 has no marker TTL).
   */
  purgeTombstones(olderThanMs: number): Promise<number>;
  /** Calls `onChange` for each put/delete of a key matching `filter`; resolves to a stop function. */
  watch(filter: string, onChange: (change: KvChange) => void, opts?: KvWatchOptions): Promise<() => void>;
}

/** True when the NATS subject-style `filter` (`*` one token, `>` the rest) matches `key`. */
export function keyMatches(filter: string, key: string): boolean {
  if (filter === '>') return true;
  // Fast paths for the filters the store uses on every write: `a.b.>` and literal keys.
  if (!filter.includes('*')) {
    const gt = filter.indexOf('>');
    if (gt === -1) return filter === key;
    if (gt === filter.length - 1 && filter[gt - 1] === '.') return key.length > gt && key.startsWith(filter.slice(0, gt));
  }
  const f = filter.split('.');
  const k = key.split('.');
  for (let i = 0; i < f.length; i++) {
    const token = f[i];
    if (token === '>') return k.length > i;
    if (i >= k.length) return false;
    if (token !== '*' && token !== k[i]) return false;
  }
  return f.length === k.length;
}
