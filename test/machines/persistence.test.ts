/**
 * Persisted snapshots: an actor restored with `createActor(logic, { snapshot })` continues where it
 * was without replaying side effects. XState persists state and context (children too, but job
 * actors are not the worker's children: they have it as parent only), not pending delayed events;
 * effects are actions, so nothing in flight is persisted either. The worker decides (and fetches)
 * again on RESTORED, which the runtime sends right after starting a restored actor. The same holds
 * on the schedule side: a schedule actor (one firing) restored mid-firing replays no publish or
 * advance, and the scheduler's snapshot keeps the firings it booked (their actors, like job
 * actors, are the scheduler's by parent only). Snapshots go through structuredClone: a live handle
 * in context would not survive it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import type { SimulatedClock } from 'xstate';
import { workerMachine } from '../../src/machines/worker-machine.js';
import type { FetchedJob } from '../../src/machines/worker-types.js';
import { controlledJobLogic, endEvents, jobUnderParent, restoreJobUnderParent, testJob } from '../support/fakes/job-fakes.js';
import { schedulerMachine } from '../../src/machines/scheduler-machine.js';
import type { ScheduleOutput } from '../../src/machines/schedule-types.js';
import {
  controlledScheduleLogic,
  fireJobId,
  firingEndEvents,
  intervalTrigger,
  restoreScheduleUnderParent,
  schedulerFakes,
  scheduleUnderParent,
  testSchedule,
} from '../support/fakes/schedule-fakes.js';
import { advanceBy, createSimClock, settle } from '../support/fakes/sim-time.js';
import { muteKnownXStateDevWarnings } from '../support/fakes/model-replay.js';
import { workerFakes } from '../support/fakes/worker-fakes.js';

const T0 = Date.UTC(2025, 0, 1);
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

  // ---- the schedule side ------------------------------------------------------------------------

  const record = testSchedule({ id: 'persisted-schedule', trigger: intervalTrigger(T0, 1000), nextFireTime: new Date(T0), coalesce: 'all' });
  const firingInput = { schedule: record, recordRevision: 3, now: T0 + 1500 };

  it('a schedule actor persisted mid-firing (advancing) and restored replays no publish and no advance; the answer ends it once', () => {
    const original = controlledScheduleLogic();
    const first = scheduleUnderParent(original.logic, firingInput);
    const jobIds = [fireJobId(record.id, new Date(T0)), fireJobId(record.id, new Date(T0 + 1000))];
    original.answer({ type: 'JOBS_PUBLISHED', jobIds });
    expect(first.actor.getSnapshot().value).toBe('advancing');
    const persisted = persist(first.actor) as { context: { recordRevision: number; plan: { fires: unknown[] }; jobIds: string[] } };
    first.parent.stop();
    // Plain data only: the plan (dates) and the revision survive structuredClone.
    expect(persisted.context.recordRevision).toBe(3);
    expect(persisted.context.plan.fires).toHaveLength(2);
    expect(persisted.context.jobIds).toEqual(jobIds);

    const restored = controlledScheduleLogic();
    const again = restoreScheduleUnderParent(restored.logic, record.id, persisted);
    expect(again.actor.getSnapshot().value).toBe('advancing');
    expect(restored.all()).toEqual([]); // neither publishJobs nor advanceSchedule is replayed
    expect(again.received()).toEqual([]);
    // Whoever re-drives the advance (the host, with the revision the context holds) answers it.
    again.actor.send({ type: 'SCHEDULE_ADVANCED', recordRevision: 4 });
    const output = again.actor.getSnapshot().output as ScheduleOutput;
    expect(output).toMatchObject({ end: 'advanced', recordRevision: 4, jobIds, schedule: { nextFireTime: new Date(T0 + 2000) } });
    expect(again.received()).toEqual(firingEndEvents(record.id, output));
    expect(restored.all()).toEqual([]);
  });

  it('a schedule actor persisted while publishing and restored does not publish again', () => {
    const original = controlledScheduleLogic();
    const first = scheduleUnderParent(original.logic, firingInput);
    expect(first.actor.getSnapshot().value).toBe('publishing');
    const persisted = persist(first.actor);
    first.parent.stop();
    const restored = controlledScheduleLogic();
    const again = restoreScheduleUnderParent(restored.logic, record.id, persisted);
    expect(restored.all()).toEqual([]);
    // Its entry ran before the snapshot: the restored actor goes on from the publish's answer.
    again.actor.send({ type: 'JOBS_PUBLISHED', jobIds: ['j'] });
    expect(restored.all().map((c) => c.name)).toEqual(['advanceSchedule']);
    expect(restored.last('advanceSchedule').params.recordRevision).toBe(3);
  });

  it('a schedule actor restored after its firing ended does not report FIRING_ENDED again', () => {
    const original = controlledScheduleLogic();
    const first = scheduleUnderParent(original.logic, { ...firingInput, schedule: { ...record, paused: true } });
    const output = first.actor.getSnapshot().output as ScheduleOutput;
    expect(first.received()).toEqual(firingEndEvents(record.id, output));
    const persisted = persist(first.actor);
    first.parent.stop();
    const again = restoreScheduleUnderParent(controlledScheduleLogic().logic, record.id, persisted);
    expect(again.actor.getSnapshot().status).toBe('done');
    // The final state's entry (FIRING_ENDED) is not replayed; XState itself re-sends the done
    // event, which the scheduler ignores.
    expect(again.received()).toEqual(firingEndEvents(record.id, output).slice(1));
  });

  it("the scheduler's persisted snapshot keeps its firing set: a booked schedule is not started twice, its end is booked", async () => {
    const fx = schedulerFakes();
    const before = createActor(schedulerMachine.provide({ actions: fx.actions }), { input: { maxFirings: 2 } });
    before.start();
    before.send({ type: 'FIRE_DUE', scheduleId: 'b' });
    before.send({ type: 'FIRE_DUE', scheduleId: 'a' });
    before.send({ type: 'PARTITIONS_CHANGED', partitions: [4, 9] });
    await settle();
    const persisted = persist(before) as { context: { firing: string[]; partitions: number[] }; children: object };
    before.stop();
    expect(persisted.context.firing).toEqual(['a', 'b']);
    expect(persisted.context.partitions).toEqual([4, 9]);
    // The firings are the scheduler's by parent, not spawned children: not in its snapshot.
    expect(persisted.children).toEqual({});

    const after = schedulerFakes();
    const restored = createActor(schedulerMachine.provide({ actions: after.actions }), { snapshot: persisted as never, input: { maxFirings: 2 } });
    restored.start();
    restored.send({ type: 'RESTORED' });
    expect(after.effects).toEqual([]);
    restored.send({ type: 'FIRE_DUE', scheduleId: 'a' }); // still firing: ignored
    restored.send({ type: 'FIRE_DUE', scheduleId: 'c' }); // both slots still taken: deferred
    expect(after.effects).toEqual([{ effect: 'deferFiring', scheduleId: 'c' }]);
    // The re-hosted firing of `a` reports its end to the restored scheduler.
    const output: ScheduleOutput = { scheduleId: 'a', end: 'advanced', schedule: null, recordRevision: 2, jobIds: [] };
    restored.send({ type: 'FIRING_ENDED', output });
    expect(after.of('firingEnded')).toEqual([{ effect: 'firingEnded', scheduleId: 'a', output }]);
    expect(restored.getSnapshot().context.firing).toEqual(['b']);
  });
});
