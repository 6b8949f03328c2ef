/**
 * The node's lease keeper (src/actors/job-lease-keeper.ts) with a fake JobStore whose renewals,
 * commits and requeues the test answers by hand (or lets fail, or leaves hanging), and vitest's
 * fake timers (the keeper ticks on a setInterval and reads the `now()` it is given, here
 * `Date.now`, which the fake timers drive). A blocked event loop is simulated by moving the system
 * time past a deadline without running any timer, then letting the next one run.
 *
 * With D = 30 s and the default ack wait (2D): renewal after D/3 = 10 s, deadline
 * min(4D/3, 2D − D/6) = 40 s after the last successful write was sent, one tick a second.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JobLeaseKeeper } from '../../src/actors/job-lease-keeper.js';
import { jobMachine } from '../../src/machines/job-machine.js';
import type { JobEvent } from '../../src/machines/job-types.js';
import type { DoneJobState, JobRecord, JobResult, RunningJobState } from '../../src/records.js';
import type { JobDelivery, JobLease, JobStore, LeaseLost } from '../../src/store/index.js';
import { deferred, type Deferred } from '../support/fakes/deferred.js';
import { jobUnderParent, testJob } from '../support/fakes/job-fakes.js';

const T0 = Date.UTC(2025, 0, 1);
const D = 30_000;
const RENEW = 10_000;
const DEADLINE = 40_000;
const TICK = 1_000;

type RenewAnswer = JobLease | LeaseLost;
type CommitAnswer = { status: 'committed'; state: DoneJobState } | LeaseLost;
type RequeueAnswer = { status: 'requeued' } | LeaseLost;

interface Call<I, A> {
  lease: JobLease;
  input: I;
  /** Date.now() when the keeper called the store. */
  at: number;
  answer: Deferred<A>;
}

/** One ordered log of what the keeper did, for "before" assertions. */
const order: string[] = [];

/**
 * A JobStore whose writes wait for the test: `mode` 'manual' (answer by hand), 'fail' (reject at
 * once: no answer from the store), 'hang' (never settle) or 'auto' (succeed at once).
 */
class FakeJobStore {
  readonly renewals: Call<null, RenewAnswer>[] = [];
  readonly commits: Call<JobResult, CommitAnswer>[] = [];
  readonly requeues: Call<JobRecord, RequeueAnswer>[] = [];
  renewMode: 'manual' | 'fail' | 'hang' | 'auto' = 'manual';
  commitMode: 'manual' | 'fail' | 'auto' = 'manual';
  /** Jobs whose renewals never get an answer, whatever the mode. */
  readonly hangJobs = new Set<string>();
  #revision = 100;

  renew(lease: JobLease): Promise<RenewAnswer> {
    const call = { lease, input: null, at: Date.now(), answer: deferred<RenewAnswer>() };
    this.renewals.push(call);
    order.push(`renew ${lease.jobId}@${lease.revision}`);
    if (this.hangJobs.has(lease.jobId)) return call.answer.promise;
    if (this.renewMode === 'fail') call.answer.reject(new Error('store timeout'));
    if (this.renewMode === 'auto') call.answer.resolve(this.renewed(call));
    return call.answer.promise;
  }

  commit(lease: JobLease, result: JobResult): Promise<CommitAnswer> {
    const call = { lease, input: result, at: Date.now(), answer: deferred<CommitAnswer>() };
    this.commits.push(call);
    order.push(`commit ${lease.jobId}@${lease.revision}`);
    if (this.commitMode === 'fail') call.answer.reject(new Error('store timeout'));
    if (this.commitMode === 'auto') call.answer.resolve(committed(lease, result));
    return call.answer.promise;
  }

  requeue(lease: JobLease, job: JobRecord): Promise<RequeueAnswer> {
    const call = { lease, input: job, at: Date.now(), answer: deferred<RequeueAnswer>() };
    this.requeues.push(call);
    order.push(`requeue ${lease.jobId}@${lease.revision}`);
    return call.answer.promise;
  }

  /** The lease a successful renewal call produces: a new revision, sent when the call was made. */
  renewed(call: Call<null, RenewAnswer>, revision = ++this.#revision): JobLease {
    return { ...call.lease, revision, sentAt: call.at, state: { ...call.lease.state, renewedAt: new Date(call.at) } };
  }

