/** Store conformance: dispatch (work queue with one shared consumer). */
import { describe, expect, it } from 'vitest';
import { sleep, until } from '../support/backend-fixtures.js';
import { conformance } from './conformance.js';

conformance('dispatch', ({ open, openPair }) => {
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
});
