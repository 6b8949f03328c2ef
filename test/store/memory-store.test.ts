/**
 * The memory backend, the JobStore and the lease renewer under a simulated clock: exact TTL,
 * ack-wait, takeover, backoff and expiry timing without sleeping, plus the failure paths that need
 * a store that stops answering or loses its replies.
 */
import { InterestTracker } from '../../src/store/interest.js';
import { describe, expect, it } from 'vitest';
import type { JobRecord, JobResult } from '../../src/records.js';
import type { JobDelivery } from '../../src/store/job-delivery.js';
import { JobStore, type JobLease } from '../../src/store/job-store.js';
import { LeaseRenewer } from '../../src/store/lease-renewer.js';
import { LeaseStore } from '../../src/store/lease-store.js';
import type { Lease, LeaseLost } from '../../src/store/lease.js';
import { MemoryBucket } from '../../src/store/memory/memory-bucket.js';
import { memoryStore } from '../../src/store/memory/memory-store.js';
import type { StoreBackend } from '../../src/store/store-backend.js';
import { encodeKeyToken, jobLeaseKey } from '../../src/store/store-keys.js';
import { RecordTooLargeError, RevisionConflictError, StoreClosedError } from '../../src/store/store-errors.js';
import { flakyBucket } from './support/bucket-wrappers.js';
import { SimulatedClock, flush } from './support/simulated-clock.js';

const L = 30_000;
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const job = (id: string, extra: Partial<JobRecord> = {}): JobRecord => ({
  id,
  task: 't',
  args: { n: 1 },
  createdAt: new Date(Date.UTC(2030, 0, 1)),
  attempt: 1,
  resultTtlMs: null,
  ...extra,
});
const result = (jobId: string, extra: Partial<JobResult> = {}): JobResult => ({
  jobId,
  outcome: 'success',
  returnValue: 1,
  finishedAt: new Date(Date.UTC(2030, 0, 1)),
  attempt: 1,
  ...extra,
});
const isLost = (answer: object): answer is LeaseLost => 'lost' in answer;

/** The one delivery a fetch gives now (the memory fetch yields a turn first). */
async function fetchOne(store: StoreBackend): Promise<JobDelivery | undefined> {
  const [delivery] = await store.jobs.fetch(1);
  return delivery;
}

async function acquired(store: StoreBackend, delivery: JobDelivery, nodeId: string): Promise<JobLease> {
  const outcome = await store.jobs.acquire(delivery, delivery.job!, nodeId);
  if (outcome.status !== 'acquired') throw new Error(`not acquired: ${JSON.stringify(outcome)}`);
  return outcome.lease;
}

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

describe('memory job queue under a simulated clock', () => {
  it('redelivers exactly at the ack wait; a superseded delivery\'s ack still acks', async () => {
    const { clock, a, b } = await openSimulated();
    const ackWait = a.ackWaitMs;
    expect(ackWait).toBe(2 * L);
    await a.jobs.add([job('j')]);
    const first = await fetchOne(a);
    await clock.advance(ackWait - 1);
    expect(await fetchOne(b)).toBeUndefined();
    await clock.advance(1);
    const second = await fetchOne(b);
    expect(second).toMatchObject({ jobId: 'j', deliveryCount: 2, seq: first!.seq });
    first!.ack(); // acks by sequence, like the server
    expect(await a.jobs.queueDepth()).toBe(0);
    await clock.advance(ackWait * 2);
    expect(await fetchOne(b)).toBeUndefined();
  });

  it('a waiting fetch ends empty at its expiry, and a closed node can no longer settle', async () => {
    const { clock, a, b } = await openSimulated();
    const waiting = b.jobs.fetch(3, { expiresMs: 1000 });
    await flush(); // the fetch is waiting on the queue now
    await clock.advance(999);
    await a.jobs.add([job('x')]);
    expect((await waiting).map((d) => d.jobId)).toEqual(['x']);
    const idle = b.jobs.fetch(3, { expiresMs: 1000 });
    await flush();
    await clock.advance(1000);
    expect(await idle).toEqual([]);
    await a.jobs.add([job('y')]);
    const held = await fetchOne(a);
    await a.close();
    held!.ack(); // ignored: the node is gone
    await expect(a.jobs.fetch(1)).rejects.toBeInstanceOf(StoreClosedError);
    await clock.advance(a.ackWaitMs);
    expect((await b.jobs.fetch(1)).map((d) => [d.jobId, d.deliveryCount])).toEqual([['y', 2]]);
  });

  it('a fetch waiting when its node closes ends empty', async () => {
    const { a } = await openSimulated();
    const waiting = a.jobs.fetch(1, { expiresMs: 60_000 });
    await flush();
    await a.close();
    expect(await waiting).toEqual([]);
  });
});

