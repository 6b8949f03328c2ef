/**
 * The memory backend and the lease renewer under a simulated clock: exact TTL, ack-wait and
 * renewal timing without sleeping, plus the failure paths that need a store that stops answering.
 */
import { describe, expect, it } from 'vitest';
import { LeaseRenewer } from '../../src/store/lease-renewer.js';
import { LeaseStore } from '../../src/store/lease-store.js';
import type { Lease, LeaseLost } from '../../src/store/lease.js';
import type { KvBucket } from '../../src/store/kv-bucket.js';
import { MemoryBucket } from '../../src/store/memory/memory-bucket.js';
import { memoryStore } from '../../src/store/memory/memory-store.js';
import { encodeKeyToken, jobLeaseKey } from '../../src/store/store-keys.js';
import { RecordTooLargeError, RevisionConflictError, StoreClosedError } from '../../src/store/store-errors.js';
import { SimulatedClock, flush } from './support/simulated-clock.js';

const L = 30_000;
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

async function openSimulated(clock = new SimulatedClock(), extra: { resultSweepIntervalMs?: number } = {}) {
  const factory = memoryStore({ clock });
  const open = () => factory.open({ leaseDurationMs: L, resultSweepIntervalMs: 0, ...extra });
  return { clock, factory, a: await open(), b: await open() };
}

describe('memory KV under a simulated clock', () => {
  it('expires a key exactly one TTL after its last write', async () => {
    const { clock, a } = await openSimulated();
    const kv = a.buckets.leases;
    const rev = await kv.create('k', bytes('v'));
    await clock.advance(L - 1);
    expect(await kv.get('k')).not.toBeNull();
    await kv.update('k', bytes('v2'), rev);
    await clock.advance(L - 1);
    expect(await kv.get('k')).not.toBeNull();
    await clock.advance(1);
    expect(await kv.get('k')).toBeNull();
    expect(await kv.entries()).toEqual([]);
  });

  it('refuses values over max_payload with a typed error', async () => {
    const bucket = new MemoryBucket('b', 0, new SimulatedClock(), 8);
    await expect(bucket.put('k', new Uint8Array(9))).rejects.toBeInstanceOf(RecordTooLargeError);
    expect(await bucket.put('k', new Uint8Array(8))).toBe(1);
  });
});

describe('memory dispatch under a simulated clock', () => {
  it('redelivers exactly at the ack wait; a stale ack still acks, stale nak/working are ignored', async () => {
    const { clock, a, b } = await openSimulated();
    const ackWait = a.ackWaitMs;
    expect(ackWait).toBe(2 * L);
    await a.dispatch.enqueue('j');
    const [first] = await a.dispatch.fetch(1);
    await clock.advance(ackWait - 1);
    expect(await b.dispatch.fetch(1)).toEqual([]);
    await clock.advance(1);
    const [second] = await b.dispatch.fetch(1);
    expect(second).toMatchObject({ jobId: 'j', deliveryCount: 2 });
    first!.working(); // superseded: ignored
    first!.nak(); // superseded: ignored
    expect(await b.dispatch.fetch(1)).toEqual([]);
    await first!.ack(); // acks by sequence, like the server
    await clock.advance(ackWait * 2);
    expect(await b.dispatch.fetch(1)).toEqual([]);
  });

  it('a waiting fetch ends empty at its expiry, and a closed node can no longer settle', async () => {
    const { clock, a, b } = await openSimulated();
    const waiting = b.dispatch.fetch(3, { expiresMs: 1000 });
    await clock.advance(999);
    await a.dispatch.enqueue('x');
    expect((await waiting).map((d) => d.jobId)).toEqual(['x']);
    const idle = b.dispatch.fetch(3, { expiresMs: 1000 });
    await clock.advance(1000);
    expect(await idle).toEqual([]);
    await a.dispatch.enqueue('y');
    const [held] = await a.dispatch.fetch(1);
    await a.close();
    await expect(held!.ack()).rejects.toBeInstanceOf(StoreClosedError);
    await expect(a.dispatch.fetch(1)).rejects.toBeInstanceOf(StoreClosedError);
    await clock.advance(a.ackWaitMs);
    expect((await b.dispatch.fetch(1)).map((d) => [d.jobId, d.deliveryCount])).toEqual([['y', 2]]);
  });
});

