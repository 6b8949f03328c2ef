/**
 * Persisted snapshots: an actor restored with `createActor(machine, { snapshot })` continues where
 * it was without replaying side effects. XState persists state and context (and children), not
 * pending delayed events; the machines re-arm their timers on RESTORED, which the runtime sends
 * right after starting a restored actor. Invocations in flight at persist time start again on
 * restore (XState restarts invoked actors): that is resumption, and the tests pin it down too.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { workerMachine } from '../../src/machines/worker-machine.js';
import type { FetchedJob } from '../../src/machines/worker-types.js';
import { fakeJobMachine, jobParent, simulatedTask, testJob } from '../support/fakes/job-fakes.js';
import { fakeScheduleMachine, intervalTrigger, testSchedule } from '../support/fakes/schedule-fakes.js';
import { advanceBy, advanceTo, createSimClock, settle } from '../support/fakes/sim-time.js';
import { controlledFetch, returnLog, stubJobLogic } from '../support/fakes/worker-fakes.js';

const T0 = Date.UTC(2025, 0, 1);
const LEASE_MS = 3000;
const fetched = (id: string): FetchedJob => ({ job: testJob({ id }) });

function worker(clock = createSimClock(T0)) {
  const fetch = controlledFetch();
  const jobs = stubJobLogic();
  const returns = returnLog();
  const machine = workerMachine.provide({ actors: { fetchJobs: fetch.logic, job: jobs.logic }, actions: { returnUnstartedJobs: returns.action } });
  return { clock, fetch, jobs, returns, machine };
}

describe('persisted snapshots', () => {
  it('a full worker restored with its running jobs replays no fetch and no job start', async () => {
    const before = worker();
    const original = createActor(before.machine, { clock: before.clock, input: { maxConcurrentJobs: 2, pollIntervalMs: 1000 } });
    original.start();
    before.fetch.last()!.answer.resolve([fetched('j1'), fetched('j2')]);
    await settle();
    expect(original.getSnapshot().value).toBe('full');
    const persisted = original.getPersistedSnapshot();
    original.stop();

    const after = worker(before.clock);
    const restored = createActor(after.machine, { clock: after.clock, snapshot: persisted, input: {} });
    restored.start();
    restored.send({ type: 'RESTORED' });
    await settle();
    expect(after.fetch.calls).toEqual([]);
    expect(after.jobs.log.started).toEqual([]);
    expect(after.returns.returned).toEqual([]);
    expect(restored.getSnapshot().value).toBe('full');
    expect(after.jobs.log.restored).toEqual(['j1', 'j2']); // told to re-arm their timers
    // And it works on: a restored job's end frees its slot and the worker fetches for it.
    restored.getSnapshot().children.j1!.send({ type: 'FINISH' } as never);
    await settle();
    expect(after.fetch.calls.map((c) => c.input.max)).toEqual([1]);
  });

  it('an idle worker restored has lost its POLL timer until RESTORED re-arms the wake-up', async () => {
    const before = worker();
    const original = createActor(before.machine, { clock: before.clock, input: { maxConcurrentJobs: 2, pollIntervalMs: 1000 } });
    original.start();
    before.fetch.last()!.answer.resolve([]);
    await settle();
    const persisted = original.getPersistedSnapshot();
    original.stop();

    const after = worker(before.clock);
    const restored = createActor(after.machine, { clock: after.clock, snapshot: persisted, input: {} });
    restored.start();
    await advanceBy(after.clock, 10_000);
    expect(after.fetch.calls).toEqual([]); // XState did not persist the delayed POLL
    restored.send({ type: 'RESTORED' });
    expect(after.fetch.calls).toHaveLength(1); // restored: poll now, then the timer is armed again
  });

  it('a job restored between a failed write and its retry replays nothing and releases its slot once', async () => {
    const clock = createSimClock(T0);
    const job = testJob();
    const before = fakeJobMachine({ clock, leaseDurationMs: LEASE_MS, failWrites: 1 });
    const original = createActor(jobParent(before.machine, { job, leaseDurationMs: LEASE_MS }), { clock });
    original.start();
    await settle();
    const child = () => original.getSnapshot().children.job!;
    expect(child().getSnapshot().matches({ holding: { work: { writingResult: 'waitingToRetry' } } })).toBe(true);
    const persisted = original.getPersistedSnapshot();
    original.stop();

    const after = fakeJobMachine({ clock, leaseDurationMs: LEASE_MS, store: before.store });
    const restored = createActor(jobParent(after.machine, { job, leaseDurationMs: LEASE_MS }), { clock, snapshot: persisted });
    restored.start();
    await settle();
    expect(after.log).toMatchObject({ acquireLease: [], runTask: [], writeResult: [], abortTask: [], releaseLease: [] });
    expect(restored.getSnapshot().context.released).toEqual([]);

    restored.getSnapshot().children.job!.send({ type: 'RESTORED' });
    await settle();
    expect(after.log.writeResult).toHaveLength(1);
    expect(after.log.runTask).toEqual([]);
    expect(restored.getSnapshot().context.output).toMatchObject({ kind: 'result', result: { outcome: 'success' } });
    expect(restored.getSnapshot().context.released).toEqual([job.id]);
  });

  it('a job restored while its task runs renews its lease at once and runs the task again (resumption)', async () => {
    const clock = createSimClock(T0);
    const job = testJob();
    const before = fakeJobMachine({ clock, leaseDurationMs: LEASE_MS, runTask: simulatedTask(clock, 5_000) });
    const original = createActor(jobParent(before.machine, { job, leaseDurationMs: LEASE_MS }), { clock });
    original.start();
    await advanceBy(clock, 100);
    const persisted = original.getPersistedSnapshot();
    original.stop();

    const after = fakeJobMachine({ clock, leaseDurationMs: LEASE_MS, store: before.store, runTask: simulatedTask(clock, 5_000) });
    const restored = createActor(jobParent(after.machine, { job, leaseDurationMs: LEASE_MS }), { clock, snapshot: persisted });
    restored.start();
    restored.getSnapshot().children.job!.send({ type: 'RESTORED' });
    await settle();
    expect(after.log.acquireLease).toEqual([]);
    expect(after.log.renewLease.map((r) => r.at)).toEqual([clock.now()]); // proves the lease first
    expect(after.log.runTask).toHaveLength(1); // the invocation in flight started again
    await advanceBy(clock, 6_000);
    expect(restored.getSnapshot().context.output).toMatchObject({ kind: 'result', result: { outcome: 'success' } });
    expect(restored.getSnapshot().context.released).toEqual([job.id]);
  });

  it('a waiting schedule restored replays no acquisition and no job creation, and fires on time after RESTORED', async () => {
    const clock = createSimClock(T0);
    const record = testSchedule({ trigger: intervalTrigger(T0 + 2000, 2000), nextFireTime: new Date(T0 + 2000) });
    const before = fakeScheduleMachine({ clock, leaseDurationMs: LEASE_MS, record });
    const original = createActor(before.machine, { clock, input: { schedule: record, recordRevision: 1, leaseDurationMs: LEASE_MS } });
    original.start();
    await advanceTo(clock, T0 + 2500);
    expect(before.jobs.size).toBe(1);
    const persisted = original.getPersistedSnapshot();
    original.stop();

    const after = fakeScheduleMachine({ clock, leaseDurationMs: LEASE_MS, record, shared: { leases: before.leases, store: before.store } });
    const restored = createActor(after.machine, { clock, snapshot: persisted, input: { schedule: record, leaseDurationMs: LEASE_MS } });
    restored.start();
    await settle();
    expect(after.log.acquire).toEqual([]);
    expect(after.log.createJobs).toEqual([]);
    restored.send({ type: 'RESTORED' });
    await advanceTo(clock, T0 + 4500);
    expect([...after.jobs.values()].map((j) => j.fireTime.getTime() - T0)).toEqual([4000]);
  });
});
