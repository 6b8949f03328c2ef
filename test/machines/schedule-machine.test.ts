import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import type { SimulatedClock } from 'xstate';
import type { ScheduleRecord } from '../../src/records.js';
import { fakeScheduleMachine, intervalTrigger, testSchedule, type ScheduleFakeOptions } from '../support/fakes/schedule-fakes.js';
import { advanceBy, advanceTo, createSimClock, settle } from '../support/fakes/sim-time.js';

const T0 = Date.UTC(2025, 0, 1);
const LEASE_MS = 3000;
const every1s = (overrides: Partial<ScheduleRecord> = {}) =>
  testSchedule({ trigger: intervalTrigger(T0 + 1000, 1000), nextFireTime: new Date(T0 + 1000), ...overrides });

function start(clock: SimulatedClock, options: Omit<ScheduleFakeOptions, 'clock' | 'leaseDurationMs'>) {
  const fakes = fakeScheduleMachine({ clock, leaseDurationMs: LEASE_MS, ...options });
  const actor = createActor(fakes.machine, { clock, input: { schedule: options.record, recordRevision: 1, leaseDurationMs: LEASE_MS } });
  actor.start();
  return { ...fakes, actor };
}
const fireTimes = (jobs: Map<string, { fireTime: Date }>) => [...jobs.values()].map((j) => j.fireTime.getTime() - T0);