describe('JobStore timing under a simulated clock', () => {
  it('a redelivered job is held until exactly a lease duration after its last renewal, then taken over', async () => {
    const { clock, a, b } = await openSimulated();
    await a.jobs.add([job('j')]);
    const lease = await acquired(a, (await fetchOne(a))!, 'node-a');
    await clock.advance(1.5 * L);
    const renewed = await a.jobs.renew(lease); // renews the key, but its working() never reaches the queue
    if (isLost(renewed)) throw new Error('renewal refused');
    await clock.advance(0.5 * L - 1);
    expect(await fetchOne(b)).toBeUndefined(); // the ack wait (2 L) has not run out
    await clock.advance(1);
    const redelivered = (await fetchOne(b))!;
    expect(redelivered.deliveryCount).toBe(2);
    expect(await b.jobs.acquire(redelivered, redelivered.job!, 'node-b')).toEqual({ status: 'later', retryInMs: 0.5 * L, reason: 'held' });
    redelivered.nak(0.5 * L);
    await clock.advance(0.5 * L - 1);
    expect(await fetchOne(b)).toBeUndefined();
    await clock.advance(1);
    const again = (await fetchOne(b))!;
    const taken = await b.jobs.acquire(again, again.job!, 'node-b');
    expect(taken).toMatchObject({ status: 'acquired', previousAttemptAbandoned: true, lease: { state: { nodeId: 'node-b' } } });
    expect(await a.jobs.renew(renewed)).toMatchObject({ lost: true, reason: 'expired_and_taken', holder: 'node-b' });
  });

  it('a requeued job is acquired at exactly its notBefore, at the next attempt', async () => {
    const { clock, a } = await openSimulated();
    await a.jobs.add([job('j')]);
    const delivery = (await fetchOne(a))!;
    const lease = await acquired(a, delivery, 'node-a');
    const notBefore = new Date(clock.now() + 5000);
    expect(await a.jobs.requeue(lease, { ...job('j'), attempt: 2, notBefore })).toEqual({ status: 'requeued' });
    delivery.nak();
    const early = (await fetchOne(a))!;
    expect(await a.jobs.acquire(early, early.job!, 'node-a')).toEqual({ status: 'later', retryInMs: 5000, reason: 'not_yet' });
    await clock.advance(4999);
    expect(await a.jobs.acquire(early, early.job!, 'node-a')).toEqual({ status: 'later', retryInMs: 1, reason: 'not_yet' });
    await clock.advance(1);
    expect(await a.jobs.acquire(early, early.job!, 'node-a')).toMatchObject({ status: 'acquired', job: { attempt: 2 }, lease: { state: { attempt: 2 } } });
  });

  it('a result expires exactly resultTtlMs after its commit', async () => {
    const { clock, a } = await openSimulated();
    await a.jobs.add([job('j')]);
    const lease = await acquired(a, (await fetchOne(a))!, 'node-a');
    await a.jobs.commit(lease, result('j'), { resultTtlMs: 1000 });
    await clock.advance(999);
    expect(await a.jobs.result('j')).toMatchObject({ jobId: 'j' });
    expect(await a.jobs.sweep()).toBe(0);
    await clock.advance(1);
    expect(await a.jobs.result('j')).toBeNull();
    expect(await a.jobs.sweep()).toBe(1);
  });
});

