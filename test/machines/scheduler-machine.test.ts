import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { schedulerMachine } from '../../src/machines/scheduler-machine.js';
import type { ScheduleCrashedEvent } from '../../src/machines/scheduler-machine.js';
import { fakeScheduleMachine, intervalNextFireTime, intervalTrigger, testSchedule } from '../support/fakes/schedule-fakes.js';
import { advanceTo, createSimClock, settle } from '../support/fakes/sim-time.js';

const T0 = Date.UTC(2025, 0, 1);
const LEASE_MS = 3000;
const record = (id: string, extra = {}) =>
  testSchedule({ id, trigger: intervalTrigger(T0 + 1000, 1000), nextFireTime: new Date(T0 + 1000), ...extra });

function coordinator(nextFireTime = intervalNextFireTime) {
  const clock = createSimClock(T0);
  const fakes = fakeScheduleMachine({ clock, leaseDurationMs: LEASE_MS, record: record('a'), deps: { nextFireTime } });
  const actor = createActor(schedulerMachine.provide({ actors: { schedule: fakes.machine } }), { clock, input: { leaseDurationMs: LEASE_MS } });
  const crashes: ScheduleCrashedEvent[] = [];
  actor.on('SCHEDULE_CRASHED', (e) => void crashes.push(e));
  actor.start();
  return { clock, fakes, actor, crashes };
}

describe('scheduler coordinator', () => {
  it('spawns one schedule actor per schedule and forwards later records to it', async () => {
    const { clock, fakes, actor } = coordinator();
    actor.send({ type: 'SCHEDULE_UPDATED', schedule: record('a'), recordRevision: 1, now: T0 });
    // Paused through the API before the actor got its lease: the newer record wins.
    actor.send({ type: 'SCHEDULE_UPDATED', ...fakes.edit({ paused: true }), now: T0 });
    await advanceTo(clock, T0 + 5000);
    expect(Object.keys(actor.getSnapshot().children)).toEqual(['a']);
    expect(actor.getSnapshot().children.a!.getSnapshot().matches({ holding: { work: 'paused' } })).toBe(true);
    expect(fakes.jobs.size).toBe(0);
  });

  it('a removed schedule releases its lease, ends and is forgotten', async () => {
    const { fakes, actor } = coordinator();
    actor.send({ type: 'SCHEDULE_UPDATED', schedule: record('a'), recordRevision: 1, now: T0 });
    await settle();
    actor.send({ type: 'SCHEDULE_REMOVED', scheduleId: 'a' });
    await settle();
    expect(fakes.log.release).toBe(1);
    expect(actor.getSnapshot().context.schedules).toEqual({});
    expect(actor.getSnapshot().children).toEqual({});
  });

  it('a crashing schedule actor is reported and forgotten, not respawned in a loop', async () => {
    const broken = () => {
      throw new Error('trigger evaluation failed');
    };
    const { clock, actor, crashes } = coordinator(broken);
    actor.send({ type: 'SCHEDULE_UPDATED', schedule: record('a'), recordRevision: 1, now: T0 });
    await advanceTo(clock, T0 + 2000);
    expect(crashes).toHaveLength(1);
    expect(crashes[0]).toMatchObject({ type: 'SCHEDULE_CRASHED', scheduleId: 'a' });
    expect(actor.getSnapshot().context.schedules).toEqual({});
    expect(actor.getSnapshot().status).toBe('active');
  });

  it('STOP stops every schedule (leases released) and then itself', async () => {
    const { fakes, actor } = coordinator();
    actor.send({ type: 'SCHEDULE_UPDATED', schedule: record('a'), recordRevision: 1, now: T0 });
    await settle();
    actor.send({ type: 'STOP' });
    await settle();
    expect(fakes.log.release).toBe(1);
    expect(actor.getSnapshot().status).toBe('done');
  });
});