  asJobStore(): JobStore {
    return this as unknown as JobStore;
  }
}

function committed(lease: JobLease, result: JobResult): CommitAnswer {
  return { status: 'committed', state: { phase: 'done', job: lease.job, result, expiresAt: null, leaseId: lease.state.leaseId } };
}

function lost(lease: JobLease, reason: LeaseLost['reason']): LeaseLost {
  return { lost: true, key: `job.${lease.jobId}`, owner: lease.state.nodeId, revision: lease.revision, reason };
}

function leaseOf(jobId: string, opts: { revision?: number; sentAt?: number } = {}): JobLease {
  const sentAt = opts.sentAt ?? Date.now();
  const job = testJob({ id: jobId });
  const state: RunningJobState = {
    phase: 'running',
    task: job.task,
    attempt: 1,
    nodeId: 'node-a',
    leaseId: `lease-${jobId}`,
    seq: 1,
    startedAt: new Date(sentAt),
    renewedAt: new Date(sentAt),
  };
  return { jobId, revision: opts.revision ?? 1, state, job, sentAt };
}

function fakeDelivery(jobId: string) {
  const calls: string[] = [];
  const delivery: JobDelivery = {
    jobId,
    job: null,
    corrupt: null,
    seq: 1,
    deliveryCount: 1,
    ack: () => void calls.push('ack'),
    nak: (delayMs?: number) => void calls.push(`nak ${delayMs ?? ''}`.trim()),
    working: () => void calls.push('working'),
    term: () => void calls.push('term'),
  };
  return { delivery, calls };
}

type KeeperEvent = Extract<JobEvent, { type: 'LEASE_RENEWED' | 'LEASE_LOST' }>;

function fakeTarget(jobId: string) {
  const events: KeeperEvent[] = [];
  return {
    events,
    target: {
      send: (event: KeeperEvent) => {
        events.push(event);
        order.push(`${event.type} ${jobId}`);
      },
    },
  };
}

function setup(opts: { ackWaitMs?: number } = {}) {
  const store = new FakeJobStore();
  const lostLog: { jobId: string; lost: LeaseLost }[] = [];
  const errors: { jobId: string; error: unknown }[] = [];
  const keeper = new JobLeaseKeeper(store.asJobStore(), () => Date.now(), {
    leaseDurationMs: D,
    ...(opts.ackWaitMs !== undefined ? { ackWaitMs: opts.ackWaitMs } : {}),
    onLost: (jobId, l) => void lostLog.push({ jobId, lost: l }),
    onError: (error, jobId) => void errors.push({ jobId, error }),
  });
  /** Holds a fresh lease for `jobId` (sent now) and returns its delivery and target. */
  const hold = (jobId: string, leaseOpts: { revision?: number; sentAt?: number } = {}) => {
    const lease = leaseOf(jobId, leaseOpts);
    const d = fakeDelivery(jobId);
    const t = fakeTarget(jobId);
    keeper.hold(lease, d.delivery, t.target);
    return { lease, ...d, ...t };
  };
  return { store, keeper, lostLog, errors, hold };
}

/** Lets promise continuations run (answers reaching the keeper, and its reactions). */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** Advances fake time to `T0 + ms`, running due timers with promise continuations between them. */
const advanceTo = (ms: number): Promise<unknown> => vi.advanceTimersByTimeAsync(T0 + ms - Date.now());
const since = (at: number): number => at - T0;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
  order.length = 0;
});
afterEach(() => {
  vi.useRealTimers();
});

describe('job lease keeper: timing', () => {
  it('derives its timers from the lease duration and the ack wait, and refuses an ack wait too short', () => {
    const { keeper } = setup();
    expect([keeper.renewIntervalMs, keeper.deadlineMs, keeper.tickMs]).toEqual([RENEW, DEADLINE, TICK]);
    const short = new JobLeaseKeeper(new FakeJobStore().asJobStore(), () => Date.now(), { leaseDurationMs: D, ackWaitMs: 36_000 });
    expect(short.deadlineMs).toBe(36_000 - 5_000); // W − D/6 < 4D/3
    const small = new JobLeaseKeeper(new FakeJobStore().asJobStore(), () => Date.now(), { leaseDurationMs: 60 });
    expect([small.renewIntervalMs, small.deadlineMs, small.tickMs]).toEqual([20, 80, 6]);
    expect(() => new JobLeaseKeeper(new FakeJobStore().asJobStore(), () => Date.now(), { leaseDurationMs: D, ackWaitMs: 15_000 })).toThrow(
      /ack wait 15000 ms is too short for a lease of 30000 ms/,
    );
  });
});

