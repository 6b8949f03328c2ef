import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import type { SimulatedClock } from 'xstate';
import type { JobInput } from '../../src/machines/job-types.js';
import { fakeJobMachine, jobParent, simulatedTask, testJob } from '../support/fakes/job-fakes.js';
import { advanceBy, createSimClock, runUntil } from '../support/fakes/sim-time.js';

const LEASE_MS = 3_000;

function startJob(fakes: ReturnType<typeof fakeJobMachine>, input: Omit<JobInput, 'leaseDurationMs'>, clock: SimulatedClock) {
  const parent = createActor(jobParent(fakes.machine, { leaseDurationMs: LEASE_MS, ...input }), { clock });
  parent.start();
  return parent;
}

describe('job machine: founding failure 1 (duplicate execution of long jobs)', () => {
  it('a job running 10× its lease duration renews continuously and is never considered lost', async () => {
    const clock = createSimClock();
    const fakes = fakeJobMachine({ clock, leaseDurationMs: LEASE_MS, runTask: simulatedTask(clock, 10 * LEASE_MS, 42) });
    const job = testJob();
    const parent = startJob(fakes, { job }, clock);
    const started = clock.now();
    await runUntil(clock, () => parent.getSnapshot().context.output !== null, { limitMs: 20 * LEASE_MS });

    expect(parent.getSnapshot().context.output).toMatchObject({ kind: 'result', result: { outcome: 'success', returnValue: 42 } });
    expect(fakes.log.abortTask).toEqual([]);
    // Renewed every third of the lease, and the key never expired while the task ran.
    const renewals = fakes.log.renewLease.map((r) => r.at);
    expect(renewals.length).toBeGreaterThanOrEqual(29);
    const writes = fakes.store.writes.filter((w) => w.at <= started + 10 * LEASE_MS);
    for (let i = 1; i < writes.length; i++) expect(writes[i]!.at).toBeLessThan(writes[i - 1]!.expiresAt);
    expect(fakes.log.writeResult).toHaveLength(1);
    expect(parent.getSnapshot().context.released).toEqual([job.id]);
  });

  it('a renewal answered "revision moved" aborts the task and reports nothing', async () => {
    const clock = createSimClock();
    let renewals = 0;
    const fakes = fakeJobMachine({
      clock,
      leaseDurationMs: LEASE_MS,
      runTask: simulatedTask(clock, 10 * LEASE_MS),
      renewLease: () => (++renewals === 2 ? { status: 'lost', reason: 'revision_moved' } : undefined),
    });
    const job = testJob();
    const parent = startJob(fakes, { job }, clock);
    await runUntil(clock, () => parent.getSnapshot().context.output !== null, { limitMs: 20 * LEASE_MS });

    expect(fakes.log.abortTask).toEqual([{ jobId: job.id, reason: 'lease_lost' }]);
    expect(fakes.log.taskSignals[0]!.aborted).toBe(true);
    expect(fakes.log.writeResult).toEqual([]);
    expect(fakes.log.releaseLease).toEqual([]);
    expect(parent.getSnapshot().context.output).toEqual({ kind: 'discarded', reason: 'lease_lost', leaseLostReason: 'revision_moved' });
    expect(parent.getSnapshot().context.released).toEqual([job.id]);
    // Detected at the second renewal: two renewal intervals after the start.
    expect(clock.now()).toBeLessThan(Date.UTC(2025, 0, 1) + LEASE_MS);
  });

  it('renewals that keep failing end the job before the store could hand the lease to another node', async () => {
    const clock = createSimClock();
    // Every renewal throws (store unreachable): the machine retries, then gives up at the deadline.
    const failing = fakeJobMachine({
      clock,
      leaseDurationMs: LEASE_MS,
      runTask: simulatedTask(clock, 10 * LEASE_MS),
      renewLease: () => {
        throw new Error('connection refused');
      },
    });
    const job = testJob();
    const parent = startJob(failing, { job }, clock);
    const start = clock.now();
    await runUntil(clock, () => parent.getSnapshot().context.output !== null, { limitMs: 20 * LEASE_MS });
    expect(parent.getSnapshot().context.output).toEqual({ kind: 'discarded', reason: 'lease_lost', leaseLostReason: 'renewal_deadline' });
    expect(failing.log.taskSignals[0]!.aborted).toBe(true);
    expect(failing.log.writeResult).toEqual([]);
    // Acquired at `start`, so the key lives until start + LEASE_MS; the job stopped before that.
    expect(clock.now()).toBeLessThan(start + LEASE_MS);
    expect(failing.log.renewLease.length).toBeGreaterThan(1);
  });
});

