import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { nodeMachine } from '../../src/machines/node-machine.js';
import type { NodeInput } from '../../src/machines/node-machine.js';
import { schedulerMachine } from '../../src/machines/scheduler-machine.js';
import { workerMachine } from '../../src/machines/worker-machine.js';
import type { FetchedJob } from '../../src/machines/worker-types.js';
import { testJob } from '../support/fakes/job-fakes.js';
import { fakeScheduleMachine, intervalTrigger, testSchedule } from '../support/fakes/schedule-fakes.js';
import { muteKnownXStateDevWarnings } from '../support/fakes/model-replay.js';
import { advanceTo, createSimClock, settle } from '../support/fakes/sim-time.js';
import { workerFakes } from '../support/fakes/worker-fakes.js';

const T0 = Date.UTC(2025, 0, 1);
const LEASE_MS = 3000;

function node(input: NodeInput) {
  const clock = createSimClock(T0);
  const fx = workerFakes();
  const schedule = testSchedule({ id: 's1', trigger: intervalTrigger(T0 + 1000, 1000), nextFireTime: new Date(T0 + 1000) });
  const schedules = fakeScheduleMachine({ clock, leaseDurationMs: LEASE_MS, record: schedule });
  const machine = nodeMachine.provide({
    actors: {
      worker: workerMachine.provide({ actions: fx.actions }),
      scheduler: schedulerMachine.provide({ actors: { schedule: schedules.machine } }),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: { ...input, worker: { maxConcurrentJobs: 2 }, scheduler: { leaseDurationMs: LEASE_MS } },
  });
  actor.start();
  const worker = () => actor.getSnapshot().children.worker;
  return { clock, fx, schedule, schedules, actor, worker };
}
const fetched = (id: string): FetchedJob => ({ job: testJob({ id }) });

// Known, harmless warnings of XState's development build (see muteKnownXStateDevWarnings).
let unmute: () => void = () => {};
beforeEach(() => {
  unmute = muteKnownXStateDevWarnings();
});
afterEach(() => unmute());

describe('node machine', () => {
  it('starts the sides its role asks for', () => {
    for (const [role, sides] of [
      ['both', ['worker', 'scheduler']],
      ['worker', ['worker']],
      ['scheduler', ['scheduler']],
    ] as const) {
      const { actor } = node({ role });
      expect(Object.keys(actor.getSnapshot().children)).toEqual([]);
      actor.send({ type: 'START' });
      expect(Object.keys(actor.getSnapshot().children).sort()).toEqual([...sides].sort());
    }
  });

  it('a worker stops fetching while the connection is down and looks again when it is back', () => {
    const { actor, fx, worker } = node({ role: 'worker' });
    actor.send({ type: 'START' });
    fx.answerFetch({ type: 'JOBS_FETCHED', jobs: [] });
    const poll = fx.pendingFetches()[0]!;
    actor.send({ type: 'CONNECTION_LOST' });
    expect(actor.getSnapshot().matches({ running: { connection: 'down' } })).toBe(true);
    expect(worker()!.getSnapshot().value).toBe('offline');
    expect(poll.status).toBe('cancelled');
    actor.send({ type: 'JOB_AVAILABLE' });
    expect(fx.fetches).toHaveLength(2);
    actor.send({ type: 'CONNECTION_RESTORED' });
    expect(fx.pendingFetches().map((c) => c.params)).toEqual([{ max: 2, waitMs: 0 }]);
  });

  it('forwards capacity changes and hints to the worker and schedule records to the scheduler', async () => {
    const { actor, fx, worker, schedule, schedules, clock } = node({ role: 'both' });
    actor.send({ type: 'START' });
    actor.send({ type: 'CAPACITY_CHANGED', capacity: 7 });
    expect((worker()!.getSnapshot().context as { capacity: number }).capacity).toBe(7);
    fx.answerFetch({ type: 'JOBS_FETCHED', jobs: [] });
    actor.send({ type: 'JOB_AVAILABLE' });
    expect(fx.pendingFetches().map((c) => c.params)).toEqual([{ max: 7, waitMs: 0 }]);
    actor.send({ type: 'SCHEDULE_UPDATED', schedule, recordRevision: 1, now: T0 });
    await advanceTo(clock, T0 + 2500);
    expect(schedules.jobs.size).toBe(2);
  });

  it("the worker's job actors join the node's actor system, with the worker as parent", () => {
    const { actor, fx, worker } = node({ role: 'worker' });
    actor.send({ type: 'START' });
    fx.answerFetch({ type: 'JOBS_FETCHED', jobs: [fetched('j1')] });
    expect(fx.job('j1').system).toBe(actor.system);
    expect(Object.keys(worker()!.getSnapshot().children)).toEqual([]);
  });

  it('DRAIN lets running jobs finish, stops schedules (lease released), then stops', async () => {
    const { actor, fx, schedule, schedules } = node({ role: 'both' });
    actor.send({ type: 'START' });
    actor.send({ type: 'SCHEDULE_UPDATED', schedule, recordRevision: 1, now: T0 });
    fx.answerFetch({ type: 'JOBS_FETCHED', jobs: [fetched('j1')] });
    await settle(); // the schedule takes its lease
    actor.send({ type: 'DRAIN' });
    await settle();
    expect(schedules.log.release).toBe(1);
    expect(actor.getSnapshot().matches({ running: { scheduler: 'ended', lifecycle: 'draining' } })).toBe(true);
    expect(fx.stubLog!.shutdown).toEqual([]);
    expect(fx.pendingFetches()).toEqual([]);
    expect(actor.getSnapshot().status).toBe('active');
    fx.finish('j1');
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('STOP hands running jobs back and stops once they have ended', () => {
    const { actor, fx } = node({ role: 'worker' });
    actor.send({ type: 'START' });
    fx.answerFetch({ type: 'JOBS_FETCHED', jobs: [fetched('j1'), fetched('j2')] });
    actor.send({ type: 'STOP' });
    expect(fx.stubLog!.shutdown).toEqual(['j1', 'j2']);
    fx.finish('j1');
    expect(actor.getSnapshot().status).toBe('active');
    fx.finish('j2');
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('DRAIN then STOP: running jobs are handed back after all', () => {
    const { actor, fx } = node({ role: 'worker' });
    actor.send({ type: 'START' });
    fx.answerFetch({ type: 'JOBS_FETCHED', jobs: [fetched('j1')] });
    actor.send({ type: 'DRAIN' });
    expect(fx.stubLog!.shutdown).toEqual([]);
    actor.send({ type: 'STOP' });
    expect(actor.getSnapshot().matches({ running: { lifecycle: 'stopping' } })).toBe(true);
    expect(fx.stubLog!.shutdown).toEqual(['j1']);
    fx.finish('j1');
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('rejects an unknown role with a typed error naming it', () => {
    const actor = createActor(nodeMachine, { input: { role: 'cook' as never } });
    expect(String(actor.getSnapshot().error)).toMatch(/role "cook"/);
  });
});
