/** Store conformance: repositories, results, corrupt records, node registry, events and lifecycle. */
import { describe, expect, it } from 'vitest';
import { CorruptRecordError, StoreConfigError } from '../../../src/store/store-errors.js';
import { encodeKeyToken, jobIdForFire, jobLeaseKey } from '../../../src/store/store-keys.js';
import type { RuntimeEvent } from '../../../src/store/runtime-event.js';
import { sleep, until } from '../support/backend-fixtures.js';
import { bytes, conformance, job, L, opts, result, schedule } from './conformance.js';

conformance('records and events', ({ open, openPair, poolFor, fixture }) => {
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
      expect(await nodeA.results.waitFor('awaited', { timeoutMs: 3000 })).toMatchObject({ jobId: 'awaited' }); // already there
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
