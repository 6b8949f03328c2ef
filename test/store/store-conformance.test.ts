/**
 * The store conformance suite: every test runs against the memory backend and against NATS
 * JetStream (a real nats-server 2.9). A behaviour difference is a bug in one of them. Real time is
 * needed for server-side TTLs, so durations are short (1 s leases) and assertions are about order.
 */
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import type { JobRecord, JobResult, ScheduleRecord } from '../../src/records.js';
import { CorruptRecordError, RevisionConflictError, StoreConfigError } from '../../src/store/store-errors.js';
import { encodeKeyToken, jobIdForFire, jobLeaseKey, slotLeaseKey } from '../../src/store/store-keys.js';
import { isLeaseLost, type Lease, type LeaseLost } from '../../src/store/lease.js';
import type { KvChange } from '../../src/store/kv-bucket.js';
import type { RuntimeEvent } from '../../src/store/runtime-event.js';
import type { OpenStoreOptions } from '../../src/store/store-backend.js';
import { BackendPool, memoryFixture, natsFixture, sleep, until, type BackendFixture } from './support/backend-fixtures.js';

const L = 1000; // lease duration of these tests
const opts: OpenStoreOptions = { leaseDurationMs: L, ackWaitMs: 1000, resultSweepIntervalMs: 0 };
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

const job = (id: string, extra: Partial<JobRecord> = {}): JobRecord => ({
  id,
  task: 'send-mail',
  args: { to: 'a@example.com' },
  createdAt: new Date('2030-01-01T00:00:00Z'),
  attempt: 1,
  resultTtlMs: 60_000,
  ...extra,
});

const schedule = (id: string, extra: Partial<ScheduleRecord> = {}): ScheduleRecord => ({
  id,
  task: 'report',
  trigger: { kind: 'interval', everyMs: 60_000, start: new Date('2030-01-01T00:00:00Z') } as unknown as ScheduleRecord['trigger'],
  args: null,
  paused: false,
  coalesce: 'latest',
  misfireGraceTimeMs: null,
  maxJitterMs: 0,
  nextFireTime: new Date('2030-01-01T00:01:00Z'),
  lastFireTime: null,
  createdAt: new Date('2030-01-01T00:00:00Z'),
  ...extra,
});

const result = (jobId: string, extra: Partial<JobResult> = {}): JobResult => ({
  jobId,
  outcome: 'success',
  returnValue: 42,
  finishedAt: new Date('2030-01-01T00:00:05Z'),
  attempt: 1,
  nodeId: 'node-a',
  ...extra,
});

const fixtures: BackendFixture[] = [memoryFixture(), natsFixture()];

