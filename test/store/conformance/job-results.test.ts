/**
 * Store conformance: how a job ends on the JobStore — the fenced commit (one result, announced on
 * the completion signal), result retention and the sweep, cancelling queued and abandoned jobs,
 * cancel requests between nodes, corrupt queue messages settled once, payload limits and a closed
 * store.
 */
import { describe, expect, it } from 'vitest';
import { encodeRecord } from '../../../src/codec/index.js';
import type { DoneJobState, JobRecord, JobResult } from '../../../src/records.js';
import type { StoreBackend } from '../../../src/store/store-backend.js';
import { CorruptRecordError, RecordTooLargeError, StoreClosedError } from '../../../src/store/store-errors.js';
import { encodeKeyToken } from '../../../src/store/store-keys.js';
import { sleep, until } from '../support/backend-fixtures.js';
import { conformance, deliveryOf, job, opts, recordKept, result, running, schedule } from './conformance.js';

/**
 * Makes sure the listeners `store` attached so far are in place cluster-wide: a request on the
 * same connection is answered only after the server has processed the subscriptions sent before it.
 */
const settled = async (store: StoreBackend): Promise<void> => {
  await store.jobs.get('probe');
};

const cancelled = (at: Date) => (j: JobRecord): JobResult => ({ jobId: j.id, outcome: 'cancelled', finishedAt: at, attempt: j.attempt });

