/**
 * Store conformance: listing jobs for tools (`JobStore.list`, behind `rt.listJobs`) — queued jobs
 * from the queue's messages, running and done ones from their keys, newest first, filters, cursor
 * pages — and the raw queue's `messages`.
 */
import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../../src/records.js';
import { encodeKeyToken } from '../../../src/store/store-keys.js';
import { until } from '../support/backend-fixtures.js';
import { bytes, conformance, job, recordKept, result, running } from './conformance.js';

const at = (second: number): Date => new Date(Date.UTC(2030, 0, 1, 0, 0, second));

conformance('job store: listing', ({ open }) => {
  describe.concurrent('listing', () => {
    it('lists queued, running and done jobs newest first, filtered and in cursor pages', async (ctx) => {
      const store = await open(ctx);
      const records: Record<string, JobRecord> = {
        r: job('r', { createdAt: at(3), task: 'other' }),
        d: job('d', { createdAt: at(4) }),
        e: job('e', { createdAt: at(5) }),
        q1: job('q1', { createdAt: at(1) }),
        q2: job('q2', { createdAt: at(2), scheduleId: 's', scheduledFireTime: at(0) }),
        c: job('c', { createdAt: at(6) }),
      };
      const r = await running(store, records['r']!);
      const d = await running(store, records['d']!);
      await store.jobs.commit(d.lease, result('d'), { resultTtlMs: null });
      d.delivery.ack();
      const e = await running(store, records['e']!);
      await store.jobs.commit(e.lease, result('e', { outcome: 'error' }), { resultTtlMs: null });
      e.delivery.ack();
      await store.jobs.add([records['q1']!, records['q2']!, records['c']!]);
      const cancelledAt = at(7);
      expect(await store.jobs.cancelQueued('c', (j) => ({ jobId: j.id, outcome: 'cancelled', finishedAt: cancelledAt, attempt: 1 }), () => null)).toBe('cancelled');
      await store.buckets.jobs.put(encodeKeyToken('bad'), bytes('not a job state')); // skipped

      const ids = async (query: Parameters<typeof store.jobs.list>[0] = {}): Promise<string[]> => (await store.jobs.list(query)).jobs.map((l) => l.jobId);
      expect(await ids()).toEqual(['c', 'e', 'd', 'r', 'q2', 'q1']);
      const { jobs } = await store.jobs.list();
      const byId = new Map(jobs.map((l) => [l.jobId, l]));
      expect(byId.get('q1')).toEqual({ jobId: 'q1', state: { phase: 'queued', task: 'send-mail', attempt: 1 }, job: records['q1'] });
      expect(byId.get('r')).toEqual({ jobId: 'r', state: r.lease.state, job: records['r'] });
      expect(byId.get('d')?.state).toMatchObject({ phase: 'done', result: { outcome: 'success' } });
      expect(byId.get('d')?.job).toEqual(recordKept(records['d']!));
      expect(byId.get('c')?.state).toMatchObject({ phase: 'done', result: { outcome: 'cancelled' } });

      expect(await ids({ state: 'queued' })).toEqual(['q2', 'q1']);
      expect(await ids({ state: 'running' })).toEqual(['r']);
      expect(await ids({ state: 'done' })).toEqual(['c', 'e', 'd']);
      expect(await ids({ state: 'error' })).toEqual(['e']);
      expect(await ids({ state: 'cancelled' })).toEqual(['c']);
      expect(await ids({ task: 'other' })).toEqual(['r']);
      expect(await ids({ scheduleId: 's' })).toEqual(['q2']);
      expect(await ids({ state: 'done', task: 'other' })).toEqual([]);

      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const page = await store.jobs.list({ limit: 2, cursor });
        pages.push(page.jobs.map((l) => l.jobId));
        cursor = page.nextCursor;
      } while (cursor !== null && pages.length < 10);
      expect(pages).toEqual([
        ['c', 'e'],
        ['d', 'r'],
        ['q2', 'q1'],
      ]);
      expect((await store.jobs.list({ limit: 6 })).nextCursor).toBeNull();
    });

    it('the raw queue lists its messages oldest first, up to a limit', async (ctx) => {
      const store = await open(ctx);
      await store.jobs.add(['m1', 'm2', 'm3', 'm4'].map((id) => job(id)));
      const [first] = await store.jobs.fetch(1);
      first!.ack();
      await until(async () => ((await store.queue.depth()) === 3 ? true : undefined), 3000);
      const messages = await store.queue.messages(10);
      expect(messages.map((m) => m.jobId)).toEqual(['m2', 'm3', 'm4']);
      expect(messages.map((m) => m.seq)).toEqual([...messages.map((m) => m.seq)].sort((a, b) => a - b));
      expect((await store.queue.messages(2)).map((m) => m.jobId)).toEqual(['m2', 'm3']);
      expect(await store.queue.peek('m3')).toEqual({ data: messages[1]!.data, seq: messages[1]!.seq });
    });
  });
});