describe.each(fixtures)('store conformance: $name', (fixture) => {
  beforeAll(() => fixture.setup());
  afterAll(() => fixture.teardown());
  // Per-test pools: tests run concurrently, so each closes only its own backends.
  const poolFor = (ctx: TestContext): BackendPool => {
    const pool = new BackendPool();
    ctx.onTestFinished(() => pool.closeAll());
    return pool;
  };
  const open = (ctx: TestContext, o: OpenStoreOptions = opts) => poolFor(ctx).open(fixture.factory(), o);
  const openPair = async (ctx: TestContext, o: OpenStoreOptions = opts) => {
    const pool = poolFor(ctx);
    const factory = fixture.factory();
    return [await pool.open(factory, o), await pool.open(factory, o)] as const;
  };

  describe('KV revision rules', () => {
    it('create refuses a live key, update/delete need the latest revision, revisions grow per bucket', async (ctx) => {
      const store = await open(ctx);
      const kv = store.buckets.jobs;
      const r1 = await kv.create('a', bytes('1'));
      await expect(kv.create('a', bytes('again'))).rejects.toBeInstanceOf(RevisionConflictError);
      const other = await kv.put('b', bytes('x'));
      expect(other).toBeGreaterThan(r1);
      const r2 = await kv.update('a', bytes('2'), r1);
      expect(r2).toBeGreaterThan(other);
      await expect(kv.update('a', bytes('stale'), r1)).rejects.toBeInstanceOf(RevisionConflictError);
      await expect(kv.delete('a', { revision: r1 })).rejects.toBeInstanceOf(RevisionConflictError);
      expect(new TextDecoder().decode((await kv.get('a'))?.value)).toBe('2');
      await kv.delete('a', { revision: r2 });
      expect(await kv.get('a')).toBeNull();
      await expect(kv.update('a', bytes('gone'), r2)).rejects.toBeInstanceOf(RevisionConflictError);
      const r3 = await kv.create('a', bytes('3'));
      expect(r3).toBeGreaterThan(r2);
      expect((await kv.entries()).map((e) => [e.key, e.revision])).toEqual([
        ['b', other],
        ['a', r3],
      ]);
    });

    it('purges old delete markers and a purged key can be created again', async (ctx) => {
      const store = await open(ctx);
      const kv = store.buckets.results;
      const rev = await kv.create('gone', bytes('1'));
      await kv.put('stays', bytes('2'));
      await kv.delete('gone', { revision: rev });
      expect(await kv.purgeTombstones(60_000)).toBe(0); // too young
      await sleep(20);
      expect(await kv.purgeTombstones(0)).toBe(1);
      expect(await kv.purgeTombstones(0)).toBe(0);
      expect(await kv.get('gone')).toBeNull();
      expect(new TextDecoder().decode((await kv.get('stays'))?.value)).toBe('2');
      expect(await kv.create('gone', bytes('3'))).toBeGreaterThan(rev);
    });

    it('watch sees puts and deletes in order, and current values when asked', async (ctx) => {
      const store = await open(ctx);
      const kv = store.buckets.jobs;
      await kv.put('x.1', bytes('before'));
      const seen: KvChange[] = [];
      const stop = await kv.watch('x.>', (c) => seen.push(c), { includeCurrent: true });
      await kv.put('x.2', bytes('p'));
      await kv.put('y.1', bytes('not matched'));
      await kv.delete('x.1');
      await until(async () => (seen.length >= 3 ? true : undefined), 3000);
      stop();
      expect(seen.map((c) => [c.key, c.operation])).toEqual([
        ['x.1', 'put'],
        ['x.2', 'put'],
        ['x.1', 'delete'],
      ]);
      expect(seen[0]!.revision).toBeLessThan(seen[1]!.revision);
      expect(seen[1]!.revision).toBeLessThan(seen[2]!.revision);
    });
  });

  describe.concurrent('TTL', () => {
    it('keys vanish a TTL after their last write, silently; an update restarts the TTL', async (ctx) => {
      const store = await open(ctx);
      const kv = store.buckets.leases;
      const changes: KvChange[] = [];
      const stop = await kv.watch('>', (c) => changes.push(c));
      const early = await kv.create('early', bytes('e'));
      await sleep(L * 0.5);
      const renewed = await kv.create('renewed', bytes('r'));
      await sleep(L * 0.3);
      await kv.update('renewed', bytes('r2'), renewed); // its TTL restarts here, at ~0.8 L
      // Wait for the first key to expire; the renewed one must outlive it.
      await until(async () => ((await kv.get('early')) === null ? true : undefined), 3 * L);
      expect(await kv.get('renewed')).not.toBeNull();
      await until(async () => ((await kv.get('renewed')) === null ? true : undefined), 3 * L);
      await sleep(100);
      stop();
      expect(changes.every((c) => c.operation === 'put')).toBe(true); // no event on expiry
      await expect(kv.update('early', bytes('late'), early)).rejects.toBeInstanceOf(RevisionConflictError);
      expect(await kv.create('early', bytes('fresh'))).toBeGreaterThan(early);
    });
  });

  describe.concurrent('leases', () => {
    it('acquire is exclusive; renew moves the revision; the stale revision is fenced', async (ctx) => {
      const store = await open(ctx);
      const a = await store.leases.acquire(jobLeaseKey('j1'), 'node-a');
      expect(a).not.toBeNull();
      expect(await store.leases.acquire(jobLeaseKey('j1'), 'node-b')).toBeNull();
      const renewed = await store.leases.renew(a!);
      expect(isLeaseLost(renewed)).toBe(false);
      expect((renewed as Lease).revision).toBeGreaterThan(a!.revision);
      const stale = await store.leases.renew(a!);
      expect(stale).toMatchObject({ lost: true, reason: 'revision_moved', holder: 'node-a' });
      const staleRelease = await store.leases.release(a!);
      expect(staleRelease).toMatchObject({ lost: true, reason: 'revision_moved' });
      expect(await store.leases.release(renewed as Lease)).toEqual({ released: true, key: jobLeaseKey('j1') });
      expect(await store.leases.acquire(jobLeaseKey('j1'), 'node-b')).not.toBeNull();
    });

    it('a renewed lease outlives several TTLs and is never taken meanwhile', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const lease = await nodeA.leases.acquire(jobLeaseKey('long'), 'node-a');
      const renewer = nodeA.createLeaseRenewer();
      const lost: LeaseLost[] = [];
      renewer.hold(lease!, { onLost: (l) => lost.push(l) });
      const started = Date.now();
      let attempts = 0;
      while (Date.now() - started < 3.5 * L) {
        expect(await nodeB.leases.acquire(jobLeaseKey('long'), 'node-b')).toBeNull();
        attempts++;
        await sleep(L / 4);
      }
      expect(attempts).toBeGreaterThan(10);
      expect(lost).toEqual([]);
      const current = renewer.current(jobLeaseKey('long'))!;
      expect(current.revision).toBeGreaterThan(lease!.revision);
      expect(await renewer.release(jobLeaseKey('long'))).toMatchObject({ released: true });
      expect(await nodeB.leases.acquire(jobLeaseKey('long'), 'node-b')).not.toBeNull();
    });

    it('a lease not renewed is taken after its TTL, and the old owner is fenced off', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const key = jobLeaseKey('crashy');
      const a = (await nodeA.leases.acquire(key, 'node-a'))!;
      const gone = (await nodeA.leases.acquire(jobLeaseKey('gone'), 'node-a'))!;
      expect(await nodeB.leases.acquire(key, 'node-b')).toBeNull();
      const b = await until(async () => (await nodeB.leases.acquire(key, 'node-b')) ?? undefined, 3 * L);
      expect(b.revision).toBeGreaterThan(a.revision);
      expect(await nodeA.leases.renew(a)).toMatchObject({ lost: true, reason: 'expired_and_taken', holder: 'node-b' });
      expect(await nodeA.leases.release(a)).toMatchObject({ lost: true, reason: 'expired_and_taken', holder: 'node-b' });
      expect(await nodeA.leases.renew(gone)).toMatchObject({ lost: true, reason: 'key_gone' });
      expect(await nodeA.leases.holder(key)).toMatchObject({ owner: 'node-b', revision: b.revision });
      expect(isLeaseLost(await nodeB.leases.renew(b))).toBe(false);
    });

    it('the renewer reports a lease that was taken away', async (ctx) => {
      const store = await open(ctx);
      const lease = (await store.leases.acquire(jobLeaseKey('stolen'), 'node-a'))!;
      const lost: LeaseLost[] = [];
      const renewer = store.createLeaseRenewer({ onLost: (l) => lost.push(l) });
      renewer.hold(lease);
      await store.buckets.leases.delete(lease.key); // someone removes it under our feet
      await until(async () => (lost.length > 0 ? true : undefined), 2 * L);
      expect(lost).toEqual([expect.objectContaining({ key: lease.key, reason: 'key_gone' })]);
      expect(renewer.size).toBe(0);
    });

    it('slot leases cap a task at k across nodes and free a crashed holder after its TTL', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const attempts = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? nodeA : nodeB).leases.acquireSlot('encode', 3, `node-${i}`)),
      );
      const held = attempts.filter((l): l is Lease => l !== null);
      expect(held).toHaveLength(3);
      expect(new Set(held.map((l) => l.key))).toEqual(new Set([0, 1, 2].map((k) => slotLeaseKey('encode', k))));
      // Two holders keep renewing; the third "crashes" (never renews).
      const renewer = nodeA.createLeaseRenewer();
      renewer.hold(held[0]!);
      renewer.hold(held[1]!);
      expect(await nodeB.leases.acquireSlot('encode', 3, 'late')).toBeNull();
      const freed = await until(async () => (await nodeB.leases.acquireSlot('encode', 3, 'late')) ?? undefined, 3 * L);
      expect(freed.key).toBe(held[2]!.key);
      expect(await nodeB.leases.acquireSlot('encode', 3, 'later')).toBeNull();
    });
  });

  describe.concurrent('dispatch', () => {
    it('batches never exceed max and every job is delivered once', async (ctx) => {
      const store = await open(ctx);
      const ids = Array.from({ length: 7 }, (_, i) => `job-${i}`);
      for (const id of ids) await store.dispatch.enqueue(id);
      const seen: string[] = [];
      for (;;) {
        const batch = await store.dispatch.fetch(3);
        expect(batch.length).toBeLessThanOrEqual(3);
        if (batch.length === 0) break;
        expect(batch.every((d) => d.deliveryCount === 1)).toBe(true);
        seen.push(...batch.map((d) => d.jobId));
        await Promise.all(batch.map((d) => d.ack()));
      }
      expect(seen.sort()).toEqual(ids);
    });

    it('ack removes a job for good; an unacked one comes back after the ack wait', async (ctx) => {
      const store = await open(ctx);
      await store.dispatch.enqueue('acked');
      await store.dispatch.enqueue('dropped');
      const first = await store.dispatch.fetch(5);
      expect(first.map((d) => d.jobId).sort()).toEqual(['acked', 'dropped']);
      await first.find((d) => d.jobId === 'acked')!.ack();
      expect(await store.dispatch.fetch(5)).toEqual([]);
      const again = await store.dispatch.fetch(5, { expiresMs: 3000 });
      expect(again.map((d) => [d.jobId, d.deliveryCount])).toEqual([['dropped', 2]]);
      await again[0]!.ack();
      await sleep(1300);
      expect(await store.dispatch.fetch(5)).toEqual([]);
    });

    it('nak with a delay redelivers later, not before', async (ctx) => {
      const store = await open(ctx);
      await store.dispatch.enqueue('retry-me');
      const [d] = await store.dispatch.fetch(1);
      const nakAt = Date.now();
      d!.nak(500);
      expect(await store.dispatch.fetch(1)).toEqual([]);
      const [again] = await store.dispatch.fetch(1, { expiresMs: 3000 });
      expect(Date.now() - nakAt).toBeGreaterThanOrEqual(400);
      expect(again).toMatchObject({ jobId: 'retry-me', deliveryCount: 2 });
      await again!.ack();
    });

    it('working() holds a job past its ack wait', async (ctx) => {
      const store = await open(ctx);
      await store.dispatch.enqueue('long');
      const [d] = await store.dispatch.fetch(1);
      for (let i = 0; i < 5; i++) {
        await sleep(300);
        d!.working();
      }
      expect(await store.dispatch.fetch(1)).toEqual([]); // 1.5 s > ack wait, still held
      const [again] = await store.dispatch.fetch(1, { expiresMs: 3000 });
      expect(again).toMatchObject({ jobId: 'long', deliveryCount: 2 });
    });

    it('a job fetched by a worker that vanished is redelivered to another after the ack wait', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      await nodeA.dispatch.enqueue('orphan');
      const [taken] = await nodeA.dispatch.fetch(4);
      expect(taken?.jobId).toBe('orphan');
      const vanishedAt = Date.now();
      await nodeA.close(); // never acks
      expect(await nodeB.dispatch.fetch(4)).toEqual([]);
      const [redelivered] = await nodeB.dispatch.fetch(4, { expiresMs: 4000 });
      expect(redelivered).toMatchObject({ jobId: 'orphan', deliveryCount: 2 });
      expect(Date.now() - vanishedAt).toBeGreaterThanOrEqual(500);
      await redelivered!.ack();
    });

    it('a waiting fetch returns as soon as a job is enqueued, and idle workers are notified', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      let notified = 0;
      const stop = nodeB.dispatch.onJobAvailable(() => notified++);
      await sleep(50); // let the subscription reach the server
      const started = Date.now();
      const waiting = nodeB.dispatch.fetch(5, { expiresMs: 5000 });
      await sleep(100);
      await nodeA.dispatch.enqueue('wake-up');
      const got = await waiting;
      expect(got.map((d) => d.jobId)).toEqual(['wake-up']);
      expect(Date.now() - started).toBeLessThan(2000);
      await until(async () => (notified > 0 ? true : undefined), 2000);
      stop();
      const aborted = new AbortController();
      const pending = nodeB.dispatch.fetch(1, { expiresMs: 5000, signal: aborted.signal });
      aborted.abort();
      expect(await pending).toEqual([]);
    });
  });

  describe.concurrent('records', () => {
    it('a fire time makes one job: the second create of the same fire returns null', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const fire = new Date('2030-01-01T08:00:00Z');
      const id = jobIdForFire('nightly.report', fire);
      expect(id).toBe(jobIdForFire('nightly.report', new Date(fire.getTime())));
      expect(id).not.toBe(jobIdForFire('nightly.report', new Date(fire.getTime() + 1)));
      const first = await nodeA.jobs.create(job(id, { scheduleId: 'nightly.report', scheduledFireTime: fire }));
      const second = await nodeB.jobs.create(job(id, { scheduleId: 'nightly.report', scheduledFireTime: fire, attempt: 9 }));
      expect(first).not.toBeNull();
      expect(second).toBeNull();
      expect((await nodeB.jobs.get(id))?.record).toMatchObject({ id, attempt: 1, scheduledFireTime: fire });
    });

    it('schedules advance only at the revision read', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const created = (await nodeA.schedules.create(schedule('s1')))!;
      const next = new Date('2030-01-01T00:02:00Z');
      const advanced = await nodeA.schedules.update({ ...created.record, nextFireTime: next }, created.revision);
      expect(advanced?.revision).toBeGreaterThan(created.revision);
      expect(await nodeB.schedules.update({ ...created.record, paused: true }, created.revision)).toBeNull();
      expect((await nodeB.schedules.get('s1'))?.record.nextFireTime).toEqual(next);
      const { items, failures } = await nodeB.schedules.list();
      expect(items.map((s) => s.record.id)).toEqual(['s1']);
      expect(failures).toEqual([]);
      expect(await nodeB.schedules.delete('s1', created.revision)).toBe(false);
      expect(await nodeB.schedules.delete('s1', advanced!.revision)).toBe(true);
      expect(await nodeA.schedules.get('s1')).toBeNull();
    });

    it('results are write-once, and completeJob refuses a fenced runner', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      expect(await nodeA.results.create(result('r1'), { ttlMs: null })).not.toBeNull();
      expect(await nodeB.results.create(result('r1', { outcome: 'error' }), { ttlMs: null })).toBeNull();
      expect((await nodeB.results.get('r1'))?.record.outcome).toBe('success');

      // A runner whose lease expired and was taken cannot write its result.
      const stale = (await nodeA.leases.acquire(jobLeaseKey('r2'), 'node-a'))!;
      const taker = await until(async () => (await nodeB.leases.acquire(jobLeaseKey('r2'), 'node-b')) ?? undefined, 3 * L);
      const refused = await nodeA.completeJob(stale, result('r2', { returnValue: 'stale' }), { resultTtlMs: null });
      expect(refused).toMatchObject({ status: 'lease_lost', lost: { reason: 'expired_and_taken' } });
      expect(await nodeB.results.get('r2')).toBeNull();
      const done = await nodeB.completeJob(taker, result('r2', { returnValue: 'fresh' }), { resultTtlMs: 60_000 });
      expect(done).toMatchObject({ status: 'written', released: true });
      expect((await nodeA.results.get('r2'))?.record.returnValue).toBe('fresh');
      expect(await nodeA.leases.acquire(jobLeaseKey('r2'), 'node-a')).not.toBeNull(); // released, no TTL wait
    });

    it('expired results read as absent and the sweep deletes them', async (ctx) => {
      const store = await open(ctx);
      await store.results.create(result('short'), { ttlMs: 200 });
      await store.results.create(result('kept'), { ttlMs: null });
      expect((await store.results.get('short'))?.expiresAt).toBeInstanceOf(Date);
      await sleep(300);
      expect(await store.results.get('short')).toBeNull();
      expect((await store.results.list()).items.map((r) => r.record.jobId)).toEqual(['kept']);
      expect(await store.buckets.results.get(encodeKeyToken('short'))).not.toBeNull(); // still stored
      expect(await store.results.sweep()).toBe(1);
      expect(await store.buckets.results.get(encodeKeyToken('short'))).toBeNull();
      expect(await store.results.sweep()).toBe(0);
      expect((await store.results.get('kept'))?.expiresAt).toBeNull();
    });

    it('waitFor resolves when another node writes the result, and times out with null', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const waiting = nodeA.results.waitFor('awaited', { timeoutMs: 5000 });
      await sleep(100);
      await nodeB.results.create(result('awaited', { returnValue: 'hello' }), { ttlMs: null });
      expect(await waiting).toMatchObject({ jobId: 'awaited', returnValue: 'hello' });
      expect(await nodeA.results.waitFor('awaited', { timeoutMs: 50 })).toMatchObject({ jobId: 'awaited' }); // already there
      const started = Date.now();
      expect(await nodeA.results.waitFor('never', { timeoutMs: 300 })).toBeNull();
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    });

    it('a corrupt record is reported as a typed failure while the rest keeps working', async (ctx) => {
      const corrupt: CorruptRecordError[] = [];
      const store = await open(ctx, { ...opts, onCorrupt: (e) => corrupt.push(e) });
      await store.jobs.create(job('good-1'));
      await store.buckets.jobs.put(encodeKeyToken('bad job'), bytes('definitely not msgpack of a job'));
      await store.jobs.create(job('good-2'));
      await store.buckets.schedules.put(encodeKeyToken('bad-schedule'), new Uint8Array([0x81, 0xa1, 0x76, 0x09]));
      const listing = await store.jobs.list();
      expect(listing.items.map((s) => s.record.id)).toEqual(['good-1', 'good-2']);
      expect(listing.failures).toHaveLength(1);
      expect(listing.failures[0]).toBeInstanceOf(CorruptRecordError);
      expect(listing.failures[0]).toMatchObject({ bucket: 'jobs', id: 'bad job' });
      await expect(store.jobs.get('bad job')).rejects.toBeInstanceOf(CorruptRecordError);
      const schedules = await store.schedules.list();
      expect(schedules.failures.map((f) => [f.bucket, f.id])).toEqual([['schedules', 'bad-schedule']]);
      expect(corrupt.map((e) => e.id)).toEqual(['bad job', 'bad job', 'bad-schedule']);
      expect((await store.jobs.get('good-2'))?.record.id).toBe('good-2');
      expect(await store.jobs.create(job('good-3'))).not.toBeNull();
    });

    it('nodes heartbeat into the registry and leave it', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const startedAt = new Date();
      await nodeA.nodes.heartbeat({ nodeId: 'node-a', role: 'both', startedAt, pid: 1 });
      await nodeB.nodes.heartbeat({ nodeId: 'node b', role: 'worker', startedAt: new Date(startedAt.getTime() + 1) });
      const listed = await nodeA.nodes.listNodes();
      expect(listed.map((n) => [n.nodeId, n.role])).toEqual([
        ['node-a', 'both'],
        ['node b', 'worker'],
      ]);
      expect(listed[0]!.lastHeartbeat).toBeInstanceOf(Date);
      await nodeB.nodes.remove('node b');
      expect((await nodeA.nodes.listNodes()).map((n) => n.nodeId)).toEqual(['node-a']);
    });
  });

  describe('events and lifecycle', () => {
    it('delivers every event type cluster-wide with its shape', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const t = new Date('2030-01-01T00:00:00.123Z');
      const base = { timestamp: t, nodeId: 'node-a' };
      const sent: RuntimeEvent[] = [
        { ...base, type: 'TaskAdded', task: 'mail' },
        { ...base, type: 'ScheduleAdded', scheduleId: 's', task: 'mail', nextFireTime: t },
        { ...base, type: 'ScheduleUpdated', scheduleId: 's', task: 'mail', nextFireTime: null },
        { ...base, type: 'ScheduleRemoved', scheduleId: 's' },
        { ...base, type: 'JobAdded', jobId: 'j', task: 'mail', scheduleId: 's', scheduledFireTime: t },
        { ...base, type: 'JobAcquired', jobId: 'j', task: 'mail', attempt: 1 },
        { ...base, type: 'JobReleased', jobId: 'j', task: 'mail', outcome: 'success', attempt: 1 },
        { ...base, type: 'LeaseLost', key: 'job.j', reason: 'expired_and_taken', jobId: 'j', holder: 'node-b' },
        { ...base, type: 'NodeStarted', role: 'both' },
        { ...base, type: 'NodeStopped' },
        { ...base, type: 'ScheduleDeserializationFailed', scheduleId: 's', error: 'bad' },
        { ...base, type: 'JobDeserializationFailed', jobId: 'j', error: 'bad' },
      ];
      const atB: RuntimeEvent[] = [];
      const atA: RuntimeEvent[] = [];
      const released: string[] = [];
      const unsubscribe = nodeB.events.subscribe((e) => atB.push(e));
      nodeA.events.subscribe((e) => atA.push(e));
      nodeB.events.on('JobReleased', (e) => released.push(e.outcome));
      await sleep(50); // subscriptions reach the server
      for (const event of sent) await nodeA.events.publish(event);
      await until(async () => (atB.length >= sent.length && atA.length >= sent.length ? true : undefined), 3000);
      expect(atB).toEqual(sent);
      expect(atA).toEqual(sent);
      expect(atB[0]!.timestamp).toBeInstanceOf(Date);
      expect(atB[0]).not.toBe(sent[0]);
      expect(released).toEqual(['success']);
      unsubscribe();
      await nodeA.events.publish({ ...base, type: 'TaskAdded', task: 'after' });
      await until(async () => (atA.length > sent.length ? true : undefined), 3000);
      await sleep(50);
      expect(atB).toHaveLength(sent.length);
    });

    it('refuses a node whose lease duration disagrees with the buckets, and reports close', async (ctx) => {
      const factory = fixture.factory();
      const store = await poolFor(ctx).open(factory, opts);
      await expect(factory.open({ ...opts, leaseDurationMs: 2 * L })).rejects.toBeInstanceOf(StoreConfigError);
      await expect(factory.open({ ...opts, ackWaitMs: 5000 })).rejects.toBeInstanceOf(StoreConfigError);
      const states: string[] = [];
      store.onConnectionChange((s) => states.push(s));
      expect(store.connectionState).toBe('up');
      await store.close();
      expect(store.connectionState).toBe('closed');
      expect(states).toEqual(['closed']);
      await expect(store.jobs.get('x')).rejects.toThrow();
    });
  });
});
