/**
 * Store conformance: the JobStore's hold on a job — one KV key per job (queued / running / done),
 * every change a revision-checked write. Acquiring, the lease-duration rule for takeovers, G1
 * fencing of a superseded holder, duplicate messages, and requeue with a backoff.
 */
import { InterestTracker } from '../../../src/store/interest.js';
import { describe, expect, it } from 'vitest';
import type { JobDelivery } from '../../../src/store/job-delivery.js';
import { JobStore, type AcquireOutcome } from '../../../src/store/job-store.js';
import type { JobQueue } from '../../../src/store/job-queue.js';
import type { LeaseLost } from '../../../src/store/lease.js';
import type { SignalTransport } from '../../../src/store/signals.js';
import type { StoreBackend } from '../../../src/store/store-backend.js';
import { sleep, until } from '../support/backend-fixtures.js';
import { countingBucket } from '../support/bucket-wrappers.js';
import { conformance, deliveryOf, job, L, opts, result, running } from './conformance.js';

/** A queue and signal transport for a JobStore that only acquires (neither may be touched). */
const noQueue = new Proxy({}, { get: () => () => Promise.reject(new Error('the queue must not be used here')) }) as JobQueue;
const noSignals: SignalTransport = { send: () => undefined, listen: () => () => undefined };
const isLost = (answer: object): answer is LeaseLost => 'lost' in answer;

/**
 * Fetches on `store` and tries to acquire what comes for `nodeId`, nak'ing with the answer's delay,
 * until it acquires; returns every answer seen and the delivery it acquired with.
 */
async function acquireWhenFree(store: StoreBackend, jobId: string, nodeId: string, timeoutMs: number) {
  const answers: AcquireOutcome[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [delivery] = await store.jobs.fetch(1, { expiresMs: 1000 });
    if (!delivery) continue;
    expect(delivery.jobId).toBe(jobId);
    const answer = await store.jobs.acquire(delivery, delivery.job!, nodeId);
    answers.push(answer);
    if (answer.status === 'acquired') return { answers, delivery, acquired: answer, at: Date.now() };
    if (answer.status !== 'later') throw new Error(`unexpected answer ${answer.status}`);
    delivery.nak(answer.retryInMs);
  }
  throw new Error(`job ${jobId} not acquired by ${nodeId} within ${timeoutMs} ms; answers: ${JSON.stringify(answers)}`);
}

