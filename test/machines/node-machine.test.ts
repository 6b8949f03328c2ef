import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { nodeMachine } from '../../src/machines/node-machine.js';
import type { NodeInput } from '../../src/machines/node-machine.js';
import { schedulerMachine } from '../../src/machines/scheduler-machine.js';
import { workerMachine } from '../../src/machines/worker-machine.js';
import type { FetchedJob } from '../../src/machines/worker-types.js';
import { testJob } from '../support/fakes/job-fakes.js';
import { schedulerFakes } from '../support/fakes/schedule-fakes.js';
import { muteKnownXStateDevWarnings } from '../support/fakes/model-replay.js';
import { createSimClock, settle } from '../support/fakes/sim-time.js';
import { workerFakes } from '../support/fakes/worker-fakes.js';

const T0 = Date.UTC(2025, 0, 1);

function node(input: NodeInput) {
  const clock = createSimClock(T0);
  const fx = workerFakes();
  // The scheduler's effects as the schedule host provides them: a firing is a stub schedule actor
  // created with the scheduler as parent, ended by the test.
  const sf = schedulerFakes();
  const machine = nodeMachine.provide({
    actors: {
      worker: workerMachine.provide({ actions: fx.actions }),
      scheduler: schedulerMachine.provide({ actions: sf.actions }),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: { ...input, worker: { maxConcurrentJobs: 2 }, scheduler: { maxFirings: 4 } },
  });
  actor.start();
  const worker = () => actor.getSnapshot().children.worker;
  const scheduler = () => actor.getSnapshot().children.scheduler;
  /** What the host's timer heap does when a schedule is due. */
  const fireDue = async (scheduleId: string) => {
    scheduler()!.send({ type: 'FIRE_DUE', scheduleId });
    await settle();
  };
  return { clock, fx, sf, actor, worker, scheduler, fireDue };
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

  it('forwards capacity changes and hints to the worker, RESTORED to both sides', () => {
    const { actor, fx, worker, scheduler } = node({ role: 'both' });
    actor.send({ type: 'START' });
    actor.send({ type: 'CAPACITY_CHANGED', capacity: 7 });
    expect((worker()!.getSnapshot().context as { capacity: number }).capacity).toBe(7);
    fx.answerFetch({ type: 'JOBS_FETCHED', jobs: [] });
    actor.send({ type: 'JOB_AVAILABLE' });
    expect(fx.pendingFetches().map((c) => c.params)).toEqual([{ max: 7, waitMs: 0 }]);
    const before = scheduler()!.getSnapshot();
    actor.send({ type: 'RESTORED' });
    // The scheduler has nothing to re-arm (the host's heap is not persisted): RESTORED changes nothing.
    expect(scheduler()!.getSnapshot().value).toBe(before.value);
    expect(scheduler()!.getSnapshot().context).toEqual(before.context);
  });

  it("the scheduler's firings join the node's actor system, with the scheduler as parent", async () => {
    const { actor, sf, scheduler, fireDue } = node({ role: 'scheduler' });
    actor.send({ type: 'START' });
    await fireDue('s1');
    expect(sf.of('startFiring')).toEqual([{ effect: 'startFiring', scheduleId: 's1' }]);
    expect(sf.firing('s1').system).toBe(actor.system);
    expect(sf.firing('s1')._parent).toBe(scheduler());
    expect(Object.keys(scheduler()!.getSnapshot().children)).toEqual([]);
    sf.firing('s1').send({ type: 'FINISH' });
    expect(sf.of('firingEnded')).toHaveLength(1);
    expect((scheduler()!.getSnapshot().context as { firing: string[] }).firing).toEqual([]);
  });

  it("the worker's job actors join the node's actor system, with the worker as parent", () => {
    const { actor, fx, worker } = node({ role: 'worker' });
    actor.send({ type: 'START' });
    fx.answerFetch({ type: 'JOBS_FETCHED', jobs: [fetched('j1')] });
    expect(fx.job('j1').system).toBe(actor.system);
    expect(Object.keys(worker()!.getSnapshot().children)).toEqual([]);
  });

  it('DRAIN lets running jobs finish and firings in flight end (starting none), then stops', async () => {
    const { actor, fx, sf, scheduler, fireDue } = node({ role: 'both' });
    actor.send({ type: 'START' });
    await fireDue('s1');
    fx.answerFetch({ type: 'JOBS_FETCHED', jobs: [fetched('j1')] });
    actor.send({ type: 'DRAIN' });
    expect(scheduler()!.getSnapshot().value).toBe('stopping');
    expect(fx.stubLog!.shutdown).toEqual([]);
    expect(fx.pendingFetches()).toEqual([]);
    await fireDue('s2'); // the heap may still fire: a stopping scheduler starts nothing
    expect(sf.of('startFiring')).toHaveLength(1);
    fx.finish('j1');
    expect(actor.getSnapshot().matches({ running: { worker: 'ended', scheduler: 'active', lifecycle: 'draining' } })).toBe(true);
    expect(actor.getSnapshot().status).toBe('active');
    sf.firing('s1').send({ type: 'FINISH' });
    await settle();
    expect(sf.of('firingEnded')).toHaveLength(1);
    expect(actor.getSnapshot().status).toBe('done');
  });

  it('STOP stops the scheduler too, once its firings end, however they end', async () => {
    const { actor, sf, fireDue } = node({ role: 'scheduler' });
    actor.send({ type: 'START' });
    await fireDue('s1');
    await fireDue('s2');
    actor.send({ type: 'STOP' });
    expect(actor.getSnapshot().matches({ running: { scheduler: 'active', lifecycle: 'stopping' } })).toBe(true);
    // One firing's partition is lost meanwhile (the keeper's renewal failed): it ends at once.
    sf.firing('s1').send({ type: 'PARTITION_LOST' });
    expect(actor.getSnapshot().status).toBe('active');
    sf.firing('s2').send({ type: 'FINISH' });
    expect(actor.getSnapshot().status).toBe('done');
    expect(sf.of('firingEnded').map((e) => e.effect === 'firingEnded' && e.output?.end)).toEqual(['partition_lost', 'advanced']);
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
