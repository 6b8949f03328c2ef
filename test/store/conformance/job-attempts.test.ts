/**
 * Store conformance: a job's attempt history on its key — a requeue appends the attempt that ended,
 * the next acquisition carries the history into the running state, renewals write the latest
 * progress, the commit keeps the history beside the result with the final attempt's log lines and
 * progress, a takeover records the vanished holder's attempt as abandoned, a cancel keeps the
 * history, and listings and lookups return it. Nothing is written for a job that has none.
 */
import { describe, expect, it } from 'vitest';
import type { JobAttempt } from '../../../src/records.js';
import type { AcquireOutcome } from '../../../src/store/job-store.js';
import type { StoreBackend } from '../../../src/store/store-backend.js';
import { conformance, job, L, result, running } from './conformance.js';

const at = (ms: number): Date => new Date(Date.UTC(2030, 0, 1) + ms);

/** Fetches the job on `store` and acquires it for `nodeId`, nak'ing while it is held elsewhere. */
async function acquireNext(store: StoreBackend, jobId: string, nodeId: string, timeoutMs = 4 * L): Promise<Extract<AcquireOutcome, { status: 'acquired' }> & { ack(): void }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [delivery] = await store.jobs.fetch(1, { expiresMs: 500 });
    if (!delivery) continue;
    expect(delivery.jobId).toBe(jobId);
    const answer = await store.jobs.acquire(delivery, delivery.job!, nodeId);
    if (answer.status === 'acquired') return { ...answer, ack: () => delivery.ack() };
    if (answer.status !== 'later') throw new Error(`unexpected answer ${answer.status}`);
    delivery.nak(answer.retryInMs);
  }
  throw new Error(`job ${jobId} not acquired by ${nodeId} within ${timeoutMs} ms`);
}

const failedAttempt = (extra: Partial<JobAttempt> = {}): JobAttempt => ({
  attempt: 1,
  nodeId: 'node-a',
  startedAt: at(0),
  endedAt: at(100),
  outcome: 'error',
  error: { name: 'Error', message: 'upstream hiccup', stack: 'Error: upstream hiccup\n    at task' },
  logs: [{ at: at(50), message: 'calling upstream' }],
  progress: 0.5,
  nextAttemptAt: at(300),
  ...extra,
});

conformance('job store: attempt history', ({ open, openPair }) => {
  describe.concurrent('attempts', () => {
    it('a requeue appends the ended attempt, the next holder carries it, renewals write progress, the commit keeps history, logs and progress', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const record = job('history', { resultTtlMs: null });
      const first = await running(nodeA, record, 'node-a');
      const ended = failedAttempt();
      expect(await nodeA.jobs.requeue(first.lease, { ...record, attempt: 2 }, ended)).toEqual({ status: 'requeued' });
      expect((await nodeB.jobs.get(record.id))?.state).toEqual({ phase: 'queued', task: record.task, attempt: 2, leaseId: first.lease.state.leaseId, attempts: [ended] });
      first.delivery.nak();

      const second = await acquireNext(nodeB, record.id, 'node-b');
      expect(second.lease.state).toMatchObject({ phase: 'running', attempt: 2, nodeId: 'node-b', attempts: [ended] });
      expect(second.lease.state.progress).toBeUndefined();
      const renewed = await nodeB.jobs.renew(second.lease, { progress: { done: 3, of: 4 } });
      if ('lost' in renewed) throw new Error('renewal refused');
      expect((await nodeA.jobs.get(record.id))?.state).toMatchObject({ phase: 'running', progress: { done: 3, of: 4 }, attempts: [ended] });
      // The next renewal without a value keeps the last one (it rewrites the state it holds).
      const again = await nodeB.jobs.renew(renewed);
      if ('lost' in again) throw new Error('renewal refused');
      expect(again.state.progress).toEqual({ done: 3, of: 4 });

      const logs = [{ at: at(400), message: 'second try' }];
      const committed = await nodeB.jobs.commit(again, result(record.id, { attempt: 2, nodeId: 'node-b' }), { resultTtlMs: null, logs, logsDropped: 2 });
      expect(committed).toMatchObject({ status: 'committed', state: { phase: 'done', attempts: [ended], logs, logsDropped: 2, progress: { done: 3, of: 4 } } });
      second.ack();
      const stored = await nodeA.jobs.lookup(record.id);
      expect(stored?.state).toMatchObject({ phase: 'done', result: { attempt: 2 }, attempts: [ended], logs, logsDropped: 2, progress: { done: 3, of: 4 } });
      const listed = (await nodeA.jobs.list()).jobs.find((l) => l.jobId === record.id);
      expect(listed?.state).toEqual(stored?.state);
    });

    it('a takeover records the vanished holder\'s attempt as abandoned: its node, start, last renewal and progress', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const record = job('abandoned');
      const { delivery, lease } = await running(nodeA, record, 'node-a');
      const renewed = await nodeA.jobs.renew(lease, { progress: 'half way' });
      if ('lost' in renewed) throw new Error('renewal refused');
      delivery.nak(); // node A vanishes: no more renewals
      const taken = await acquireNext(nodeB, record.id, 'node-b');
      expect(taken.previousAttemptAbandoned).toBe(true);
      expect(taken.lease.state.attempts).toEqual([
        { attempt: 1, nodeId: 'node-a', startedAt: lease.state.startedAt, endedAt: renewed.state.renewedAt, outcome: 'abandoned', progress: 'half way' },
      ]);
      expect(taken.lease.state.progress).toBeUndefined(); // the new attempt starts without one
      taken.ack();
    });

    it('a first attempt that succeeds writes no history; a cancelled requeued job keeps its history', async (ctx) => {
      const store = await open(ctx);
      const plain = job('plain', { resultTtlMs: null });
      const { delivery, lease } = await running(store, plain);
      const done = await store.jobs.commit(lease, result(plain.id), { resultTtlMs: null });
      if ('lost' in done) throw new Error('commit refused');
      expect(Object.keys(done.state).sort()).toEqual(['expiresAt', 'job', 'leaseId', 'phase', 'result']);
      delivery.ack();

      const retried = job('cancelled later', { resultTtlMs: null });
      const run = await running(store, retried);
      const { logs: _logs, progress: _progress, ...ended } = failedAttempt();
      await store.jobs.requeue(run.lease, { ...retried, attempt: 2, notBefore: new Date(Date.now() + 60_000) }, ended);
      run.delivery.nak(60_000);
      expect(await store.jobs.cancelQueued(retried.id, (j) => ({ jobId: j.id, outcome: 'cancelled', finishedAt: at(1), attempt: j.attempt }), () => null)).toBe('cancelled');
      expect((await store.jobs.get(retried.id))?.state).toMatchObject({ phase: 'done', result: { outcome: 'cancelled', attempt: 2 }, attempts: [ended] });
    });

    it("lists state 'failed': every outcome but success and cancelled", async (ctx) => {
      const store = await open(ctx);
      const outcomes = ['success', 'error', 'timeout', 'cancelled', 'abandoned'] as const;
      for (const [i, outcome] of outcomes.entries()) {
        const record = job(`f-${outcome}`, { createdAt: at(i * 1000), resultTtlMs: null });
        const { delivery, lease } = await running(store, record);
        await store.jobs.commit(lease, result(record.id, { outcome }), { resultTtlMs: null });
        delivery.ack();
      }
      expect((await store.jobs.list({ state: 'failed' })).jobs.map((l) => l.jobId)).toEqual(['f-abandoned', 'f-timeout', 'f-error']);
    });
  });
});