describe('schedule machine', () => {
  it('fires at each fire time, proving the lease right before, and advances the record', async () => {
    const clock = createSimClock(T0);
    const s = start(clock, { record: every1s() });
    await advanceTo(clock, T0 + 3500);
    expect(fireTimes(s.jobs)).toEqual([1000, 2000, 3000]);
    expect([...s.jobs.keys()][0]).toBe(`sched-1:${new Date(T0 + 1000).toISOString()}`);
    // Each createJobs follows a renewal made at the same instant (the proof).
    for (const { at } of s.log.createJobs) expect(s.log.renew).toContain(at);
    expect(s.store.record!.nextFireTime).toEqual(new Date(T0 + 4000));
    expect(s.store.record!.lastFireTime).toEqual(new Date(T0 + 3000));
    expect(s.actor.getSnapshot().matches({ holding: { work: 'waiting' } })).toBe(true);
  });

  it('after an outage fires once for the missed times under `latest`, once per time under `all`', async () => {
    const clock = createSimClock(T0 + 5500);
    const latest = start(clock, { record: every1s({ coalesce: 'latest' }) });
    await advanceBy(clock, 0);
    expect(fireTimes(latest.jobs)).toEqual([5000]);
    expect(latest.store.record!.nextFireTime).toEqual(new Date(T0 + 6000));

    const all = start(clock, { record: every1s({ id: 'sched-all', coalesce: 'all' }) });
    await advanceBy(clock, 0);
    expect(fireTimes(all.jobs)).toEqual([1000, 2000, 3000, 4000, 5000]);
  });

  it('gives jobs jitter and a start deadline of fire + jitter + misfireGraceTime', async () => {
    const clock = createSimClock(T0);
    const s = start(clock, { record: every1s({ maxJitterMs: 400, misfireGraceTimeMs: 250 }), deps: { random: () => 0.5 } });
    await advanceTo(clock, T0 + 1000);
    expect([...s.jobs.values()][0]).toEqual({
      fireTime: new Date(T0 + 1000),
      jitterMs: 200,
      runAt: new Date(T0 + 1200),
      startDeadline: new Date(T0 + 1450),
    });
  });

  it('stops firing when its renewal finds the lease taken, never fires while another node holds it, takes over after', async () => {
    const clock = createSimClock(T0);
    const s = start(clock, { record: every1s({ trigger: intervalTrigger(T0 + 10_000, 10_000), nextFireTime: new Date(T0 + 10_000) }) });
    await advanceBy(clock, 1);
    // node-b takes the key (ours "expired" during a pause) and keeps renewing it until T0 + 60 s.
    const keepHeld = () => {
      s.leases.steal('schedule.sched-1', 'node-b');
      if (clock.now() < T0 + 60_000) clock.setTimeout(keepHeld, 1000);
    };
    keepHeld();
    await advanceTo(clock, T0 + 60_000);
    expect(s.jobs.size).toBe(0);
    expect(s.log.renew).toHaveLength(1); // the first renewal found the revision moved: lost
    expect(s.log.acquire.length).toBeGreaterThan(10); // lost/standby: it keeps asking
    // node-b is gone: its key lapses and this node takes the schedule back. node-b never advanced
    // the record here, so the missed times 10 s…60 s coalesce (`latest`) into one job, then 70 s.
    await advanceTo(clock, T0 + 70_000);
    expect(fireTimes(s.jobs)).toEqual([60_000, 70_000]);
    expect(s.log.createJobs[0]!.at).toBeGreaterThanOrEqual(T0 + 63_000); // not before node-b's key lapsed
  });

  it('does not fire when the proof renewal fails', async () => {
    const clock = createSimClock(T0);
    const s = start(clock, {
      record: every1s(),
      renew: () => ({ status: 'lost', reason: 'revision_moved' }),
    });
    await advanceTo(clock, T0 + 1000);
    expect(s.log.renew).toEqual([T0 + 1000]);
    expect(s.jobs.size).toBe(0);
    expect(s.actor.getSnapshot().value).toBe('lost');
  });

  it('an exhausted trigger finishes the schedule and releases its lease', async () => {
    const clock = createSimClock(T0);
    const s = start(clock, { record: every1s({ trigger: intervalTrigger(T0 + 1000, 1000, T0 + 2000) }) });
    await advanceTo(clock, T0 + 5000);
    expect(fireTimes(s.jobs)).toEqual([1000, 2000]);
    expect(s.actor.getSnapshot().status).toBe('done');
    expect(s.actor.getSnapshot().output).toEqual({ scheduleId: 'sched-1', end: 'finished' });
    expect(s.log.release).toBe(1);
  });

  it('pauses and resumes on record updates; older revisions are ignored', async () => {
    const clock = createSimClock(T0);
    const s = start(clock, { record: every1s() });
    await advanceTo(clock, T0 + 1500);
    s.actor.send({ type: 'SCHEDULE_UPDATED', ...s.edit({ paused: true }), now: clock.now() });
    await advanceTo(clock, T0 + 4500);
    expect(fireTimes(s.jobs)).toEqual([1000]);
    expect(s.actor.getSnapshot().matches({ holding: { work: 'paused' } })).toBe(true);
    s.actor.send({ type: 'SCHEDULE_UPDATED', schedule: { ...s.store.record!, paused: false }, recordRevision: 1, now: clock.now() });
    expect(s.actor.getSnapshot().matches({ holding: { work: 'paused' } })).toBe(true);
    s.actor.send({ type: 'SCHEDULE_UPDATED', ...s.edit({ paused: false, nextFireTime: new Date(T0 + 5000) }), now: clock.now() });
    await advanceTo(clock, T0 + 5000);
    expect(fireTimes(s.jobs)).toEqual([1000, 5000]);
  });

  it('an advance that finds the record changed reloads it and plans again', async () => {
    const clock = createSimClock(T0);
    const s = start(clock, { record: every1s() });
    await advanceBy(clock, 1);
    s.edit({ maxJitterMs: 0 }); // changed by the API; the watch event has not arrived
    await advanceTo(clock, T0 + 1000);
    expect(s.log.advance[0]!.recordRevision).toBe(1);
    expect(s.log.load).toBe(1);
    // Reloaded record still has nextFireTime 1000 (the advance never landed): fired again with
    // the same deterministic id, so still one job, then advanced.
    await advanceTo(clock, T0 + 1500);
    expect(fireTimes(s.jobs)).toEqual([1000]);
    expect(s.log.createJobs.length).toBe(2);
    expect(s.store.record!.nextFireTime).toEqual(new Date(T0 + 2000));
  });

  it('STOP releases the lease and ends; SCHEDULE_REMOVED too', async () => {
    const clock = createSimClock(T0);
    const s = start(clock, { record: every1s() });
    await settle();
    s.actor.send({ type: 'STOP' });
    await settle();
    expect(s.actor.getSnapshot().output).toEqual({ scheduleId: 'sched-1', end: 'stopped' });
    expect(s.log.release).toBe(1);
    const r = start(clock, { record: every1s({ id: 'sched-2' }) });
    await settle();
    r.actor.send({ type: 'SCHEDULE_REMOVED' });
    await settle();
    expect(r.actor.getSnapshot().output).toEqual({ scheduleId: 'sched-2', end: 'removed' });
  });

  it('keeps renewing its lease while waiting for a distant fire time', async () => {
    const clock = createSimClock(T0);
    const s = start(clock, { record: every1s({ trigger: intervalTrigger(T0 + 60_000, 60_000), nextFireTime: new Date(T0 + 60_000) }) });
    await advanceTo(clock, T0 + 59_000);
    expect(s.log.renew.length).toBeGreaterThanOrEqual(58);
    const gaps = s.log.renew.map((t, i) => t - (i === 0 ? T0 : s.log.renew[i - 1]!));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(LEASE_MS / 3);
    expect(s.jobs.size).toBe(0);
  });
});
