/** Store conformance: one job per fire time, the schedule repository, corrupt records, node registry, events and lifecycle. */
import { describe, expect, it } from 'vitest';
import { CorruptRecordError, StoreClosedError, StoreConfigError } from '../../../src/store/store-errors.js';
import { INTEREST_ANNOUNCE_MS, INTEREST_GRACE_MS } from '../../../src/store/interest.js';
import { encodeKeyToken, jobIdForFire } from '../../../src/store/store-keys.js';
import type { RuntimeEvent } from '../../../src/store/runtime-event.js';
import { sleep, until } from '../support/backend-fixtures.js';
import { bytes, conformance, job, L, opts, result, running, schedule } from './conformance.js';

conformance('records and events', ({ open, openPair, poolFor, fixture }) => {
  describe.concurrent('records', () => {
    it('a fire time makes one job: the second add of the same fire is a duplicate', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const fire = new Date('2030-01-01T08:00:00Z');
      const id = jobIdForFire('nightly.report', fire);
      expect(id).toBe(jobIdForFire('nightly.report', new Date(fire.getTime())));
      expect(id).not.toBe(jobIdForFire('nightly.report', new Date(fire.getTime() + 1)));
      const [first] = await nodeA.jobs.add([job(id, { scheduleId: 'nightly.report', scheduledFireTime: fire })]);
      const [second] = await nodeB.jobs.add([job(id, { scheduleId: 'nightly.report', scheduledFireTime: fire, attempt: 9 })]);
      expect([first, second]).toEqual(['queued', 'duplicate']);
      expect((await nodeB.jobs.lookup(id))?.job).toMatchObject({ id, attempt: 1, scheduledFireTime: fire });
      expect(await nodeB.jobs.queueDepth()).toBe(1);
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

    it('a corrupt record is reported as a typed failure while the rest keeps working', async (ctx) => {
      const corrupt: CorruptRecordError[] = [];
      const store = await open(ctx, { ...opts, onCorrupt: (e) => corrupt.push(e) });
      const good = await running(store, job('good-1'));
      await store.buckets.jobs.put(encodeKeyToken('bad job'), bytes('definitely not msgpack of a job state'));
      await store.jobs.commit(good.lease, result('good-1'), { resultTtlMs: null });
      await store.buckets.schedules.put(encodeKeyToken('bad-schedule'), new Uint8Array([0x81, 0xa1, 0x76, 0x09]));
      expect((await store.jobs.states()).map((s) => [s.jobId, s.state.phase])).toEqual([['good-1', 'done']]);
      await expect(store.jobs.get('bad job')).rejects.toBeInstanceOf(CorruptRecordError);
      await expect(store.jobs.get('bad job')).rejects.toMatchObject({ bucket: 'jobs', id: 'bad job' });
      expect(await store.jobs.result('good-1')).toMatchObject({ jobId: 'good-1' });
      const schedules = await store.schedules.list();
      expect(schedules.failures.map((f) => [f.bucket, f.id])).toEqual([['schedules', 'bad-schedule']]);
      expect(corrupt.map((e) => e.id)).toEqual(['bad job', 'bad job', 'bad job', 'bad-schedule']);
      expect(corrupt.every((e) => e instanceof CorruptRecordError)).toBe(true);
      // The sweep passes over it; new jobs still run.
      expect(await store.jobs.sweep()).toBe(0);
      await running(store, job('good-2'));
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
    it('delivers every event type cluster-wide with its shape, while the receiver listens', async (ctx) => {
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
        { ...base, type: 'JobCancelRequested', jobId: 'j' },
      ];
      const atB: RuntimeEvent[] = [];
      const atA: RuntimeEvent[] = [];
      const released: string[] = [];
      const unsubscribe = nodeB.events.subscribe((e) => atB.push(e));
      const stopReleased = nodeB.events.on('JobReleased', (e) => released.push(e.outcome));
      nodeA.events.subscribe((e) => atA.push(e));
      await nodeB.jobs.get('probe'); // B's subscription is in place once a later request is answered
      // Publishing is synchronous and batched: all of these leave in one message.
      for (const event of sent) expect(nodeA.events.publish(event)).toBeUndefined();
      await until(async () => (atB.length >= sent.length && atA.length >= sent.length ? true : undefined), 3000);
      expect(atB).toEqual(sent);
      expect(atA).toEqual(sent);
      expect(atB[0]!.timestamp).toBeInstanceOf(Date);
      expect(atB[0]).not.toBe(sent[0]); // bytes on the wire, on both backends
      expect(released).toEqual(['success']);
      unsubscribe();
      stopReleased();
      await nodeB.jobs.get('probe');
      nodeA.events.publish({ ...base, type: 'JobReleased', jobId: 'k', task: 'mail', outcome: 'error', attempt: 1 });
      await until(async () => (atA.length > sent.length ? true : undefined), 3000);
      await sleep(100);
      expect(atB).toHaveLength(sent.length);
      expect(released).toEqual(['success']);
      expect(() => nodeA.events.publish({ ...base, type: 'NoSuchEvent' } as unknown as RuntimeEvent)).toThrow(TypeError);
    });

    it('publishes only while someone in the cluster listens; a node that opens learns of listeners at once', async (ctx) => {
      const factory = fixture.factory();
      const pool = poolFor(ctx);
      const nodeA = await pool.open(factory, opts);
      const nodeB = await pool.open(factory, opts);
      // Past the grace period of a fresh node, with nobody listening: nothing is wanted.
      await sleep(INTEREST_GRACE_MS + 100);
      expect(nodeA.events.wanted()).toBe(false);
      expect(nodeB.events.wanted()).toBe(false);
      const stop = nodeB.events.subscribe(() => undefined);
      expect(nodeB.events.wanted()).toBe(true); // its own listener
      await until(async () => (nodeA.events.wanted() ? true : undefined), 3000); // B's word reached A
      // A node opened now asks who listens and hears B's answer, long before B's next announcement.
      const nodeC = await pool.open(factory, opts);
      expect(nodeC.events.wanted()).toBe(true); // grace period
      await sleep(INTEREST_GRACE_MS + 100);
      expect(nodeC.events.wanted()).toBe(true); // B answered the query
      stop();
      expect(INTEREST_ANNOUNCE_MS).toBeGreaterThan(2 * INTEREST_GRACE_MS);
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
      await expect(store.jobs.get('x')).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.schedules.get('x')).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.nodes.listNodes()).rejects.toBeInstanceOf(StoreClosedError);
    });
  });
});
