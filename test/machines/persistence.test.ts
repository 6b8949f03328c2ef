/**
 * Persisted snapshots: an actor restored with `createActor(logic, { snapshot })` continues where it
 * was without replaying side effects. XState persists state and context (children too, but job
 * actors are not the worker's children: they have it as parent only), not pending delayed events;
 * effects are actions, so nothing in flight is persisted either. The worker decides (and fetches)
 * again on RESTORED, which the runtime sends right after starting a restored actor. Snapshots go
 * through structuredClone: a live handle in context would not survive it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import type { SimulatedClock } from 'xstate';
import { workerMachine } from '../../src/machines/worker-machine.js';
import type { FetchedJob } from '../../src/machines/worker-types.js';
import { controlledJobLogic, endEvents, jobUnderParent, restoreJobUnderParent, testJob } from '../support/fakes/job-fakes.js';
import { fakeScheduleMachine, intervalTrigger, testSchedule } from '../support/fakes/schedule-fakes.js';
import { advanceBy, advanceTo, createSimClock, settle } from '../support/fakes/sim-time.js';
import { muteKnownXStateDevWarnings } from '../support/fakes/model-replay.js';
import { workerFakes } from '../support/fakes/worker-fakes.js';

const T0 = Date.UTC(2025, 0, 1);
const LEASE_MS = 3000;
const fetched = (id: string): FetchedJob => ({ job: testJob({ id }) });

function worker(clock: SimulatedClock, snapshot?: unknown) {
  const fx = workerFakes();
  const actor = createActor(workerMachine.provide({ actions: fx.actions }), {
    clock,
    input: { maxConcurrentJobs: 2, pollIntervalMs: 1000, fetchRetryInitialMs: 100 },
    ...(snapshot ? { snapshot: snapshot as never } : {}),
  });
  actor.start();
  return { fx, actor };
}

/** Persists and stops `actor`, the snapshot passed through structuredClone (plain data only). */
function persist(actor: { getPersistedSnapshot(): unknown }): unknown {
  return structuredClone(actor.getPersistedSnapshot());
}

let unmute: () => void = () => {};
beforeEach(() => {
  unmute = muteKnownXStateDevWarnings();
});
afterEach(() => unmute());

describe('persisted snapshots', () => {
  it('a full worker restored replays no fetch and no job start; a released slot then fetches for itself', () => {
    const clock = createSimClock(T0);
    const before = worker(clock);
    before.fx.answerFetch({ type: 'JOBS_FETCHED', jobs: [fetched('j1'), fetched('j2')] });
    expect(before.actor.getSnapshot().value).toBe('full');
    const persisted = persist(before.actor) as { children: object; context: { running: string[] } };
    before.actor.stop();
    // The job actors are not in it: they are the worker's by parent, not spawned children.
    expect(persisted.children).toEqual({});
    expect(persisted.context.running).toEqual(['j1', 'j2']);

    const after = worker(clock, persisted);
    after.actor.send({ type: 'RESTORED' });
    expect(after.fx.effects).toEqual([]);
    expect(after.fx.started).toEqual([]);
    expect(after.actor.getSnapshot().value).toBe('full');
    // And it works on: a job's end (its re-hosted actor's SLOT_RELEASED) frees a slot for a fetch.
    after.actor.send({ type: 'SLOT_RELEASED', jobId: 'j1' });
    expect(after.fx.pendingFetches().map((c) => c.params.max)).toEqual([1]);
  });

  it('a waiting worker restored has no fetch in flight until RESTORED decides again', async () => {
    const clock = createSimClock(T0);
    const before = worker(clock);
    before.fx.answerFetch({ type: 'JOBS_FETCHED', jobs: [] });
    expect(before.actor.getSnapshot().value).toBe('waiting');
    const persisted = persist(before.actor);
    before.actor.stop();

    const after = worker(clock, persisted);
    await advanceBy(clock, 10_000);
    expect(after.fx.effects).toEqual([]); // the long poll was an action, not persisted
    after.actor.send({ type: 'RESTORED' });
    expect(after.fx.pendingFetches().map((c) => c.params)).toEqual([{ max: 2, waitMs: 1000 }]);
  });

  it('a backing-off worker restored has lost its retry timer; RESTORED fetches at once', async () => {
    const clock = createSimClock(T0);
    const before = worker(clock);
    before.fx.answerFetch({ type: 'FETCH_FAILED', error: 'down' });
    expect(before.actor.getSnapshot().value).toBe('backingOff');
    const persisted = persist(before.actor);
    before.actor.stop();

    const after = worker(clock, persisted);
    await advanceBy(clock, 10_000);
    expect(after.fx.fetches).toEqual([]); // XState did not persist the delayed event
    after.actor.send({ type: 'RESTORED' });
    expect(after.fx.pendingFetches().map((c) => c.params)).toEqual([{ max: 2, waitMs: 0 }]);
  });

  it('a job restored while committing replays no effect and releases no slot; its answer ends it once', () => {
    const job = testJob({ id: 'persisted-job' });
    const original = controlledJobLogic();
    const first = jobUnderParent(original.logic, { job, nodeId: 'n1' });
    original.answer('acquireLease', { type: 'LEASE_ACQUIRED', lease: { revision: 4 }, attempt: 1, now: T0, previousAttemptAbandoned: false });
    original.answer('runTask', { type: 'TASK_SUCCEEDED', value: { n: 1 } });
    expect(first.job.getSnapshot().value).toBe('committing');
    const persisted = persist(first.job);
    first.parent.stop();

    const restored = controlledJobLogic();
    const { job: actor, received } = restoreJobUnderParent(restored.logic, job.id, persisted);
    expect(actor.getSnapshot().value).toBe('committing');
    expect(actor.getSnapshot().context.lease).toEqual({ revision: 4 });
    expect([restored.calls.acquireLease, restored.calls.runTask, restored.calls.commitResult, restored.aborts]).toEqual([[], [], [], []]);
    expect(received()).toEqual([]);

    // Whoever re-drives the commit (the host) answers it; the job ends once, releasing its slot.
    const result = { ...original.last('commitResult').params.result, finishedAt: new Date(T0 + 1) };
    actor.send({ type: 'RESULT_COMMITTED', result });
    expect(actor.getSnapshot().output).toEqual({ kind: 'result', result });
    expect(received()).toEqual(endEvents(job.id, { kind: 'result', result }));
  });

  it('a job restored after it ended does not release its slot again', () => {
    const job = testJob({ id: 'ended-job' });
    const fx = controlledJobLogic();
    const first = jobUnderParent(fx.logic, { job });
    fx.answer('acquireLease', { type: 'LEASE_NOT_ACQUIRED', reason: 'held_elsewhere' });
    const output = { kind: 'skipped', reason: 'held_elsewhere' } as const;
    expect(first.received()).toEqual(endEvents(job.id, output));
    const persisted = persist(first.job);

    const again = restoreJobUnderParent(controlledJobLogic().logic, job.id, persisted);
    expect(again.job.getSnapshot().status).toBe('done');
    expect(again.job.getSnapshot().output).toEqual(output);
    // The final state's entry (SLOT_RELEASED) is not replayed; XState itself re-sends the done
    // event, which the worker does not count as a release. So a worker restored with this job
    // still in `running` would keep its slot taken: whoever restores a worker must not count jobs
    // that already ended as running.
    expect(again.received()).toEqual(endEvents(job.id, output).slice(1));
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