conformance('job store: results and cancelling', ({ open, openPair }) => {
  describe.concurrent('commit and results', () => {
    it('commit writes the done state once; a second commit never makes a second result; onDone and result() see it', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const atA: Array<[string, DoneJobState]> = [];
      const atB: Array<[string, DoneJobState]> = [];
      nodeA.jobs.onDone((id, state) => atA.push([id, state]));
      const stopB = nodeB.jobs.onDone((id, state) => atB.push([id, state]));
      await settled(nodeA);
      await settled(nodeB);
      const record = job('done once', { resultTtlMs: null });
      const { delivery, lease } = await running(nodeA, record);
      const first = result(record.id, { returnValue: { value: 1, at: new Date('2030-01-01T00:00:01Z') } });
      const committed = await nodeA.jobs.commit(lease, first, { resultTtlMs: null });
      expect(committed).toEqual({
        status: 'committed',
        state: { phase: 'done', job: recordKept(record), result: first, expiresAt: null, leaseId: lease.state.leaseId },
      });
      delivery.ack();
      const stored = await nodeB.jobs.get(record.id);
      expect(stored?.state).toEqual({ phase: 'done', job: recordKept(record), result: first, expiresAt: null, leaseId: lease.state.leaseId });
      expect(stored!.revision).toBe(lease.revision + 1); // one write after the acquire's create
      expect(await nodeB.jobs.result(record.id)).toEqual(first);
      expect(await nodeB.jobs.lookup(record.id)).toEqual({ ...stored, job: recordKept(record) });

      // The same lease again, with another result: refused, or recognised as the write already made
      // — and then answering with the stored result, never with the new one.
      const second = await nodeA.jobs.commit(lease, result(record.id, { returnValue: 'second' }), { resultTtlMs: null });
      if ('lost' in second) expect(second.lost).toBe(true);
      else expect(second.state.result).toEqual(first);
      expect(await nodeB.jobs.get(record.id)).toEqual(stored); // nothing written

      await until(async () => (atA.length > 0 && atB.length > 0 ? true : undefined), 3000);
      await sleep(200); // a later announcement would have arrived by now
      // Announcing the stored result again is allowed (a retry whose first answer was lost must);
      // announcing another one is not.
      for (const seen of [atA, atB]) {
        for (const [id, state] of seen) expect([id, state.result]).toEqual([record.id, first]);
      }
      const seenByB = atB.length;
      // A listener that left hears no more completions.
      stopB();
      const other = await running(nodeA, job('after stop'));
      await nodeA.jobs.commit(other.lease, result('after stop'), { resultTtlMs: null });
      await until(async () => (atA.some(([id]) => id === 'after stop') ? true : undefined), 3000);
      await sleep(100);
      expect(atB).toHaveLength(seenByB);
    });

    it('an expired result reads as null until the sweep deletes it; results without a TTL stay', async (ctx) => {
      const store = await open(ctx);
      const short = await running(store, job('short'));
      const kept = await running(store, job('kept', { resultTtlMs: null }));
      const before = Date.now();
      await store.jobs.commit(short.lease, result('short'), { resultTtlMs: 200 });
      await store.jobs.commit(kept.lease, result('kept'), { resultTtlMs: null });
      const shortState = (await store.jobs.get('short'))?.state as DoneJobState;
      expect(shortState.expiresAt!.getTime()).toBeGreaterThanOrEqual(before + 200);
      expect(await store.jobs.result('short')).toMatchObject({ jobId: 'short' });
      expect(await store.jobs.sweep()).toBe(0); // not yet
      await sleep(300);
      expect(await store.jobs.result('short')).toBeNull();
      expect((await store.jobs.get('short'))?.state.phase).toBe('done'); // still stored
      expect(await store.jobs.sweep()).toBe(1);
      expect(await store.jobs.get('short')).toBeNull();
      expect(await store.jobs.sweep()).toBe(0);
      expect(await store.jobs.result('kept')).toMatchObject({ jobId: 'kept' });
      expect((await store.jobs.states()).map((s) => [s.state.phase, (s.state as DoneJobState).result?.jobId])).toEqual([['done', 'kept']]);
    });
  });

  describe.concurrent('cancelling', () => {
    it('cancelQueued cancels a job known only by its message; its delivery then answers finished', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const record = job('queued only');
      await nodeA.jobs.add([record]);
      const at = new Date('2030-01-01T00:00:09Z');
      const seenBy: JobRecord[] = [];
      const outcome = await nodeB.jobs.cancelQueued(record.id, (j) => (seenBy.push(j), cancelled(at)(j)), (j) => j.resultTtlMs);
      expect(outcome).toBe('cancelled');
      expect(seenBy).toEqual([record]);
      expect(await nodeA.jobs.result(record.id)).toEqual({ jobId: record.id, outcome: 'cancelled', finishedAt: at, attempt: 1 });
      const done = (await nodeA.jobs.get(record.id))?.state as DoneJobState;
      expect(done).toMatchObject({ phase: 'done', job: recordKept(record) });
      expect(done.leaseId).toBeUndefined(); // written without a lease
      const delivery = await deliveryOf(nodeA, record.id);
      expect(await nodeA.jobs.acquire(delivery, delivery.job!, 'node-a')).toEqual({ status: 'finished' });
      delivery.ack();
      expect(await nodeB.jobs.cancelQueued(record.id, cancelled(at), () => null)).toBe('finished');
      expect(await nodeB.jobs.cancelQueued('never added', cancelled(at), () => null)).toBe('unknown');
    });

    it('cancelQueued cancels a requeued job at its next attempt, answers running for a running one', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const at = new Date('2030-01-01T00:00:09Z');
      const busy = await running(nodeA, job('busy'));
      expect(await nodeB.jobs.cancelQueued('busy', cancelled(at), () => null)).toBe('running');
      expect(await nodeB.jobs.get('busy')).toMatchObject({ state: busy.lease.state, revision: busy.lease.revision });
      busy.delivery.term(); // its message must not come back to the fetch below

      const record = job('backing off');
      const { delivery, lease } = await running(nodeA, record);
      await nodeA.jobs.requeue(lease, { ...record, attempt: 2, notBefore: new Date(Date.now() + 60_000) });
      delivery.nak(300);
      expect(await nodeB.jobs.cancelQueued(record.id, cancelled(at), (j) => j.resultTtlMs)).toBe('cancelled');
      expect(await nodeA.jobs.result(record.id)).toMatchObject({ outcome: 'cancelled', attempt: 2 });
      const done = (await nodeA.jobs.get(record.id))?.state as DoneJobState;
      expect(done.job).toMatchObject({ ...recordKept(record), attempt: 2 });
      expect(done.job).not.toHaveProperty('args');
      expect(done.expiresAt).toBeInstanceOf(Date); // the job's resultTtlMs
      // The requeuer cannot write over it, and the job's message finds it finished.
      expect(await nodeA.jobs.commit(lease, result(record.id), { resultTtlMs: null })).toMatchObject({ lost: true });
      const redelivered = await deliveryOf(nodeB, record.id);
      expect(await nodeB.jobs.acquire(redelivered, redelivered.job!, 'node-b')).toEqual({ status: 'finished' });
      redelivered.ack();
    });

    it('cancelAbandoned writes the cancelled result only at the revision seen before asking', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const record = job('maybe abandoned');
      const { lease } = await running(nodeA, record);
      const seen = (await nodeB.jobs.lookup(record.id))!;
      expect(seen.revision).toBe(lease.revision);
      const renewed = await nodeA.jobs.renew(lease); // the holder is alive after all
      if ('lost' in renewed) throw new Error('renewal refused');
      const at = new Date('2030-01-01T00:00:09Z');
      expect(await nodeB.jobs.cancelAbandoned(record.id, seen.revision, record, cancelled(at)(record), null)).toBe(false);
      expect((await nodeB.jobs.get(record.id))?.state).toMatchObject({ phase: 'running', leaseId: lease.state.leaseId });
      // Now it really stops writing: the cancel at the revision it left wins, and fences it.
      expect(await nodeB.jobs.cancelAbandoned(record.id, renewed.revision, record, cancelled(at)(record), null)).toBe(true);
      expect(await nodeB.jobs.result(record.id)).toMatchObject({ outcome: 'cancelled' });
      expect(await nodeA.jobs.commit(renewed, result(record.id), { resultTtlMs: null })).toMatchObject({ lost: true, reason: 'revision_moved' });
      expect(await nodeA.jobs.renew(renewed)).toMatchObject({ lost: true });
      expect(await nodeB.jobs.cancelAbandoned(record.id, renewed.revision, record, cancelled(at)(record), null)).toBe(false);
    });

    it('requestCancel reaches onCancelRequested on every node of the store, while it listens', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const atA: string[] = [];
      const atB: string[] = [];
      nodeA.jobs.onCancelRequested((id) => atA.push(id));
      const stopB = nodeB.jobs.onCancelRequested((id) => atB.push(id));
      await settled(nodeA);
      await settled(nodeB);
      nodeA.jobs.requestCancel('job x/ü.1');
      await until(async () => (atA.length > 0 && atB.length > 0 ? true : undefined), 3000);
      expect(atA).toEqual(['job x/ü.1']);
      expect(atB).toEqual(['job x/ü.1']);
      stopB();
      await settled(nodeB);
      nodeB.jobs.requestCancel('second');
      await until(async () => (atA.length > 1 ? true : undefined), 3000);
      await sleep(100);
      expect(atA).toEqual(['job x/ü.1', 'second']);
      expect(atB).toEqual(['job x/ü.1']);
    });
  });

  describe.concurrent('bad input', () => {
    it('a corrupt queue message is delivered with corrupt set and its job id; settle writes deserialization_failed once', async (ctx) => {
      const corrupt: CorruptRecordError[] = [];
      const store = await open(ctx, { ...opts, onCorrupt: (e) => corrupt.push(e) });
      const done: string[] = [];
      store.jobs.onDone((id, state) => done.push(`${id}:${state.result.outcome}`));
      await settled(store);
      // A record the codec refuses (createdAt is not a Date): queued as bytes, refused on delivery.
      await store.jobs.add([{ ...job('bad record'), createdAt: 'yesterday' as unknown as Date }]);
      const delivery = await deliveryOf(store, 'bad record');
      expect(delivery.job).toBeNull();
      expect(delivery.corrupt).toBeInstanceOf(CorruptRecordError);
      expect(delivery.corrupt).toMatchObject({ bucket: 'jobs', id: 'bad record' });
      expect(delivery.corrupt!.message).toMatch(/createdAt/);
      expect(corrupt).toEqual([delivery.corrupt]);

      const placeholder: JobRecord = { id: 'bad record', task: '?', args: null, createdAt: new Date(), attempt: 1, resultTtlMs: null };
      const failed: JobResult = { jobId: 'bad record', outcome: 'deserialization_failed', error: { name: 'DeserializationError', message: delivery.corrupt!.message }, finishedAt: new Date(), attempt: 1 };
      expect(await store.jobs.settle('bad record', placeholder, failed, { resultTtlMs: null })).toBe(true);
      delivery.ack();
      expect(await store.jobs.settle('bad record', placeholder, { ...failed, outcome: 'error' }, { resultTtlMs: null })).toBe(false);
      expect(await store.jobs.result('bad record')).toEqual(failed);
      await until(async () => (done.length > 0 ? true : undefined), 3000);
      await sleep(100);
      expect(done).toEqual(['bad record:deserialization_failed']);
      // settle never overwrites a job that has a state: a running one stays running.
      const other = await running(store, job('fine'));
      expect(await store.jobs.settle('fine', placeholder, failed, { resultTtlMs: null })).toBe(false);
      expect(await store.jobs.get('fine')).toMatchObject({ revision: other.lease.revision });
    });

    it('raw queue messages that are not a job record: delivered corrupt with the id of their subject', async (ctx) => {
      const corrupt: CorruptRecordError[] = [];
      const store = await open(ctx, { ...opts, onCorrupt: (e) => corrupt.push(e) });
      const outcomes = await store.queue.publish([
        { jobId: 'garbage', data: new TextEncoder().encode('{"json":"not msgpack"}') },
        { jobId: 'someone else', data: encodeRecord('job', job('the real id')) },
        { jobId: 'a schedule', data: encodeRecord('schedule', schedule('s')) },
      ]);
      expect(outcomes).toEqual(['queued', 'queued', 'queued']);
      const deliveries = await store.jobs.fetch(3);
      expect(deliveries.map((d) => [d.jobId, d.job, d.corrupt?.id])).toEqual([
        ['garbage', null, 'garbage'],
        ['someone else', null, 'someone else'],
        ['a schedule', null, 'a schedule'],
      ]);
      expect(deliveries[1]!.corrupt!.message).toMatch(/does not match/);
      expect(corrupt.map((e) => e.id)).toEqual(['garbage', 'someone else', 'a schedule']);
      // A corrupt queued message is still a queued job to lookup (its record unknown).
      expect(await store.jobs.lookup('garbage')).toEqual({ state: { phase: 'queued', task: '?', attempt: 1 }, revision: 0, job: null });
      for (const d of deliveries) d.term();
    });

    it('a job whose key holds an unreadable state is ended deserialization_failed by the acquirer, fenced on that state', async (ctx) => {
      const corrupt: CorruptRecordError[] = [];
      const store = await open(ctx, { ...opts, onCorrupt: (e) => corrupt.push(e) });
      const record = job('bad key', { resultTtlMs: null });
      const planted = await store.buckets.jobs.put(encodeKeyToken(record.id), new TextEncoder().encode('not a job state'));
      await expect(store.jobs.get(record.id)).rejects.toBeInstanceOf(CorruptRecordError);
      expect(await store.jobs.states()).toEqual([]); // skipped in listings, reported
      await store.jobs.add([record]);
      const delivery = await deliveryOf(store, record.id);
      const outcome = await store.jobs.acquire(delivery, delivery.job!, 'node-a');
      expect(outcome).toMatchObject({ status: 'corrupt', error: { bucket: 'jobs', id: record.id, revision: planted } });
      delivery.ack();
      const ended = await store.jobs.get(record.id);
      expect(ended?.revision).toBe(planted + 1);
      expect(ended?.state).toMatchObject({ phase: 'done', job: recordKept(record), result: { outcome: 'deserialization_failed', attempt: 1, nodeId: 'node-a' } });
      expect(corrupt.length).toBeGreaterThanOrEqual(2);
      expect(corrupt.every((e) => e.id === record.id)).toBe(true);
      // Another message of the job finds it finished.
      expect(await store.jobs.acquire({ ...delivery, deliveryCount: 2 }, record, 'node-b')).toEqual({ status: 'finished' });
    });

    it('a record or result over the payload limit gets RecordTooLargeError and nothing is written', async (ctx) => {
      const store = await open(ctx);
      const big = 'x'.repeat(1024 * 1024 + 1);
      await expect(store.jobs.add([job('too big', { args: big })])).rejects.toBeInstanceOf(RecordTooLargeError);
      expect(await store.jobs.queueDepth()).toBe(0);
      const { lease } = await running(store, job('big result'));
      await expect(store.jobs.commit(lease, result('big result', { returnValue: big }), { resultTtlMs: null })).rejects.toBeInstanceOf(
        RecordTooLargeError,
      );
      // Nothing was written: the lease is where it was and a storable result still commits.
      expect(await store.jobs.get('big result')).toMatchObject({ revision: lease.revision });
      expect(await store.jobs.commit(lease, result('big result', { outcome: 'error' }), { resultTtlMs: null })).toMatchObject({ status: 'committed' });
    });

    it('a closed store refuses job calls with StoreClosedError; its one-way sends stay quiet', async (ctx) => {
      const store = await open(ctx);
      const { delivery, lease } = await running(store, job('left behind'));
      await store.close();
      await expect(store.jobs.add([job('late')])).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.jobs.fetch(1)).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.jobs.get('left behind')).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.jobs.lookup('left behind')).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.jobs.queueDepth()).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.jobs.renew(lease)).rejects.toBeInstanceOf(StoreClosedError);
      expect(() => {
        delivery.ack();
        store.jobs.requestCancel('left behind');
      }).not.toThrow();
    });
  });
});
