/**
 * KvBucket wrappers for store tests: one that records every call (to count a hot path's round
 * trips), and one that stops answering or loses its replies on demand (to drive the paths where a
 * write may or may not have landed).
 */
import type { KvBucket } from '../../../src/store/kv-bucket.js';

export type BucketCall = 'get' | 'create' | 'update' | 'put' | 'delete' | 'entries' | 'purgeTombstones' | 'watch';

/** Forwards to `inner`, recording the name of each call in `calls`. */
export function countingBucket(inner: KvBucket): KvBucket & { calls: BucketCall[] } {
  const calls: BucketCall[] = [];
  return {
    calls,
    name: inner.name,
    ttlMs: inner.ttlMs,
    get: (key) => (calls.push('get'), inner.get(key)),
    create: (key, value) => (calls.push('create'), inner.create(key, value)),
    update: (key, value, revision) => (calls.push('update'), inner.update(key, value, revision)),
    put: (key, value) => (calls.push('put'), inner.put(key, value)),
    delete: (key, opts) => (calls.push('delete'), inner.delete(key, opts)),
    entries: (filter) => (calls.push('entries'), inner.entries(filter)),
    purgeTombstones: (ms) => (calls.push('purgeTombstones'), inner.purgeTombstones(ms)),
    watch: (filter, onChange, opts) => (calls.push('watch'), inner.watch(filter, onChange, opts)),
  };
}

/** The modes of a flaky bucket; set them on the returned object at any time. */
export interface FlakyModes {
  /** get/create/update/delete reject like a timeout without reaching the bucket. */
  down: boolean;
  /** create/update/delete reject like a timeout without reaching the bucket; reads still answer. */
  dropWrites: boolean;
  /** create/update/delete reach the bucket (the write lands), then reject like a timeout: the answer was lost. */
  loseReplies: boolean;
}

export function flakyBucket(inner: KvBucket): KvBucket & FlakyModes {
  const timeout = (): Promise<never> => Promise.reject(new Error('TIMEOUT'));
  const write = <T>(run: () => Promise<T>): Promise<T> => {
    if (flaky.down || flaky.dropWrites) return timeout();
    if (!flaky.loseReplies) return run();
    return run().then(timeout);
  };
  const flaky: KvBucket & FlakyModes = {
    down: false,
    dropWrites: false,
    loseReplies: false,
    name: inner.name,
    ttlMs: inner.ttlMs,
    get: (k) => (flaky.down ? timeout() : inner.get(k)),
    create: (k, v) => write(() => inner.create(k, v)),
    update: (k, v, r) => write(() => inner.update(k, v, r)),
    put: (k, v) => inner.put(k, v),
    delete: (k, o) => write(() => inner.delete(k, o)),
    entries: (f) => inner.entries(f),
    purgeTombstones: (ms) => inner.purgeTombstones(ms),
    watch: (f, onChange, o) => inner.watch(f, onChange, o),
  };
  return flaky;
}