describe('JobStore writes whose reply is lost', () => {
  /** A JobStore on a memory bucket that can lose replies, with the real memory queue of `store`. */
  async function lossy() {
    const clock = new SimulatedClock();
    const store = await memoryStore({ clock }).open({ leaseDurationMs: L, resultSweepIntervalMs: 0 });
    const bucket = flakyBucket(store.buckets.jobs);
    const jobs = new JobStore(bucket, store.queue, { send: () => undefined, listen: () => () => undefined }, clock, L, () => undefined, new InterestTracker({ send: () => undefined, listen: () => () => undefined }, () => Date.now(), []));
    return { clock, store, bucket, jobs };
  }

  it('acquire, commit and requeue recognise their own landed write by the lease id', async () => {
    const { bucket, jobs } = await lossy();
    await jobs.add([job('a'), job('b')]);
    const [da, db] = await jobs.fetch(2);
    bucket.loseReplies = true;
    const outcome = await jobs.acquire(da!, da!.job!, 'node-a');
    expect(outcome).toMatchObject({ status: 'acquired', previousAttemptAbandoned: false, lease: { state: { nodeId: 'node-a' } } });
    if (outcome.status !== 'acquired') return;
    expect(await jobs.commit(outcome.lease, result('a'), { resultTtlMs: null })).toMatchObject({ status: 'committed' });
    bucket.loseReplies = false;
    expect(await jobs.result('a')).toEqual(result('a'));
    const lease = (await jobs.acquire(db!, db!.job!, 'node-a')) as { lease: JobLease };
    bucket.loseReplies = true;
    expect(await jobs.requeue(lease.lease, { ...job('b'), attempt: 2 })).toEqual({ status: 'requeued' });
    bucket.loseReplies = false;
    expect((await jobs.get('b'))?.state).toMatchObject({ phase: 'queued', attempt: 2 });
  });

  it('a write that never reached the store is not mistaken for one that did', async () => {
    const { bucket, jobs } = await lossy();
    await jobs.add([job('a')]);
    const [delivery] = await jobs.fetch(1);
    bucket.down = true;
    await expect(jobs.acquire(delivery!, delivery!.job!, 'node-a')).rejects.toThrow('TIMEOUT');
    bucket.down = false;
    expect(await jobs.get('a')).toBeNull();
    const lease = (await jobs.acquire(delivery!, delivery!.job!, 'node-a')) as { lease: JobLease };
    bucket.down = true;
    await expect(jobs.commit(lease.lease, result('a'), { resultTtlMs: null })).rejects.toThrow('TIMEOUT');
    bucket.down = false;
    expect((await jobs.get('a'))?.state.phase).toBe('running');
    expect(await jobs.commit(lease.lease, result('a'), { resultTtlMs: null })).toMatchObject({ status: 'committed' });
  });

  it('a takeover write that failed is not taken for our own: the old holder\'s state stays theirs', async () => {
    const { clock, bucket, jobs } = await lossy();
    await jobs.add([job('a')]);
    const [first] = await jobs.fetch(1);
    const held = (await jobs.acquire(first!, first!.job!, 'node-a')) as { lease: JobLease };
    await clock.advance(2 * L); // node A went quiet; the queue redelivers
    const [again] = await jobs.fetch(1);
    expect(again?.deliveryCount).toBe(2);
    bucket.dropWrites = true;
    await expect(jobs.acquire(again!, again!.job!, 'node-b')).rejects.toThrow('TIMEOUT');
    bucket.dropWrites = false;
    expect(await jobs.get('a')).toEqual({ state: held.lease.state, revision: held.lease.revision });
    expect(await jobs.acquire(again!, again!.job!, 'node-b')).toMatchObject({ status: 'acquired', previousAttemptAbandoned: true });
  });

  it('a renewal whose reply was lost does not cost the job its lease: the retry recognises its own write', async () => {
    const { bucket, jobs } = await lossy();
    await jobs.add([job('a')]);
    const [delivery] = await jobs.fetch(1);
    const lease = (await jobs.acquire(delivery!, delivery!.job!, 'node-a')) as { lease: JobLease };
    bucket.loseReplies = true;
    await expect(jobs.renew(lease.lease)).rejects.toThrow('TIMEOUT'); // landed; the answer did not
    bucket.loseReplies = false;
    // The key still holds this holder's lease id: nobody took it. The node-level keeper retries
    // with the lease it has (the last confirmed one).
    const retried = await jobs.renew(lease.lease);
    expect(retried).not.toHaveProperty('lost');
    expect(retried).toMatchObject({ jobId: 'a', state: { leaseId: lease.lease.state.leaseId } });
  });
});