conformance('job store: acquiring and fencing', ({ open, openPair }) => {
  describe.concurrent('acquire', () => {
    it('a first delivery is acquired with ONE write (a create) and no read', async (ctx) => {
      const store = await open(ctx);
      const record = job('one write', { args: [1, 2, 3] });
      await store.jobs.add([record]);
      const delivery = await deliveryOf(store, record.id);
      const kv = countingBucket(store.buckets.jobs);
      const jobs = new JobStore(kv, noQueue, noSignals, store.clock, L, () => undefined, new InterestTracker(noSignals, () => Date.now(), []));
      const probe = await store.buckets.jobs.put('probe', new Uint8Array([1]));
      const before = Date.now();
      const outcome = await jobs.acquire(delivery, delivery.job!, 'node-a');
      expect(kv.calls).toEqual(['create']);
      expect(outcome).toMatchObject({ status: 'acquired', job: record, previousAttemptAbandoned: false });
      if (outcome.status !== 'acquired') return;
      const { lease } = outcome;
      expect(lease.revision).toBe(probe + 1); // nothing else was written in between
      expect(lease).toMatchObject({ jobId: record.id, job: record });
      expect(lease.sentAt).toBeGreaterThanOrEqual(before);
      expect(lease.state).toMatchObject({ phase: 'running', task: record.task, attempt: 1, nodeId: 'node-a', seq: delivery.seq });
      expect(await store.jobs.get(record.id)).toEqual({ state: lease.state, revision: lease.revision });
      // While it runs, lookup finds the running state and the record from its (unacked) message.
      expect(await store.jobs.lookup(record.id)).toEqual({ state: lease.state, revision: lease.revision, job: record });
    });

    it('a redelivery while the holder renews answers later/held; after a lease duration without renewal another node takes over and the old holder is fenced (G1)', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const record = job('taken over');
      const { delivery, lease } = await running(nodeA, record, 'node-a');
      const renewed = await nodeA.jobs.renew(lease);
      if (isLost(renewed)) throw new Error('renewal refused');
      expect(renewed.revision).toBeGreaterThan(lease.revision);
      expect(renewed.state.renewedAt.getTime()).toBeGreaterThanOrEqual(lease.state.renewedAt.getTime());
      // The queue gives the job to someone else (node A's working() got lost, say) while A still renews.
      delivery.nak();
      const again = await deliveryOf(nodeB, record.id);
      expect(again.deliveryCount).toBe(2);
      const held = await nodeB.jobs.acquire(again, again.job!, 'node-b');
      expect(held).toMatchObject({ status: 'later', reason: 'held' });
      if (held.status !== 'later') return;
      expect(held.retryInMs).toBeGreaterThan(0);
      expect(held.retryInMs).toBeLessThanOrEqual(L);
      again.nak(held.retryInMs);

      // A stops renewing: B takes over once the running state is a lease duration old.
      const takeover = await acquireWhenFree(nodeB, record.id, 'node-b', 4 * L);
      expect(takeover.answers.slice(0, -1).every((a) => a.status === 'later' && a.reason === 'held')).toBe(true);
      const taken = takeover.acquired;
      if (taken.status !== 'acquired') return;
      expect(taken.lease.sentAt - renewed.sentAt).toBeGreaterThanOrEqual(L); // the taker's write left a lease duration after the last renewal
      expect(taken.previousAttemptAbandoned).toBe(true);
      expect(taken.job).toEqual(record);
      expect(taken.lease.revision).toBeGreaterThan(renewed.revision);
      expect(taken.lease.state).toMatchObject({ nodeId: 'node-b', attempt: 1, seq: delivery.seq });

      // Node A comes back: every write it makes with its old lease is refused.
      expect(await nodeA.jobs.renew(renewed)).toMatchObject({ lost: true, reason: 'expired_and_taken', holder: 'node-b', revision: renewed.revision });
      expect(await nodeA.jobs.commit(renewed, result(record.id, { returnValue: 'stale' }), { resultTtlMs: null })).toMatchObject({
        lost: true,
        reason: 'expired_and_taken',
        holder: 'node-b',
      });
      expect(await nodeA.jobs.requeue(renewed, { ...record, attempt: 2 })).toMatchObject({ lost: true, reason: 'expired_and_taken' });
      expect(await nodeA.jobs.get(record.id)).toEqual({ state: taken.lease.state, revision: taken.lease.revision });
      expect(await nodeA.jobs.result(record.id)).toBeNull();

      // B's commit is the one result; A's late commit still finds nothing to write.
      const committed = await nodeB.jobs.commit(taken.lease, result(record.id, { returnValue: 'fresh', nodeId: 'node-b' }), { resultTtlMs: null });
      expect(committed).toMatchObject({ status: 'committed' });
      takeover.delivery.ack();
      expect(await nodeA.jobs.commit(renewed, result(record.id, { returnValue: 'stale' }), { resultTtlMs: null })).toMatchObject({
        lost: true,
        reason: 'revision_moved',
      });
      expect((await nodeA.jobs.result(record.id))?.returnValue).toBe('fresh');
    });

    it('the holder\'s own renewals keep a redelivered job from being taken over', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const record = job('kept');
      const { delivery, lease } = await running(nodeA, record, 'node-a');
      let current = lease;
      const renewals = setInterval(() => {
        void nodeA.jobs.renew(current).then((r) => {
          if (!isLost(r)) current = r;
        });
      }, L / 4);
      try {
        delivery.nak(); // redelivered at once, again and again
        const started = Date.now();
        while (Date.now() - started < 2.5 * L) {
          const [d] = await nodeB.jobs.fetch(1, { expiresMs: 500 });
          if (!d) continue;
          expect(await nodeB.jobs.acquire(d, d.job!, 'node-b')).toMatchObject({ status: 'later', reason: 'held' });
          d.nak(100);
        }
      } finally {
        clearInterval(renewals);
      }
      await sleep(50); // the last renewal in flight
      expect((await nodeA.jobs.get(record.id))?.state).toMatchObject({ phase: 'running', nodeId: 'node-a', leaseId: lease.state.leaseId });
      expect(await nodeA.jobs.commit(current, result(record.id), { resultTtlMs: null })).toMatchObject({ status: 'committed' });
    });

    it('a duplicate message (another seq) answers duplicate while the job runs and finished once it is done', async (ctx) => {
      // A long ack wait: the first message must stay with its holder while the window passes.
      const window = { ...opts, duplicateWindowMs: 1000, ackWaitMs: 20_000 };
      const [nodeA, nodeB] = await openPair(ctx, window);
      const record = job('published twice');
      const { delivery, lease } = await running(nodeA, record, 'node-a');
      // Past the queue's duplicate window the same id is queued again as another message.
      await until(async () => ((await nodeB.jobs.add([record]))[0] === 'queued' ? true : undefined), 5000, 200);
      const twin = await deliveryOf(nodeB, record.id);
      expect(twin.seq).not.toBe(delivery.seq);
      expect(twin.deliveryCount).toBe(1);
      expect(await nodeB.jobs.acquire(twin, twin.job!, 'node-b')).toEqual({ status: 'duplicate' });
      expect((await nodeB.jobs.get(record.id))?.state).toMatchObject({ nodeId: 'node-a', seq: delivery.seq }); // untouched
      twin.nak();
      expect(await nodeA.jobs.commit(lease, result(record.id), { resultTtlMs: null })).toMatchObject({ status: 'committed' });
      delivery.ack();
      const twinAgain = await deliveryOf(nodeB, record.id);
      expect(twinAgain.seq).toBe(twin.seq);
      expect(await nodeB.jobs.acquire(twinAgain, twinAgain.job!, 'node-b')).toEqual({ status: 'finished' });
      twinAgain.ack();
      // Any delivery of a finished job answers finished, its own message's included.
      const own: JobDelivery = { ...delivery, deliveryCount: 2 };
      expect(await nodeB.jobs.acquire(own, record, 'node-b')).toEqual({ status: 'finished' });
    });

    it('a write at a stale revision of the holder\'s own lease says revision_moved (nobody took it)', async (ctx) => {
      // LeaseLostReason: revision_moved = still ours by name, written at another revision;
      // expired_and_taken = another acquisition holds the key now.
      const store = await open(ctx);
      const record = job('moved under me');
      const { lease } = await running(store, record, 'node-a');
      const renewed = await store.jobs.renew(lease);
      if (isLost(renewed)) throw new Error('renewal refused');
      // A renewal at the old revision of the same lease is taken for an earlier renewal of it whose
      // answer was lost (the key still holds this lease): it answers with the revision on the key.
      expect(await store.jobs.renew(lease)).toMatchObject({ revision: renewed.revision, state: { leaseId: lease.state.leaseId } });
      expect(await store.jobs.commit(lease, result(record.id), { resultTtlMs: null })).toMatchObject({ lost: true, reason: 'revision_moved' });
      expect(await store.jobs.commit(renewed, result(record.id), { resultTtlMs: null })).toMatchObject({ status: 'committed' });
    });
  });

  describe.concurrent('requeue', () => {
    it('writes queued with the next attempt and notBefore; the job is acquired again only after notBefore', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const record = job('retried', { resultTtlMs: null });
      const { delivery, lease } = await running(nodeA, record, 'node-a');
      const notBefore = new Date(Date.now() + 600);
      expect(await nodeA.jobs.requeue(lease, { ...record, attempt: 2, notBefore })).toEqual({ status: 'requeued' });
      const stored = await nodeB.jobs.get(record.id);
      expect(stored?.state).toEqual({ phase: 'queued', task: record.task, attempt: 2, notBefore, leaseId: lease.state.leaseId });
      expect(stored!.revision).toBeGreaterThan(lease.revision);
      expect((await nodeB.jobs.lookup(record.id))?.job).toMatchObject({ id: record.id, attempt: 2 });
      // The requeuer no longer holds it.
      expect(isLost(await nodeA.jobs.renew(lease))).toBe(true);

      delivery.nak(); // deliverable at once: too early for the backoff
      const early = await deliveryOf(nodeB, record.id);
      const notYet = await nodeB.jobs.acquire(early, early.job!, 'node-b');
      expect(notYet).toMatchObject({ status: 'later', reason: 'not_yet' });
      if (notYet.status !== 'later') return;
      expect(notYet.retryInMs).toBeGreaterThan(0);
      expect(notYet.retryInMs).toBeLessThanOrEqual(600);
      early.nak(notYet.retryInMs);

      const retry = await acquireWhenFree(nodeB, record.id, 'node-b', 3000);
      expect(retry.answers.slice(0, -1).every((a) => a.status === 'later' && a.reason === 'not_yet')).toBe(true);
      expect(retry.at).toBeGreaterThanOrEqual(notBefore.getTime());
      const { acquired } = retry;
      if (acquired.status !== 'acquired') return;
      expect(acquired.previousAttemptAbandoned).toBe(false);
      expect(acquired.job).toMatchObject({ id: record.id, attempt: 2, args: record.args });
      expect(acquired.lease.state).toMatchObject({ phase: 'running', attempt: 2, nodeId: 'node-b' });
      expect(acquired.lease.revision).toBeGreaterThan(stored!.revision);
      // The old lease can requeue no more.
      expect(await nodeA.jobs.requeue(lease, { ...record, attempt: 3 })).toMatchObject({ lost: true, reason: 'expired_and_taken', holder: 'node-b' });
      const done = await nodeB.jobs.commit(acquired.lease, result(record.id, { attempt: 2 }), { resultTtlMs: null });
      expect(done).toMatchObject({ status: 'committed', state: { job: { attempt: 2 }, result: { attempt: 2 } } });
      retry.delivery.ack();
    });

    it('a requeue whose lease moved is refused; a second requeue by the same lease is its own write', async (ctx) => {
      const store = await open(ctx);
      const record = job('requeued twice');
      const { lease } = await running(store, record);
      const renewed = await store.jobs.renew(lease);
      if (isLost(renewed)) throw new Error('renewal refused');
      expect(await store.jobs.requeue(lease, { ...record, attempt: 2 })).toMatchObject({ lost: true });
      expect((await store.jobs.get(record.id))?.state).toMatchObject({ phase: 'running', leaseId: lease.state.leaseId });
      expect(await store.jobs.requeue(renewed, { ...record, attempt: 2 })).toEqual({ status: 'requeued' });
      const after = await store.jobs.get(record.id);
      expect(after?.state).toMatchObject({ phase: 'queued', attempt: 2, leaseId: renewed.state.leaseId });
      expect(await store.jobs.requeue(renewed, { ...record, attempt: 2 })).toEqual({ status: 'requeued' });
      expect(await store.jobs.get(record.id)).toEqual(after); // recognised, not written again
    });
  });
});
