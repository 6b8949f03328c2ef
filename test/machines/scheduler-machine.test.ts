/**
 * Unit tests of the scheduler machine: it books firings. FIRE_DUE (from the host's timer heap)
 * starts a schedule actor for the firing through the startFiring effect — created, as the host
 * creates it, a microtask later with the scheduler as parent — unless that schedule is already
 * firing or every firing slot is busy (deferFiring). The firing's FIRING_ENDED, or its crash,
 * frees the slot and tells the host (firingEnded).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { schedulerMachine } from '../../src/machines/scheduler-machine.js';
import type { ScheduleInput } from '../../src/machines/schedule-types.js';
import { muteKnownXStateDevWarnings } from '../support/fakes/model-replay.js';
import {
  autoScheduleLogic,
  FakeScheduleStore,
  intervalTrigger,
  schedulerFakes,
  stubOutput,
  testSchedule,
  type SchedulerFakeOptions,
} from '../support/fakes/schedule-fakes.js';
import { settle } from '../support/fakes/sim-time.js';

const T0 = Date.UTC(2025, 0, 1);

function scheduler(maxFirings?: number, options: SchedulerFakeOptions = {}) {
  const fx = schedulerFakes(options);
  const actor = createActor(schedulerMachine.provide({ actions: fx.actions }), { input: maxFirings === undefined ? {} : { maxFirings } });
  fx.watchCrashes(actor);
  actor.start();
  const due = async (scheduleId: string) => {
    actor.send({ type: 'FIRE_DUE', scheduleId });
    await settle();
  };
  const firing = () => actor.getSnapshot().context.firing;
  return { fx, actor, due, firing };
}

let unmute: () => void = () => {};
beforeEach(() => {
  unmute = muteKnownXStateDevWarnings();
});
afterEach(() => unmute());

describe('scheduler machine', () => {
  it('FIRE_DUE starts a firing: a schedule actor with the scheduler as parent, in its system, not among its children', async () => {
    const s = scheduler();
    await s.due('b');
    await s.due('a');
    expect(s.fx.effects).toEqual([
      { effect: 'startFiring', scheduleId: 'b' },
      { effect: 'startFiring', scheduleId: 'a' },
    ]);
    expect(s.firing()).toEqual(['a', 'b']);
    expect(s.fx.live()).toEqual(['a', 'b']);
    expect(s.fx.firing('a').system).toBe(s.actor.system);
    expect(s.fx.firing('a')._parent).toBe(s.actor);
    expect(s.actor.getSnapshot().children).toEqual({});
  });

  it('a FIRE_DUE for a schedule already firing is ignored', async () => {
    const s = scheduler();
    await s.due('a');
    await s.due('a');
    expect(s.fx.of('startFiring')).toHaveLength(1);
    expect(s.fx.started).toHaveLength(1);
    expect(s.fx.of('deferFiring')).toEqual([]);
  });

  it('with every slot busy a firing is deferred; a freed slot takes the next FIRE_DUE', async () => {
    const s = scheduler(2);
    await s.due('a');
    await s.due('b');
    await s.due('c');
    expect(s.fx.of('deferFiring')).toEqual([{ effect: 'deferFiring', scheduleId: 'c' }]);
    expect(s.firing()).toEqual(['a', 'b']);
    s.fx.firing('a').send({ type: 'FINISH' });
    await s.due('c');
    expect(s.firing()).toEqual(['b', 'c']);
    expect(s.fx.live()).toEqual(['b', 'c']);
  });

  it('FIRING_ENDED frees the slot and calls firingEnded once with the output (the done event after it changes nothing)', async () => {
    const s = scheduler(1);
    await s.due('a');
    const input = s.fx.started[0]!.actor.getSnapshot().context.input as ScheduleInput;
    s.fx.firing('a').send({ type: 'FINISH', end: 'not_due' });
    await settle();
    expect(s.fx.of('firingEnded')).toEqual([{ effect: 'firingEnded', scheduleId: 'a', output: stubOutput(input, 'not_due') }]);
    expect(s.firing()).toEqual([]);
    await s.due('a');
    expect(s.fx.of('startFiring')).toHaveLength(2);
  });

  it('a FIRING_ENDED for a schedule not firing is ignored', () => {
    const s = scheduler();
    s.actor.send({ type: 'FIRING_ENDED', output: { scheduleId: 'ghost', end: 'advanced', schedule: null, recordRevision: 0, jobIds: [] } });
    expect(s.fx.effects).toEqual([]);
    expect(s.actor.getSnapshot().context.firing).toEqual([]);
  });

  it('a crashed schedule actor frees its slot, emits SCHEDULE_CRASHED and calls firingEnded with null, once', async () => {
    const s = scheduler(1);
    await s.due('a');
    s.fx.firing('a').send({ type: 'CRASH' });
    await settle();
    expect(s.fx.firing('a').getSnapshot().status).toBe('error');
    expect(s.firing()).toEqual([]);
    expect(s.fx.of('firingEnded')).toEqual([{ effect: 'firingEnded', scheduleId: 'a', output: null }]);
    expect(s.fx.crashes).toHaveLength(1);
    expect(s.fx.crashes[0]).toMatchObject({ type: 'SCHEDULE_CRASHED', scheduleId: 'a' });
    expect(String(s.fx.crashes[0]!.error)).toMatch(/schedule actor crashed/);
    await s.due('b');
    expect(s.firing()).toEqual(['b']);
  });

  // XState makes an error event no transition takes the machine's own error: the scheduler takes
  // every child's error event and ignores it (a firing's crash comes as the host's FIRING_CRASHED).
  it('a child actor\'s error event is ignored (the scheduler keeps running)', () => {
    const s = scheduler();
    const errors: unknown[] = [];
    s.actor.subscribe({ error: (error) => void errors.push(error) });
    s.actor.send({ type: 'xstate.error.actor.stranger', error: new Error('not ours') });
    expect(s.fx.effects).toEqual([]);
    expect(s.fx.crashes).toEqual([]);
    expect(s.actor.getSnapshot().status).toBe('active');
    expect(errors).toEqual([]);
  });

  it('STOP waits for the firings in flight (no new ones start, none deferred), then stops', async () => {
    const s = scheduler(1);
    await s.due('a');
    s.actor.send({ type: 'STOP' });
    expect(s.actor.getSnapshot().value).toBe('stopping');
    await s.due('b');
    await s.due('a');
    expect(s.fx.of('startFiring')).toHaveLength(1);
    expect(s.fx.of('deferFiring')).toEqual([]);
    s.fx.firing('a').send({ type: 'FINISH' });
    await settle();
    expect(s.fx.of('firingEnded')).toHaveLength(1);
    expect(s.actor.getSnapshot().value).toBe('stopped');
    expect(s.actor.getSnapshot().status).toBe('done');
  });

  it('a crash while stopping counts as the end of that firing', async () => {
    const s = scheduler();
    await s.due('a');
    s.actor.send({ type: 'STOP' });
    s.fx.firing('a').send({ type: 'CRASH' });
    await settle();
    expect(s.actor.getSnapshot().status).toBe('done');
    expect(s.fx.of('firingEnded')).toEqual([{ effect: 'firingEnded', scheduleId: 'a', output: null }]);
  });

  it('STOP with nothing firing stops at once', () => {
    const s = scheduler();
    s.actor.send({ type: 'STOP' });
    expect(s.actor.getSnapshot().status).toBe('done');
  });

  it('PARTITIONS_CHANGED records the partitions held, also while stopping', async () => {
    const s = scheduler();
    s.actor.send({ type: 'PARTITIONS_CHANGED', partitions: [3, 17] });
    expect(s.actor.getSnapshot().context.partitions).toEqual([3, 17]);
    await s.due('a');
    s.actor.send({ type: 'STOP' });
    s.actor.send({ type: 'PARTITIONS_CHANGED', partitions: [] });
    expect(s.actor.getSnapshot().context.partitions).toEqual([]);
    expect(s.fx.of('startFiring')).toHaveLength(1);
  });

  it('rejects a maxFirings that is not an integer ≥ 1, naming it', () => {
    for (const maxFirings of [0, 1.5, -1, Number.NaN]) {
      expect(String(createActor(schedulerMachine, { input: { maxFirings } }).getSnapshot().error)).toMatch(/maxFirings/);
    }
    expect(createActor(schedulerMachine, { input: {} }).getSnapshot().context.maxFirings).toBeGreaterThanOrEqual(1);
  });

  it('with the real schedule machine: a due firing publishes, advances and reports where the schedule stands', async () => {
    const record = testSchedule({ id: 'real', trigger: intervalTrigger(T0, 1000), nextFireTime: new Date(T0) });
    const store = new FakeScheduleStore(record, 5);
    const now = () => T0 + 1500;
    const s = scheduler(4, { logic: autoScheduleLogic(store, now), inputFor: () => ({ schedule: store.record!, recordRevision: store.revision, now: now() }) });
    await s.due('real');
    await settle(3);
    expect(store.fireTimes(T0)).toEqual([1000]);
    const [ended] = s.fx.of('firingEnded');
    expect(ended).toMatchObject({ scheduleId: 'real', output: { end: 'advanced', recordRevision: 6, jobIds: [`real@${new Date(T0 + 1000).toISOString()}`] } });
    expect(s.firing()).toEqual([]);
    expect(s.fx.firing('real').getSnapshot().status).toBe('done');
  });

  it('with the real schedule machine: a paused schedule ends the firing at once', async () => {
    const record = testSchedule({ id: 'paused', trigger: intervalTrigger(T0, 1000), nextFireTime: new Date(T0), paused: true });
    const store = new FakeScheduleStore(record, 2);
    const s = scheduler(1, { logic: autoScheduleLogic(store, () => T0 + 1500), inputFor: () => ({ schedule: record, recordRevision: 2, now: T0 + 1500 }) });
    await s.due('paused');
    expect(s.fx.of('firingEnded')).toEqual([
      { effect: 'firingEnded', scheduleId: 'paused', output: { scheduleId: 'paused', end: 'paused', schedule: record, recordRevision: 2, jobIds: [] } },
    ]);
    expect(s.firing()).toEqual([]);
    expect(store.log.publish).toEqual([]);
  });
});
