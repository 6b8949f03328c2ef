/**
 * Store conformance: the job queue (a work queue with one shared consumer, the record in the
 * message, deduplicated by job id) as the runtime sees it through `backend.jobs`: add, fetch,
 * queueDepth, lookup (peek) and the one-way ack / nak / working / term of a delivery.
 */
import { describe, expect, it } from 'vitest';
import { sleep, until } from '../support/backend-fixtures.js';
import { conformance, job } from './conformance.js';

conformance('job queue', ({ open, openPair }) => {
  describe.concurrent('job queue', () => {
    it('add queues a record once per duplicate window; fetch delivers the record; lookup and depth see queued jobs', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const a = job('job a', { args: { n: 1, at: new Date('2030-01-02T03:04:05.678Z') } });
      const b = job('job-b', { scheduleId: 's', scheduledFireTime: new Date('2030-01-01T08:00:00Z') });
      expect(await nodeA.jobs.add([a, b])).toEqual(['queued', 'queued']);
      // The same id again, from another node and with another record: dropped, whatever it carries.
      expect(await nodeB.jobs.add([job('job a', { attempt: 9 })])).toEqual(['duplicate']);
      expect(await nodeB.jobs.queueDepth()).toBe(2);
      expect(await nodeB.jobs.lookup('job a')).toEqual({ state: { phase: 'queued', task: a.task, attempt: 1 }, revision: 0, job: a });
      expect(await nodeB.jobs.lookup('nobody')).toBeNull();

      const batch = await nodeB.jobs.fetch(10);
      expect(batch.map((d) => [d.jobId, d.deliveryCount, d.corrupt])).toEqual([
        ['job a', 1, null],
        ['job-b', 1, null],
      ]);
      expect(batch[0]!.job).toEqual(a); // Dates survive the trip
      expect(batch[1]!.job).toEqual(b);
      expect(batch[0]!.seq).not.toBe(batch[1]!.seq);
      expect(await nodeA.jobs.fetch(10)).toEqual([]); // the duplicate was never queued
      // Delivered but unacked: still in the queue, still found by id.
      expect(await nodeA.jobs.queueDepth()).toBe(2);
      expect((await nodeA.jobs.lookup('job-b'))?.job).toEqual(b);

      for (const d of batch) d.ack();
      await until(async () => ((await nodeA.jobs.queueDepth()) === 0 ? true : undefined), 3000);
      expect(await nodeA.jobs.lookup('job a')).toBeNull();
      // Dedup is by id within the window, not by presence: an acked id is still a duplicate.
      expect(await nodeA.jobs.add([a])).toEqual(['duplicate']);
    });

    it('batches never exceed max and every job is delivered once', async (ctx) => {
      const store = await open(ctx);
      const ids = Array.from({ length: 7 }, (_, i) => `job-${i}`);
      expect(await store.jobs.add(ids.map((id) => job(id)))).toEqual(ids.map(() => 'queued'));
      const seen: string[] = [];
      for (;;) {
        const batch = await store.jobs.fetch(3);
        expect(batch.length).toBeLessThanOrEqual(3);
        if (batch.length === 0) break;
        expect(batch.every((d) => d.deliveryCount === 1)).toBe(true);
        seen.push(...batch.map((d) => d.jobId));
        for (const d of batch) d.ack();
      }
      expect(seen.sort()).toEqual(ids);
      await expect(store.jobs.fetch(0)).rejects.toBeInstanceOf(RangeError);
    });

    it('ack removes a job for good; an unacked one comes back after the ack wait', async (ctx) => {
      const store = await open(ctx);
      await store.jobs.add([job('acked'), job('dropped')]);
      const first = await store.jobs.fetch(5);
      expect(first.map((d) => d.jobId).sort()).toEqual(['acked', 'dropped']);
      first.find((d) => d.jobId === 'acked')!.ack();
      expect(await store.jobs.fetch(5)).toEqual([]);
      const again = await store.jobs.fetch(5, { expiresMs: 3000 });
      expect(again.map((d) => [d.jobId, d.deliveryCount])).toEqual([['dropped', 2]]);
      expect(again[0]!.seq).toBe(first.find((d) => d.jobId === 'dropped')!.seq); // the same message
      again[0]!.ack();
      await sleep(1300);
      expect(await store.jobs.fetch(5)).toEqual([]);
    });

    it('nak with a delay redelivers later, not before; term removes a job without redelivery', async (ctx) => {
      const store = await open(ctx);
      await store.jobs.add([job('retry-me'), job('poison')]);
      const [d, poison] = await store.jobs.fetch(2);
      poison!.term();
      const nakAt = Date.now();
      d!.nak(500);
      expect(await store.jobs.fetch(2)).toEqual([]);
      const [again] = await store.jobs.fetch(2, { expiresMs: 3000 });
      expect(Date.now() - nakAt).toBeGreaterThanOrEqual(400);
      expect(again).toMatchObject({ jobId: 'retry-me', deliveryCount: 2 });
      again!.ack();
      await sleep(1300); // past the ack wait: the termed one does not come back
      expect(await store.jobs.fetch(2)).toEqual([]);
      await until(async () => ((await store.jobs.queueDepth()) === 0 ? true : undefined), 3000);
    });

    it('working() holds a job past its ack wait', async (ctx) => {
      const store = await open(ctx);
      await store.jobs.add([job('long')]);
      const [d] = await store.jobs.fetch(1);
      for (let i = 0; i < 5; i++) {
        await sleep(300);
        d!.working();
      }
      expect(await store.jobs.fetch(1)).toEqual([]); // 1.5 s > ack wait, still held
      const [again] = await store.jobs.fetch(1, { expiresMs: 3000 });
      expect(again).toMatchObject({ jobId: 'long', deliveryCount: 2 });
    });

    it('a superseded delivery\'s ack still acks: acks are no fence', async (ctx) => {
      const store = await open(ctx);
      await store.jobs.add([job('twice')]);
      const [first] = await store.jobs.fetch(1);
      const [second] = await store.jobs.fetch(1, { expiresMs: 3000 }); // after the ack wait
      expect(second).toMatchObject({ jobId: 'twice', deliveryCount: 2, seq: first!.seq });
      first!.ack(); // the server acks by stream sequence
      await until(async () => ((await store.jobs.queueDepth()) === 0 ? true : undefined), 3000);
      expect(await store.jobs.fetch(1, { expiresMs: 1500 })).toEqual([]);
    });

    // Pinned on nats-server 2.9.10 (the server settles nak and +WPI by stream sequence too, within
    // the consumer's pending range); the memory queue must behave the same.
    it('a superseded delivery\'s nak and working still act on the message, as on nats-server 2.9.10', async (ctx) => {
      const store = await open(ctx);
      await store.jobs.add([job('twice')]);
      const [first] = await store.jobs.fetch(1);
      const [second] = await store.jobs.fetch(1, { expiresMs: 3000 }); // after the ack wait
      expect(second).toMatchObject({ deliveryCount: 2, seq: first!.seq });
      first!.nak(); // makes it deliverable again at once, although `second` holds it
      const [third] = await store.jobs.fetch(1, { expiresMs: 500 });
      expect(third).toMatchObject({ jobId: 'twice', deliveryCount: 3 });
      const thirdAt = Date.now();
      await sleep(600);
      second!.working(); // superseded by `third`, still restarts the ack wait
      const [fourth] = await store.jobs.fetch(1, { expiresMs: 3000 });
      expect(fourth).toMatchObject({ jobId: 'twice', deliveryCount: 4 });
      expect(Date.now() - thirdAt).toBeGreaterThanOrEqual(1400); // 600 + ack wait, not the ack wait alone
      fourth!.ack();
    });

    it('a job fetched by a worker that vanished is redelivered to another after the ack wait', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      await nodeA.jobs.add([job('orphan')]);
      const [taken] = await nodeA.jobs.fetch(4);
      expect(taken?.jobId).toBe('orphan');
      const vanishedAt = Date.now();
      await nodeA.close(); // never acks
      taken!.ack(); // a closed node can no longer settle (and does not throw)
      expect(await nodeB.jobs.fetch(4)).toEqual([]);
      const [redelivered] = await nodeB.jobs.fetch(4, { expiresMs: 4000 });
      expect(redelivered).toMatchObject({ jobId: 'orphan', deliveryCount: 2 });
      expect(Date.now() - vanishedAt).toBeGreaterThanOrEqual(500);
      redelivered!.ack();
    });

    it('a waiting fetch returns as soon as a job is added, and an abort ends it empty', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const started = Date.now();
      const waiting = nodeB.jobs.fetch(5, { expiresMs: 5000 });
      await sleep(100);
      await nodeA.jobs.add([job('wake-up')]);
      const got = await waiting;
      expect(got.map((d) => d.jobId)).toEqual(['wake-up']);
      expect(Date.now() - started).toBeLessThan(2000);
      const aborted = new AbortController();
      const pending = nodeB.jobs.fetch(1, { expiresMs: 5000, signal: aborted.signal });
      await sleep(50);
      aborted.abort();
      expect(await pending).toEqual([]);
      expect(Date.now() - started).toBeLessThan(4000);
      // A job added after the abort is not lost to the abandoned wait.
      await nodeA.jobs.add([job('after-abort')]);
      const [late] = await nodeA.jobs.fetch(1, { expiresMs: 3000 });
      expect(late?.jobId).toBe('after-abort');
    });
  });
});