describe('memory payload limit', () => {
  it('refuses a job record or result over maxPayloadBytes with RecordTooLargeError', async () => {
    const store = await memoryStore({ maxPayloadBytes: 2048 }).open({ leaseDurationMs: L, resultSweepIntervalMs: 0 });
    await expect(store.jobs.add([job('big', { args: 'x'.repeat(2048) })])).rejects.toBeInstanceOf(RecordTooLargeError);
    await store.jobs.add([job('small')]);
    const lease = await acquired(store, (await fetchOne(store))!, 'n');
    await expect(store.jobs.commit(lease, result('small', { returnValue: 'x'.repeat(2048) }), { resultTtlMs: null })).rejects.toBeInstanceOf(
      RecordTooLargeError,
    );
    expect(await store.jobs.commit(lease, result('small'), { resultTtlMs: null })).toMatchObject({ status: 'committed' });
    await store.close();
  });
});

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
  it('sweeps expired results on its interval, on one node per round, and purges old delete markers', async () => {
    const { clock, a, b } = await openSimulated(new SimulatedClock(), { resultSweepIntervalMs: 60_000 });
    const failed = (id: string): JobResult => result(id, { outcome: 'deserialization_failed' });
    expect(await a.jobs.settle('old', job('old'), failed('old'), { resultTtlMs: 1000 })).toBe(true);
    expect(await b.jobs.settle('new', job('new'), failed('new'), { resultTtlMs: 120_000 })).toBe(true);
    expect(await b.jobs.settle('forever', job('forever'), failed('forever'), { resultTtlMs: null })).toBe(true);
    // Two keys deleted now leave delete markers (revision = created + 1).
    const markers: number[] = [];
    for (const id of ['gone-1', 'gone-2']) {
      const key = encodeKeyToken(id);
      markers.push((await a.buckets.jobs.create(key, bytes('x'))) + 1);
      await a.buckets.jobs.delete(key);
    }
    await clock.advance(60_000);
    await flush();
    expect(await a.jobs.get('old')).toBeNull();
    expect(await a.jobs.result('new')).toMatchObject({ outcome: 'deserialization_failed' });
    expect(await a.jobs.result('forever')).not.toBeNull();
    // A 1-minute-old marker is kept: an update at its revision still finds it.
    expect(await a.buckets.jobs.update(encodeKeyToken('gone-1'), bytes('probe'), markers[0]!)).toBeGreaterThan(0);
    await clock.advance(15 * 60_000);
    await flush();
    // Older than 15 minutes: purged by a maintenance round, so the key has no latest revision at all.
    await expect(a.buckets.jobs.update(encodeKeyToken('gone-2'), bytes('probe'), markers[1]!)).rejects.toBeInstanceOf(
      RevisionConflictError,
    );
    expect(await a.jobs.get('new')).toBeNull(); // its 2 minutes ran out meanwhile
    expect(await a.jobs.result('forever')).not.toBeNull();
    const sweeper = await a.leases.holder('maintenance.result-sweep');
    expect(sweeper?.owner).toMatch(/^sweeper-/);
    await a.close();
    await b.close();
  });

  it('events stop reaching a node once it closes', async () => {
    const { clock, a, b } = await openSimulated();
    const seen: string[] = [];
    b.events.subscribe((e) => seen.push(e.type));
    await flush(); // B's word of interest reaches A
    expect(a.events.wanted()).toBe(true);
    a.events.publish({ type: 'NodeStarted', role: 'both', nodeId: 'a', timestamp: new Date(clock.now()) });
    await flush();
    await b.close();
    a.events.publish({ type: 'NodeStopped', nodeId: 'a', timestamp: new Date(clock.now()) });
    await flush();
    expect(seen).toEqual(['NodeStarted']);
  });
});