/** A bucket that stops answering (rejects like a timeout) while `down` is set. */
function flakyBucket(inner: KvBucket): KvBucket & { down: boolean } {
  const flaky = {
    down: false,
    name: inner.name,
    ttlMs: inner.ttlMs,
    get: (k: string) => (flaky.down ? Promise.reject(new Error('TIMEOUT')) : inner.get(k)),
    create: (k: string, v: Uint8Array) => (flaky.down ? Promise.reject(new Error('TIMEOUT')) : inner.create(k, v)),
    update: (k: string, v: Uint8Array, r: number) => (flaky.down ? Promise.reject(new Error('TIMEOUT')) : inner.update(k, v, r)),
    put: (k: string, v: Uint8Array) => inner.put(k, v),
    delete: (k: string, o?: { revision?: number }) => (flaky.down ? Promise.reject(new Error('TIMEOUT')) : inner.delete(k, o)),
    entries: (f?: string) => inner.entries(f),
    purgeTombstones: (ms: number) => inner.purgeTombstones(ms),
    watch: inner.watch.bind(inner),
  };
  return flaky;
}

describe('LeaseRenewer', () => {
  it('renews every third of the lease with one timer, keeping many leases alive', async () => {
    const clock = new SimulatedClock();
    const leases = new LeaseStore(new MemoryBucket('leases', L, clock, 1 << 20), clock, L);
    const renewed: Lease[] = [];
    const renewer = new LeaseRenewer(leases, clock, { onRenewed: (l) => renewed.push(l) });
    for (let i = 0; i < 50; i++) renewer.hold((await leases.acquire(jobLeaseKey(`j${i}`), 'n'))!);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(L * 3);
    expect(renewed).toHaveLength(50 * 9);
    for (let i = 0; i < 50; i++) expect(await leases.holder(jobLeaseKey(`j${i}`))).toMatchObject({ owner: 'n' });
    expect(await leases.acquire(jobLeaseKey('j0'), 'other')).toBeNull();
  });

  it('declares a lease lost (store_unreachable) before its TTL runs out when the store stops answering', async () => {
    const clock = new SimulatedClock();
    const inner = new MemoryBucket('leases', L, clock, 1 << 20);
    const bucket = flakyBucket(inner);
    const leases = new LeaseStore(bucket, clock, L);
    const lost: Array<{ at: number; lost: LeaseLost }> = [];
    const renewer = new LeaseRenewer(leases, clock, { onLost: (l) => lost.push({ at: clock.now(), lost: l }) });
    const lease = (await leases.acquire(jobLeaseKey('p'), 'n'))!;
    renewer.hold(lease);
    await clock.advance(L / 3); // renewed
    const lastRenewal = renewer.current(lease.key)!.renewedAt.getTime();
    bucket.down = true;
    await clock.advance(L / 3); // first failure: still time left
    expect(lost).toEqual([]);
    await clock.advance(L / 3); // second failure: the next round would come after the TTL
    expect(lost).toHaveLength(1);
    expect(lost[0]!.lost).toMatchObject({ key: lease.key, reason: 'store_unreachable' });
    expect(lost[0]!.at).toBeLessThan(lastRenewal + L);
    expect(await inner.get(lease.key)).not.toBeNull(); // the server-side TTL has not run out yet
    expect(renewer.size).toBe(0);
  });

  it('release waits for a renewal in flight and fences with the newest revision', async () => {
    const clock = new SimulatedClock();
    const leases = new LeaseStore(new MemoryBucket('leases', L, clock, 1 << 20), clock, L);
    const renewer = new LeaseRenewer(leases, clock);
    const lease = (await leases.acquire(jobLeaseKey('r'), 'n'))!;
    renewer.hold(lease);
    const renewing = renewer.renewNow();
    const released = renewer.release(lease.key);
    await renewing;
    expect(await released).toEqual({ released: true, key: lease.key });
    expect(await leases.holder(lease.key)).toBeNull();
    const forgotten = (await leases.acquire(jobLeaseKey('f'), 'n'))!;
    renewer.hold(forgotten);
    void renewer.renewNow();
    const latest = await renewer.forget(forgotten.key);
    expect(latest!.revision).toBeGreaterThan(forgotten.revision);
    expect(await leases.release(latest!)).toMatchObject({ released: true });
  });

  it('rejects an interval that is not below the lease duration', () => {
    const clock = new SimulatedClock();
    const leases = new LeaseStore(new MemoryBucket('leases', L, clock, 1 << 20), clock, L);
    expect(() => new LeaseRenewer(leases, clock, { intervalMs: L })).toThrow(/below the lease duration/);
  });
});