describe('job lease keeper: renewals', () => {
  it('renews every lease once D/3 has passed since its last write was sent, all on one timer', async () => {
    const { store, keeper, hold } = setup();
    const a = hold('a');
    await advanceTo(2_000);
    const b = hold('b');
    expect(vi.getTimerCount()).toBe(1);
    expect(keeper.size).toBe(2);

    await advanceTo(RENEW - 1);
    expect(store.renewals).toEqual([]);
    await advanceTo(RENEW);
    expect(store.renewals.map((c) => [c.lease.jobId, since(c.at)])).toEqual([['a', RENEW]]);
    // Answered: the job actor hears the new revision and the queue's ack wait restarts.
    store.renewals[0]!.answer.resolve(store.renewed(store.renewals[0]!, 2));
    await flush();
    expect(a.events).toEqual([{ type: 'LEASE_RENEWED', lease: { revision: 2 } }]);
    expect(a.calls).toEqual(['working']);
    expect(keeper.current('a')?.revision).toBe(2);

    await advanceTo(2_000 + RENEW);
    expect(store.renewals.map((c) => [c.lease.jobId, since(c.at)])).toEqual([
      ['a', RENEW],
      ['b', 2_000 + RENEW],
    ]);
    expect(b.events).toEqual([]);
    // The next renewal of `a` counts from when its last successful write was sent.
    await advanceTo(2 * RENEW - 1);
    expect(store.renewals.filter((c) => c.lease.jobId === 'a')).toHaveLength(1);
    await advanceTo(2 * RENEW);
    expect(store.renewals.filter((c) => c.lease.jobId === 'a').map((c) => [since(c.at), c.lease.revision])).toEqual([
      [RENEW, 1],
      [2 * RENEW, 2],
    ]);
  });

  it.each([
    ['revision_moved', 'revision_moved'],
    ['expired_and_taken', 'expired'],
    ['key_gone', 'deleted'],
  ] as const)('a renewal refused (%s) reports LEASE_LOST (%s) once, renews no more, and stops the timer', async (storeReason, machineReason) => {
    const { store, keeper, lostLog, hold } = setup();
    const a = hold('a');
    await advanceTo(RENEW);
    store.renewals[0]!.answer.resolve(lost(a.lease, storeReason));
    await flush();
    expect(a.events).toEqual([{ type: 'LEASE_LOST', reason: machineReason }]);
    expect(lostLog).toEqual([{ jobId: 'a', lost: lost(a.lease, storeReason) }]);
    expect(a.calls).toEqual([]); // no working(): the queue's ack wait is not extended for a lost job
    expect(keeper.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await advanceTo(5 * D);
    expect(store.renewals).toHaveLength(1);
    expect(a.events).toHaveLength(1);
    expect(lostLog).toHaveLength(1);
  });

  it('a renewal that fails is retried every tick; the lease is lost at the deadline, before any renewal of that tick', async () => {
    const { store, lostLog, errors, hold } = setup();
    store.renewMode = 'fail';
    const a = hold('a');
    await advanceTo(DEADLINE - 1);
    const expected = Array.from({ length: (DEADLINE - RENEW) / TICK }, (_, i) => RENEW + i * TICK);
    expect(store.renewals.map((c) => since(c.at))).toEqual(expected);
    expect(errors).toHaveLength(expected.length);
    expect(a.events).toEqual([]);
    await advanceTo(DEADLINE);
    expect(a.events).toEqual([{ type: 'LEASE_LOST', reason: 'renewal_deadline' }]);
    expect(store.renewals).toHaveLength(expected.length); // none sent at the deadline's tick
    expect(lostLog.map((l) => [l.jobId, l.lost.reason, l.lost.revision])).toEqual([['a', 'store_unreachable', 1]]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a renewal without an answer is not sent twice; the deadline counts from the last successful write's send time", async () => {
    const { store, hold } = setup();
    const a = hold('a');
    await advanceTo(RENEW);
    // A slow answer: the write was sent at RENEW, answered 5 s later.
    await advanceTo(RENEW + 5_000);
    store.renewals[0]!.answer.resolve(store.renewed(store.renewals[0]!, 2));
    await flush();
    expect(a.events).toEqual([{ type: 'LEASE_RENEWED', lease: { revision: 2 } }]);
    store.renewMode = 'hang';
    await advanceTo(RENEW + DEADLINE - 1);
    expect(store.renewals.map((c) => since(c.at))).toEqual([RENEW, 2 * RENEW]); // the hanging one is not repeated
    expect(a.events).toHaveLength(1);
    await advanceTo(RENEW + DEADLINE);
    expect(a.events).toEqual([
      { type: 'LEASE_RENEWED', lease: { revision: 2 } },
      { type: 'LEASE_LOST', reason: 'renewal_deadline' },
    ]);
  });

  it('with a short ack wait the lease is lost at W − D/6', async () => {
    const { hold, store } = setup({ ackWaitMs: 36_000 });
    store.renewMode = 'hang';
    const a = hold('a');
    await advanceTo(31_000 - 1);
    expect(a.events).toEqual([]);
    await advanceTo(31_000);
    expect(a.events).toEqual([{ type: 'LEASE_LOST', reason: 'renewal_deadline' }]);
  });

  it('a tick that wakes past the deadline (blocked loop) reports every loss before it sends any renewal', async () => {
    const { store, hold } = setup();
    store.renewMode = 'auto';
    const b = hold('b'); // renewed on time all along
    await advanceTo(5_000);
    store.hangJobs.add('a'); // a's renewals get no answer
    const a = hold('a');
    await advanceTo(30_500);
    expect(store.renewals.map((c) => [c.lease.jobId, since(c.at)])).toEqual([
      ['b', 10_000],
      ['a', 15_000],
      ['b', 20_000],
      ['b', 30_000],
    ]);
    order.length = 0;
    // The event loop is blocked from 30.5 s to 46 s (a's deadline: 45 s; b is due at 40 s): no
    // timer runs, then the next one does. b comes first in the keeper's table; a's loss still
    // comes before b's renewal.
    vi.setSystemTime(T0 + 46_000);
    vi.advanceTimersToNextTimer();
    await flush();
    expect(order).toEqual(['LEASE_LOST a', 'renew b@103', 'LEASE_RENEWED b']);
    expect(a.events).toEqual([{ type: 'LEASE_LOST', reason: 'renewal_deadline' }]);
    expect(b.events.map((e) => e.type)).toEqual(['LEASE_RENEWED', 'LEASE_RENEWED', 'LEASE_RENEWED', 'LEASE_RENEWED']);
  });

  it('even with no renewal in flight, a late tick reports the loss without renewing first', async () => {
    const { store, hold } = setup();
    const a = hold('a');
    vi.setSystemTime(T0 + DEADLINE + 3_000);
    vi.advanceTimersToNextTimer();
    await flush();
    expect(a.events).toEqual([{ type: 'LEASE_LOST', reason: 'renewal_deadline' }]);
    expect(store.renewals).toEqual([]);
  });

  it('a renewal that lands after the lease was declared lost hands the job back: requeued at its revision, delivery nak(0)', async () => {
    const { store, hold } = setup();
    const a = hold('a');
    await advanceTo(RENEW);
    await advanceTo(DEADLINE);
    expect(a.events).toEqual([{ type: 'LEASE_LOST', reason: 'renewal_deadline' }]);
    const renewed = store.renewed(store.renewals[0]!, 2);
    store.renewals[0]!.answer.resolve(renewed);
    await flush();
    expect(store.requeues.map((c) => [c.lease.revision, c.input])).toEqual([[2, renewed.job]]);
    expect(a.calls).toEqual([]);
    store.requeues[0]!.answer.resolve({ status: 'requeued' });
    await flush();
    expect(a.calls).toEqual(['nak 0']);
    expect(a.events).toHaveLength(1); // the job actor hears nothing more

    // A requeue refused (someone took the job meanwhile) leaves the delivery alone.
    const other = setup();
    const b = other.hold('b');
    await advanceTo(DEADLINE + RENEW);
    await advanceTo(2 * DEADLINE);
    other.store.renewals[0]!.answer.resolve(other.store.renewed(other.store.renewals[0]!, 2));
    await flush();
    other.store.requeues[0]!.answer.resolve(lost(b.lease, 'expired_and_taken'));
    await flush();
    expect(b.calls).toEqual([]);
  });
});

describe('job lease keeper: fenced writes', () => {
  const result = (jobId: string): JobResult => ({ jobId, outcome: 'success', attempt: 1, finishedAt: new Date(T0), returnValue: 1 });

  it('a commit waits for the renewal in flight and writes at the revision it produced; then nothing is renewed', async () => {
    const { store, keeper, hold } = setup();
    const a = hold('a');
    await advanceTo(RENEW);
    const outcome = keeper.commit('a', result('a'), { resultTtlMs: null });
    await flush();
    expect(store.commits).toEqual([]); // behind the renewal on the same key
    store.renewals[0]!.answer.resolve(store.renewed(store.renewals[0]!, 7));
    await flush();
    expect(store.commits.map((c) => c.lease.revision)).toEqual([7]);
    expect(a.events).toEqual([]); // the job is closing: no LEASE_RENEWED any more
    expect(a.calls).toEqual(['working']);
    const answer = committed(store.commits[0]!.lease, result('a')) as { status: 'committed'; state: DoneJobState };
    store.commits[0]!.answer.resolve(answer);
    expect(await outcome).toEqual({ status: 'ok', value: answer.state });
    expect(keeper.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await advanceTo(5 * D);
    expect(store.renewals).toHaveLength(1);
  });

  it('a renewal refused while a commit waits for it: the commit is not sent, the loss is reported', async () => {
    const { store, keeper, hold } = setup();
    const a = hold('a');
    await advanceTo(RENEW);
    const outcome = keeper.commit('a', result('a'), { resultTtlMs: null });
    store.renewals[0]!.answer.resolve(lost(a.lease, 'revision_moved'));
    expect(await outcome).toEqual({ status: 'lost', reason: 'revision_moved' });
    expect(store.commits).toEqual([]);
    expect(a.events).toEqual([{ type: 'LEASE_LOST', reason: 'revision_moved' }]);
  });

  it('a commit that fails for lack of an answer is retried at the same revision until the deadline, then lost', async () => {
    const { store, keeper, lostLog, errors, hold } = setup();
    store.commitMode = 'fail';
    const a = hold('a');
    await advanceTo(5_000);
    const outcome = keeper.commit('a', result('a'), { resultTtlMs: 60_000 });
    let settled: unknown = null;
    void outcome.then((o) => (settled = o));
    await advanceTo(DEADLINE - 1);
    expect(settled).toBeNull();
    await advanceTo(DEADLINE + TICK);
    expect(settled).toEqual({ status: 'lost', reason: 'renewal_deadline' });
    const times = store.commits.map((c) => since(c.at));
    expect(times[0]).toBe(5_000);
    expect(times.at(-1)).toBeLessThan(DEADLINE);
    expect(times.length).toBe((DEADLINE - 5_000) / TICK);
    expect(new Set(store.commits.map((c) => c.lease.revision))).toEqual(new Set([1]));
    expect(errors).toHaveLength(times.length);
    expect(store.renewals).toEqual([]); // closing: no renewals while the commit owns the lease
    expect(lostLog.map((l) => l.lost.reason)).toEqual(['store_unreachable']);
    // The outcome says lost; the job actor hears it from whoever awaited the commit, not twice.
    expect(a.events).toEqual([]);
  });

  it('a commit refused (stale revision) is lost at once; an error that is not transient is thrown, not retried', async () => {
    const { store, keeper, hold, lostLog } = setup();
    const a = hold('a');
    const refused = keeper.commit('a', result('a'), { resultTtlMs: null });
    await flush();
    store.commits[0]!.answer.resolve(lost(a.lease, 'expired_and_taken'));
    expect(await refused).toEqual({ status: 'lost', reason: 'expired' });
    expect(lostLog).toHaveLength(1);
    expect(a.events).toEqual([]);

    const b = hold('b');
    const thrown = keeper.commit('b', result('b'), { resultTtlMs: null });
    await flush();
    store.commits[1]!.answer.reject(new TypeError('cannot encode'));
    await expect(thrown).rejects.toThrow(TypeError);
    expect(store.commits).toHaveLength(2);
    expect(b.events).toEqual([]);
  });

  it('a requeue is fenced the same way, and a commit for a lease not held is lost without a write', async () => {
    const { store, keeper, hold } = setup();
    hold('a');
    await advanceTo(RENEW);
    const job = { ...testJob({ id: 'a' }), attempt: 2 };
    const outcome = keeper.requeue('a', job);
    await flush();
    expect(store.requeues).toEqual([]);
    store.renewals[0]!.answer.resolve(store.renewed(store.renewals[0]!, 9));
    await flush();
    expect(store.requeues.map((c) => [c.lease.revision, c.input])).toEqual([[9, job]]);
    store.requeues[0]!.answer.resolve({ status: 'requeued' });
    expect(await outcome).toEqual({ status: 'ok', value: null });
    expect(keeper.size).toBe(0);

    expect(await keeper.commit('nobody', result('nobody'), { resultTtlMs: null })).toEqual({ status: 'lost', reason: 'deleted' });
    expect(store.commits).toEqual([]);
  });
});

describe('job lease keeper: drop and stop', () => {
  it('after drop() nothing reaches the job actor: a renewal in flight that lands is handed back, not announced', async () => {
    const { store, keeper, hold } = setup();
    const a = hold('a');
    const b = hold('b');
    await advanceTo(RENEW);
    keeper.drop('a');
    expect(vi.getTimerCount()).toBe(1); // b still held
    store.renewals[0]!.answer.resolve(store.renewed(store.renewals[0]!, 2));
    store.renewals[1]!.answer.resolve(lost(b.lease, 'revision_moved'));
    await flush();
    expect(a.events).toEqual([]);
    expect(store.requeues.map((c) => c.lease.jobId)).toEqual(['a']); // the actor ended: hand the job back
    keeper.drop('b');
    expect(vi.getTimerCount()).toBe(0);
    await advanceTo(5 * D);
    expect(a.events).toEqual([]);
    expect(store.renewals).toHaveLength(2);
  });

  it('a renewal refused after drop() is not reported to the job actor', async () => {
    const { store, keeper, hold } = setup();
    const a = hold('a');
    await advanceTo(RENEW);
    keeper.drop('a');
    store.renewals[0]!.answer.resolve(lost(a.lease, 'revision_moved'));
    await flush();
    expect(a.events).toEqual([]);
  });

  it('after stop() nothing reaches any job actor, the timer is gone, and holding throws', async () => {
    const { store, keeper, hold } = setup();
    const a = hold('a');
    const b = hold('b');
    await advanceTo(RENEW);
    keeper.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(keeper.size).toBe(0);
    store.renewals[0]!.answer.resolve(store.renewed(store.renewals[0]!, 2));
    store.renewals[1]!.answer.resolve(lost(b.lease, 'revision_moved'));
    await flush();
    await advanceTo(5 * D);
    expect(a.events).toEqual([]);
    expect(b.events).toEqual([]);
    expect(() => hold('c')).toThrow(/stopped/);
  });

  it('the timer runs only while a lease is held', async () => {
    const { store, keeper, hold } = setup();
    expect(vi.getTimerCount()).toBe(0);
    hold('a');
    expect(vi.getTimerCount()).toBe(1);
    store.commitMode = 'auto';
    await keeper.commit('a', { jobId: 'a', outcome: 'success', attempt: 1, finishedAt: new Date(T0) }, { resultTtlMs: null });
    expect(vi.getTimerCount()).toBe(0);
    hold('b');
    expect(vi.getTimerCount()).toBe(1);
  });
});

describe('job lease keeper with the job machine (G1, the node half)', () => {
  /**
   * The job machine with effects wired as job-host.ts wires them, minus the queue and the task
   * registry: the lease keeper keeps the lease the acquisition produced and makes the commit.
   */
  function jobUnderKeeper(taskMs: number) {
    const ctx = setup();
    const aborts: string[] = [];
    let taskTimer: ReturnType<typeof setTimeout> | null = null;
    const machine = jobUnderParent(
      // A job machine whose effects are production's, in miniature.
      jobMachine.provide({
        actions: {
          acquireLease: ({ self }) => {
            const lease = leaseOf('long');
            const d = fakeDelivery('long');
            ctx.keeper.hold(lease, d.delivery, { send: (e) => self.getSnapshot().status === 'active' && self.send(e) });
            void Promise.resolve().then(() =>
              self.send({ type: 'LEASE_ACQUIRED', lease: { revision: lease.revision }, attempt: 1, now: lease.sentAt, previousAttemptAbandoned: false }),
            );
          },
          runTask: ({ self }) => {
            taskTimer = setTimeout(() => self.getSnapshot().status === 'active' && self.send({ type: 'TASK_SUCCEEDED', value: 42 }), taskMs);
          },
          abortTask: (_, params) => {
            aborts.push(params.reason);
            if (taskTimer) clearTimeout(taskTimer);
          },
          commitResult: ({ self }, params) =>
            void ctx.keeper.commit(params.jobId, { ...params.result, finishedAt: new Date(Date.now()) }, { resultTtlMs: null }).then((outcome) => {
              if (self.getSnapshot().status !== 'active') return;
              self.send(outcome.status === 'ok' ? { type: 'RESULT_COMMITTED', result: outcome.value.result } : { type: 'LEASE_LOST', reason: outcome.reason });
            }),
          requeueJob: () => {},
        },
      }),
      { job: testJob({ id: 'long' }), nodeId: 'node-a' },
    );
    return { ...ctx, ...machine, aborts };
  }

  it('a task running 10× its lease is renewed every D/3, never lost, and commits at the last revision', async () => {
    const h = jobUnderKeeper(10 * D);
    h.store.renewMode = 'auto';
    h.store.commitMode = 'auto';
    await advanceTo(10 * D + TICK);
    expect(h.job.getSnapshot().output).toMatchObject({ kind: 'result', result: { outcome: 'success', returnValue: 42 } });
    expect(h.aborts).toEqual([]);
    const sent = h.store.renewals.map((c) => since(c.at));
    // The tick at 10·D renews before the task's own timer (due at the same instant) fires.
    expect(sent).toEqual(Array.from({ length: 30 }, (_, i) => (i + 1) * RENEW));
    // Every write restarted the key's TTL before it ran out: no gap of D between writes.
    const writes = [0, ...sent, since(h.store.commits[0]!.at)];
    for (let i = 1; i < writes.length; i++) expect(writes[i]! - writes[i - 1]!).toBeLessThan(D);
    // The machine carried the revisions the keeper reported; the commit used the last one.
    const last = h.store.renewals.length + 100;
    expect(h.store.commits.map((c) => c.lease.revision)).toEqual([last]);
    expect(h.received().map((e) => e.type)).toEqual(['SLOT_RELEASED', 'xstate.done.actor.long']);
  });

  it('a node paused past its deadline (SIGSTOP): on waking the loss comes first, the task is aborted, nothing is committed', async () => {
    const h = jobUnderKeeper(2 * D);
    h.store.renewMode = 'auto';
    h.store.commitMode = 'auto';
    await advanceTo(RENEW + 500);
    expect(h.store.renewals).toHaveLength(1);
    // Paused for a minute: the task's own timer and the keeper's tick are both overdue on waking.
    vi.setSystemTime(T0 + RENEW + 500 + 60_000);
    vi.advanceTimersToNextTimer();
    await flush();
    expect(h.job.getSnapshot().output).toEqual({ kind: 'discarded', reason: 'lease_lost', leaseLostReason: 'renewal_deadline' });
    expect(h.aborts).toEqual(['lease_lost']);
    await vi.runAllTimersAsync();
    expect(h.store.commits).toEqual([]);
    expect(h.store.renewals).toHaveLength(1);
  });
});