describe('job machine: outcomes', () => {
  it('runs, writes a fenced success result, releases the lease and the slot once', async () => {
    const clock = createSimClock();
    const fakes = fakeJobMachine({ clock, leaseDurationMs: LEASE_MS });
    const job = testJob();
    const parent = startJob(fakes, { job, nodeId: 'n1' }, clock);
    await advanceBy(clock, 1);
    const { output, released } = parent.getSnapshot().context;
    expect(output).toMatchObject({ kind: 'result', result: { jobId: job.id, outcome: 'success', returnValue: 'ok', attempt: 1, nodeId: 'n1' } });
    expect(fakes.log.writeResult[0]!.lease.revision).toBe(1);
    expect(fakes.log.releaseLease).toEqual([job.id]);
    expect(released).toEqual([job.id]);
  });

  it('retries a failing task with backoff through requeueJob, then writes the error on the last attempt', async () => {
    const clock = createSimClock();
    const failing = () => Promise.reject(new TypeError('boom'));
    const fakes = fakeJobMachine({ clock, leaseDurationMs: LEASE_MS, runTask: failing });
    const retry = { attempts: 3, backoff: { initialMs: 100, maxMs: 250, factor: 2 } };

    const first = startJob(fakes, { job: testJob({ attempt: 2 }), retry }, clock);
    await advanceBy(clock, 1);
    expect(first.getSnapshot().context.output).toEqual({ kind: 'requeued', attempt: 3, delayMs: 200, reason: 'retry' });
    expect(fakes.log.requeueJob[0]).toMatchObject({ attempt: 3, delayMs: 200, reason: 'retry', lease: { revision: 1 } });

    const last = startJob(fakes, { job: testJob({ attempt: 3 }), retry }, clock);
    await advanceBy(clock, 1);
    expect(last.getSnapshot().context.output).toMatchObject({
      kind: 'result',
      result: { outcome: 'error', attempt: 3, error: { name: 'TypeError', message: 'boom' } },
    });
  });

  it('times out: aborts the task and writes `timeout`', async () => {
    const clock = createSimClock();
    const fakes = fakeJobMachine({ clock, leaseDurationMs: LEASE_MS, runTask: simulatedTask(clock, 10_000) });
    const parent = startJob(fakes, { job: testJob(), timeoutMs: 500 }, clock);
    await advanceBy(clock, 499);
    expect(parent.getSnapshot().context.output).toBeNull();
    await advanceBy(clock, 2);
    expect(parent.getSnapshot().context.output).toMatchObject({ kind: 'result', result: { outcome: 'timeout' } });
    expect(fakes.log.abortTask.map((a) => a.reason)).toEqual(['timeout']);
    expect(fakes.log.taskSignals[0]!.aborted).toBe(true);
  });

  it('cancel while running aborts and writes `cancelled`; cancel while leasing writes it without running', async () => {
    const clock = createSimClock();
    const fakes = fakeJobMachine({ clock, leaseDurationMs: LEASE_MS, runTask: simulatedTask(clock, 10_000) });
    const running = startJob(fakes, { job: testJob() }, clock);
    await advanceBy(clock, 10);
    running.getSnapshot().children.job!.send({ type: 'CANCEL' });
    await advanceBy(clock, 1);
    expect(running.getSnapshot().context.output).toMatchObject({ kind: 'result', result: { outcome: 'cancelled' } });
    expect(fakes.log.abortTask.map((a) => a.reason)).toEqual(['cancelled']);

    const leasing = startJob(fakes, { job: testJob() }, clock);
    leasing.getSnapshot().children.job!.send({ type: 'CANCEL' });
    await advanceBy(clock, 1);
    expect(leasing.getSnapshot().context.output).toMatchObject({ kind: 'result', result: { outcome: 'cancelled' } });
    expect(fakes.log.runTask).toHaveLength(1);
  });

  it('ends `missed_start_deadline` when acquired after the deadline, without running', async () => {
    const clock = createSimClock();
    const fakes = fakeJobMachine({ clock, leaseDurationMs: LEASE_MS });
    const parent = startJob(fakes, { job: testJob({ startDeadline: new Date(clock.now() - 1) }) }, clock);
    await advanceBy(clock, 1);
    expect(parent.getSnapshot().context.output).toMatchObject({ kind: 'result', result: { outcome: 'missed_start_deadline' } });
    expect(fakes.log.runTask).toEqual([]);
  });

  it('a crashed previous attempt: retried if attempts remain, else `abandoned`', async () => {
    const clock = createSimClock();
    const fakes = fakeJobMachine({ clock, leaseDurationMs: LEASE_MS, previousAttemptAbandoned: () => true });
    const retry = { attempts: 2, backoff: { initialMs: 50, maxMs: 50, factor: 1 } };
    const retried = startJob(fakes, { job: testJob({ attempt: 1 }), retry }, clock);
    const given = startJob(fakes, { job: testJob({ attempt: 2 }), retry }, clock);
    await advanceBy(clock, 1);
    expect(retried.getSnapshot().context.output).toEqual({ kind: 'requeued', attempt: 2, delayMs: 50, reason: 'retry' });
    expect(given.getSnapshot().context.output).toMatchObject({ kind: 'result', result: { outcome: 'abandoned', attempt: 2 } });
    expect(fakes.log.runTask).toEqual([]);
  });

  it('held elsewhere: ends without result and without touching the lease; slots full: requeued unleased', async () => {
    const clock = createSimClock();
    const fakes = fakeJobMachine({ clock, leaseDurationMs: LEASE_MS });
    const job = testJob();
    fakes.store.steal(`job.${job.id}`, 'node-b');
    const parent = startJob(fakes, { job }, clock);
    await advanceBy(clock, 1);
    expect(parent.getSnapshot().context.output).toEqual({ kind: 'skipped', reason: 'held_elsewhere' });
    expect(fakes.log.releaseLease).toEqual([]);
    expect(parent.getSnapshot().context.released).toEqual([job.id]);

    const full = fakeJobMachine({ clock, leaseDurationMs: LEASE_MS, acquireLease: () => ({ status: 'task_slots_full', retryInMs: 300 }) });
    const deferred = startJob(full, { job: testJob() }, clock);
    await advanceBy(clock, 1);
    expect(deferred.getSnapshot().context.output).toEqual({ kind: 'requeued', attempt: 1, delayMs: 300, reason: 'task_slots_full' });
    expect(full.log.requeueJob[0]!.lease).toBeNull();
  });

  it('rejects a lease too short to renew with a typed error naming the field', () => {
    const clock = createSimClock();
    const fakes = fakeJobMachine({ clock, leaseDurationMs: 5 });
    const actor = createActor(fakes.machine, { input: { job: testJob(), leaseDurationMs: 5 } });
    expect(actor.getSnapshot().status).toBe('error');
    expect(String(actor.getSnapshot().error)).toMatch(/leaseDurationMs 5/);
  });
});