describe('memory store housekeeping', () => {
  it('sweeps expired results on its interval, on one node per round', async () => {
    const { clock, a, b } = await openSimulated(new SimulatedClock(), { resultSweepIntervalMs: 60_000 });
    await a.results.create({ jobId: 'old', outcome: 'success', finishedAt: new Date(clock.now()), attempt: 1 }, { ttlMs: 1000 });
    await b.results.create({ jobId: 'new', outcome: 'success', finishedAt: new Date(clock.now()), attempt: 1 }, { ttlMs: 120_000 });
    // The finished jobs' records live exactly as long as their results.
    for (const id of ['old', 'new']) await a.jobs.create({ id, task: 't', args: null, createdAt: new Date(clock.now()), attempt: 1, resultTtlMs: 0 });
    // Two finished jobs deleted now leave delete markers (revision = created + 1).
    const markers: number[] = [];
    for (const id of ['done-1', 'done-2']) {
      const job = { id, task: 't', args: null, createdAt: new Date(clock.now()), attempt: 1, resultTtlMs: 0 };
      markers.push((await a.jobs.create(job))!.revision + 1);
      await a.jobs.delete(id);
    }
    await clock.advance(60_000);
    await flush();
    expect(await a.buckets.results.get(encodeKeyToken('old'))).toBeNull();
    expect(await a.buckets.results.get(encodeKeyToken('new'))).not.toBeNull();
    expect(await a.jobs.get('old')).toBeNull();
    expect(await a.jobs.get('new')).not.toBeNull();
    // A 1-minute-old marker is kept: an update at its revision still finds it.
    expect(await a.buckets.jobs.update(encodeKeyToken('done-1'), bytes('probe'), markers[0]!)).toBeGreaterThan(0);
    await clock.advance(15 * 60_000);
    await flush();
    // Older than 15 minutes: purged by a maintenance round, so the key has no latest revision at all.
    await expect(a.buckets.jobs.update(encodeKeyToken('done-2'), bytes('probe'), markers[1]!)).rejects.toBeInstanceOf(
      RevisionConflictError,
    );
    const sweeper = await a.leases.holder('maintenance.result-sweep');
    expect(sweeper?.owner).toMatch(/^sweeper-/);
    await a.close();
    await b.close();
  });

  it('waitFor times out on the store clock; events stop at close', async () => {
    const { clock, a, b } = await openSimulated();
    const waiting = a.results.waitFor('nope', { timeoutMs: 5000 });
    await clock.advance(5000);
    expect(await waiting).toBeNull();
    const seen: string[] = [];
    b.events.subscribe((e) => seen.push(e.type));
    await a.events.publish({ type: 'NodeStarted', role: 'both', nodeId: 'a', timestamp: new Date(clock.now()) });
    await flush();
    await b.close();
    await a.events.publish({ type: 'NodeStopped', nodeId: 'a', timestamp: new Date(clock.now()) });
    await flush();
    expect(seen).toEqual(['NodeStarted']);
  });
});
