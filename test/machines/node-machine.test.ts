import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { nodeMachine } from '../../src/machines/node-machine.js';
import type { NodeInput } from '../../src/machines/node-machine.js';
import { schedulerMachine } from '../../src/machines/scheduler-machine.js';
import { workerMachine } from '../../src/machines/worker-machine.js';
import type { FetchedJob } from '../../src/machines/worker-types.js';
import { testJob } from '../support/fakes/job-fakes.js';
import { fakeScheduleMachine, intervalTrigger, testSchedule } from '../support/fakes/schedule-fakes.js';
import { muteLateChildDoneWarnings } from '../support/fakes/model-replay.js';
import { advanceTo, createSimClock, settle } from '../support/fakes/sim-time.js';
import { controlledFetch, stubJobLogic } from '../support/fakes/worker-fakes.js';

const T0 = Date.UTC(2025, 0, 1);
const LEASE_MS = 3000;

function node(input: NodeInput) {
  const clock = createSimClock(T0);
  const fetch = controlledFetch();
  const jobs = stubJobLogic();
  const schedule = testSchedule({ id: 's1', trigger: intervalTrigger(T0 + 1000, 1000), nextFireTime: new Date(T0 + 1000) });
  const schedules = fakeScheduleMachine({ clock, leaseDurationMs: LEASE_MS, record: schedule });
  const machine = nodeMachine.provide({
    actors: {
      worker: workerMachine.provide({ actors: { fetchJobs: fetch.logic, job: jobs.logic } }),
      scheduler: schedulerMachine.provide({ actors: { schedule: schedules.machine } }),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: { ...input, worker: { leaseDurationMs: LEASE_MS, maxConcurrentJobs: 2 }, scheduler: { leaseDurationMs: LEASE_MS } },
  });
  actor.start();
  const worker = () => actor.getSnapshot().children.worker;
  return { clock, fetch, jobs, schedule, schedules, actor, worker };
}
const fetched = (id: string): FetchedJob => ({ job: testJob({ id }) });

// The worker stops on its last job's SLOT_RELEASED; that job's own done event then reaches a
// stopped worker, which XState's development build reports. Harmless; muted here.
let unmute: () => void = () => {};
beforeEach(() => {
  unmute = muteLateChildDoneWarnings();
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

  it('a worker stops fetching while the connection is down and looks again when it is back', async () => {
    const { actor, fetch, worker } = node({ role: 'worker' });
    actor.send({ type: 'START' });
    fetch.last()!.answer.resolve([]);
    await settle();
    actor.send({ type: 'CONNECTION_LOST' });
    expect(actor.getSnapshot().matches({ running: { connection: 'down' } })).toBe(true);
    expect(worker()!.getSnapshot().value).toBe('offline');
    actor.send({ type: 'JOB_AVAILABLE' });
    expect(fetch.calls).toHaveLength(1);
    actor.send({ type: 'CONNECTION_RESTORED' });
    expect(fetch.calls).toHaveLength(2);
  });

  it('forwards capacity changes to the worker and schedule records to the scheduler', async () => {
    const { actor, worker, schedule, schedules, clock } = node({ role: 'both' });
    actor.send({ type: 'START' });
    actor.send({ type: 'CAPACITY_CHANGED', capacity: 7 });
    expect((worker()!.getSnapshot().context as { capacity: number }).capacity).toBe(7);
    actor.send({ type: 'SCHEDULE_UPDATED', schedule, recordRevision: 1, now: T0 });
    await advanceTo(clock, T0 + 2500);
    expect(schedules.jobs.size).toBe(2);
  });

  it('DRAIN lets running jobs finish, stops schedules (lease released), then stops', async () => {
    const { actor, fetch, jobs, worker, schedule, schedules } = node({ role: 'both' });
    actor.send({ type: 'START' });
    actor.send({ type: 'SCHEDULE_UPDATED', schedule, recordRevision: 1, now: T0 });
    fetch.last()!.answer.resolve([fetched('j1')]);
    await settle();
    actor.send({ type: 'DRAIN' });
    await settle();
    expect(schedules.log.release).toBe(1);
    expect(actor.getSnapshot().matches({ running: { scheduler: 'ended', lifecycle: 'draining' } })).toBe(true);
    expect(jobs.log.shutdown).toEqual([]);
    expect(actor.getSnapshot().status).toBe('active');
    worker()!.getSnapshot().children.j1!.send({ type: 'FINISH' } as never);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('STOP hands running jobs back and stops once they have ended', async () => {
    const { actor, fetch, jobs, worker } = node({ role: 'worker' });
    actor.send({ type: 'START' });
    fetch.last()!.answer.resolve([fetched('j1'), fetched('j2')]);
    await settle();
    const running = worker()!;
    actor.send({ type: 'STOP' });
    expect(jobs.log.shutdown).toEqual(['j1', 'j2']);
    running.getSnapshot().children.j1!.send({ type: 'FINISH' } as never);
    running.getSnapshot().children.j2!.send({ type: 'FINISH' } as never);
    await settle();
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('rejects an unknown role with a typed error naming it', () => {
    const actor = createActor(nodeMachine, { input: { role: 'cook' as never } });
    expect(String(actor.getSnapshot().error)).toMatch(/role "cook"/);
  });
});
