/**
 * Unit tests of the schedule machine: one actor per firing, created as the schedule host creates
 * it (`createActor(logic, { parent, id })`), its effects answered by hand. The clock is the host's
 * `now` in the input (and in SCHEDULE_LOADED): the machine has no timer of its own.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import type { ScheduleRecord } from '../../src/records.js';
import { MAX_RELOADS } from '../../src/machines/schedule-logic.js';
import { createScheduleMachine } from '../../src/machines/schedule-machine.js';
import type { ScheduleInput, ScheduleOutput } from '../../src/machines/schedule-types.js';
import { interval, nextFireTime } from '../../src/triggers/index.js';
import { muteKnownXStateDevWarnings } from '../support/fakes/model-replay.js';
import {
  autoScheduleLogic,
  controlledScheduleLogic,
  FakeScheduleStore,
  fireJobId,
  firingEndEvents,
  intervalTrigger,
  scheduleUnderParent,
  sequenceRandom,
  testDeps,
  testSchedule,
} from '../support/fakes/schedule-fakes.js';
import { settle } from '../support/fakes/sim-time.js';

const T0 = Date.UTC(2025, 0, 1);
const at = (ms: number) => new Date(T0 + ms);
/** Every 1 s from T0; the record's next fire time is T0. */
const every1s = (overrides: Partial<ScheduleRecord> = {}) =>
  testSchedule({ trigger: intervalTrigger(T0, 1000), nextFireTime: at(0), ...overrides });
const REVISION = 7;
const inputOf = (schedule: ScheduleRecord, now: number, recordRevision = REVISION): ScheduleInput => ({ schedule, recordRevision, now: T0 + now });

function fire(input: ScheduleInput, random?: () => number) {
  const fx = controlledScheduleLogic(testDeps(random ? { random } : {}));
  const run = scheduleUnderParent(fx.logic, input);
  const state = () => run.actor.getSnapshot();
  const output = () => state().output as ScheduleOutput | undefined;
  return { fx, ...run, state, output };
}

let unmute: () => void = () => {};
beforeEach(() => {
  unmute = muteKnownXStateDevWarnings();
});
afterEach(() => unmute());

describe('schedule machine: planning', () => {
  it('a paused record ends paused at once: no effect, FIRING_ENDED with the record as it is', () => {
    const record = every1s({ paused: true });
    const f = fire(inputOf(record, 2500));
    expect(f.fx.all()).toEqual([]);
    const output: ScheduleOutput = { scheduleId: 'sched-1', end: 'paused', schedule: record, recordRevision: REVISION, jobIds: [] };
    expect(f.state().status).toBe('done');
    expect(f.output()).toEqual(output);
    expect(f.received()).toEqual(firingEndEvents('sched-1', output));
  });

  it('nothing due (an early wake-up) ends not_due without touching the store', () => {
    const record = every1s({ nextFireTime: at(3000) });
    const f = fire(inputOf(record, 2999));
    expect(f.fx.all()).toEqual([]);
    expect(f.output()).toEqual({ scheduleId: 'sched-1', end: 'not_due', schedule: record, recordRevision: REVISION, jobIds: [] });
    expect(f.received()).toHaveLength(2);
  });

  it('a record with no next fire time (exhausted) ends not_due', () => {
    const f = fire(inputOf(every1s({ nextFireTime: null }), 2500));
    expect(f.fx.all()).toEqual([]);
    expect(f.output()?.end).toBe('not_due');
  });

  it('rejects input without a record or a clock reading, naming the field', () => {
    const logic = createScheduleMachine(testDeps());
    expect(String(createActor(logic, { input: { schedule: null as never, recordRevision: 1, now: T0 } }).getSnapshot().error)).toMatch(/schedule/);
    expect(String(createActor(logic, { input: { schedule: every1s(), recordRevision: 1, now: Number.NaN } }).getSnapshot().error)).toMatch(/now/);
  });
});

describe('schedule machine: a due firing', () => {
  // At T0 + 2.5 s the fire times T0, T0+1s and T0+2s are due; the next one is T0+3s.
  const NOW = 2500;

  it('publishes the latest due fire (default coalesce), advances at the revision it holds, ends advanced', () => {
    const record = every1s();
    const f = fire(inputOf(record, NOW));
    expect(f.state().value).toBe('publishing');
    expect(f.fx.pending().map((c) => c.name)).toEqual(['publishJobs']);
    expect(f.fx.last('publishJobs').params).toEqual({
      schedule: record,
      fires: [{ fireTime: at(2000), jitterMs: 0, runAt: at(2000), startDeadline: null }],
    });
    const jobIds = [fireJobId('sched-1', at(2000))];
    f.fx.answer({ type: 'JOBS_PUBLISHED', jobIds });
    expect(f.state().value).toBe('advancing');
    expect(f.fx.last('advanceSchedule').params).toEqual({ schedule: record, recordRevision: REVISION, nextFireTime: at(3000), lastFireTime: at(2000) });
    expect(f.received()).toEqual([]);

    f.fx.answer({ type: 'SCHEDULE_ADVANCED', recordRevision: REVISION + 1 });
    const output: ScheduleOutput = {
      scheduleId: 'sched-1',
      end: 'advanced',
      schedule: { ...record, nextFireTime: at(3000), lastFireTime: at(2000) },
      recordRevision: REVISION + 1,
      jobIds,
    };
    expect(f.output()).toEqual(output);
    expect(f.received()).toEqual(firingEndEvents('sched-1', output));
    expect(f.fx.all().map((c) => c.name)).toEqual(['publishJobs', 'advanceSchedule']);
  });

  it('coalesce earliest publishes the earliest due fire; all publishes one job per fire time', () => {
    const earliest = fire(inputOf(every1s({ coalesce: 'earliest' }), NOW));
    expect(earliest.fx.last('publishJobs').params.fires.map((x) => x.fireTime)).toEqual([at(0)]);
    const all = fire(inputOf(every1s({ coalesce: 'all' }), NOW));
    expect(all.fx.last('publishJobs').params.fires.map((x) => x.fireTime)).toEqual([at(0), at(1000), at(2000)]);
    // Either way the record advances past every due time.
    for (const f of [earliest, all]) {
      f.fx.answer({ type: 'JOBS_PUBLISHED', jobIds: [] });
      expect(f.fx.last('advanceSchedule').params).toMatchObject({ nextFireTime: at(3000), lastFireTime: at(2000) });
    }
  });

  it('a fire time equal to now is due', () => {
    const f = fire(inputOf(every1s(), 0));
    expect(f.fx.last('publishJobs').params.fires.map((x) => x.fireTime)).toEqual([at(0)]);
    f.fx.answer({ type: 'JOBS_PUBLISHED', jobIds: ['j'] });
    expect(f.fx.last('advanceSchedule').params).toMatchObject({ nextFireTime: at(1000), lastFireTime: at(0) });
  });

  it('jitter from the seeded random stays below min(maxJitter, gap to the next fire); deadline = fire + jitter + grace', () => {
    // Gaps are 1 s, maxJitter 5 s: 1 s bounds every fire, the last one's by the record's next fire time.
    const wide = fire(inputOf(every1s({ coalesce: 'all', maxJitterMs: 5000, misfireGraceTimeMs: 200 }), NOW), sequenceRandom([0, 0.5, 0.999_999]));
    expect(wide.fx.last('publishJobs').params.fires).toEqual([
      { fireTime: at(0), jitterMs: 0, runAt: at(0), startDeadline: at(200) },
      { fireTime: at(1000), jitterMs: 500, runAt: at(1500), startDeadline: at(1700) },
      { fireTime: at(2000), jitterMs: 999, runAt: at(2999), startDeadline: at(3199) },
    ]);
    // maxJitter below the gap bounds it instead.
    const narrow = fire(inputOf(every1s({ coalesce: 'all', maxJitterMs: 300 }), NOW), sequenceRandom([0.999_999, 0.5, 0]));
    expect(narrow.fx.last('publishJobs').params.fires.map((x) => [x.jitterMs, x.startDeadline])).toEqual([
      [299, null],
      [150, null],
      [0, null],
    ]);
  });

  it('the last fire of an exhausted trigger is jittered up to maxJitter and advances to no next fire time', () => {
    const record = every1s({ trigger: intervalTrigger(T0, 1000, T0 + 2000), nextFireTime: at(2000), maxJitterMs: 10_000 });
    const f = fire(inputOf(record, 9000), () => 0.999_999);
    expect(f.fx.last('publishJobs').params.fires).toEqual([{ fireTime: at(2000), jitterMs: 9999, runAt: at(11_999), startDeadline: null }]);
    f.fx.answer({ type: 'JOBS_PUBLISHED', jobIds: ['j'] });
    expect(f.fx.last('advanceSchedule').params).toMatchObject({ nextFireTime: null, lastFireTime: at(2000) });
    f.fx.answer({ type: 'SCHEDULE_ADVANCED', recordRevision: 8 });
    expect(f.output()?.schedule?.nextFireTime).toBeNull();
  });

  it("plans with the real triggers' nextFireTime", () => {
    const trigger = interval(1000, { start: new Date(T0) });
    const fx = controlledScheduleLogic({ nextFireTime, random: () => 0 });
    const f = scheduleUnderParent(fx.logic, inputOf(testSchedule({ trigger, nextFireTime: at(0), coalesce: 'all' }), NOW));
    expect(fx.last('publishJobs').params.fires.map((x) => x.fireTime)).toEqual([at(0), at(1000), at(2000)]);
    fx.answer({ type: 'JOBS_PUBLISHED', jobIds: [] });
    expect(fx.last('advanceSchedule').params.nextFireTime).toEqual(at(3000));
    expect(f.actor.getSnapshot().value).toBe('advancing');
  });
});

describe('schedule machine: conflicts and reloads', () => {
  const NOW = 2500;
  const publishedThenConflict = (record = every1s()) => {
    const f = fire(inputOf(record, NOW));
    f.fx.answer({ type: 'JOBS_PUBLISHED', jobIds: [fireJobId('sched-1', at(2000))] });
    f.fx.answer({ type: 'ADVANCE_CONFLICT' });
    return f;
  };

  it('a conflict reads the record again', () => {
    const f = publishedThenConflict();
    expect(f.state().value).toBe('reloading');
    expect(f.fx.pending().map((c) => [c.name, c.params])).toEqual([['loadSchedule', { scheduleId: 'sched-1' }]]);
  });

  it('paused meanwhile: ends paused with the record and revision read, reporting the jobs it published', () => {
    const f = publishedThenConflict();
    const paused = every1s({ paused: true });
    f.fx.answer({ type: 'SCHEDULE_LOADED', schedule: paused, recordRevision: 9, now: T0 + NOW + 10 });
    expect(f.output()).toEqual({ scheduleId: 'sched-1', end: 'paused', schedule: paused, recordRevision: 9, jobIds: [fireJobId('sched-1', at(2000))] });
    expect(f.fx.all().map((c) => c.name)).toEqual(['publishJobs', 'advanceSchedule', 'loadSchedule']);
  });

  it('moved on meanwhile (another node advanced it): ends not_due, publishing nothing more', () => {
    const f = publishedThenConflict();
    const movedOn = every1s({ nextFireTime: at(3000), lastFireTime: at(2000) });
    f.fx.answer({ type: 'SCHEDULE_LOADED', schedule: movedOn, recordRevision: 8, now: T0 + NOW + 10 });
    expect(f.output()).toMatchObject({ end: 'not_due', schedule: movedOn, recordRevision: 8 });
    expect(f.fx.calls.publishJobs).toHaveLength(1);
  });

  it('edited but not advanced: publishes again with the same deterministic fire times, advances at the new revision', () => {
    const f = publishedThenConflict(every1s({ coalesce: 'all' }));
    const firstFires = f.fx.last('publishJobs').params.fires.map((x) => x.fireTime);
    const edited = every1s({ coalesce: 'all', args: { edited: true } });
    f.fx.answer({ type: 'SCHEDULE_LOADED', schedule: edited, recordRevision: 12, now: T0 + NOW + 10 });
    expect(f.state().value).toBe('publishing');
    const again = f.fx.last('publishJobs').params;
    expect(again.schedule).toEqual(edited);
    expect(again.fires.map((x) => x.fireTime)).toEqual(firstFires);
    f.fx.answer({ type: 'JOBS_PUBLISHED', jobIds: firstFires.map((t) => fireJobId('sched-1', t)) });
    expect(f.fx.last('advanceSchedule').params).toEqual({ schedule: edited, recordRevision: 12, nextFireTime: at(3000), lastFireTime: at(2000) });
    f.fx.answer({ type: 'SCHEDULE_ADVANCED', recordRevision: 13 });
    expect(f.output()).toMatchObject({ end: 'advanced', recordRevision: 13, schedule: { args: { edited: true }, nextFireTime: at(3000) } });
  });

  it('a later clock reading on reload plans the fire times due by then', () => {
    const f = publishedThenConflict();
    f.fx.answer({ type: 'SCHEDULE_LOADED', schedule: every1s(), recordRevision: 8, now: T0 + 4200 });
    expect(f.fx.last('publishJobs').params.fires.map((x) => x.fireTime)).toEqual([at(4000)]);
  });

  it('the record is gone: ends removed with no record', () => {
    const f = publishedThenConflict();
    f.fx.answer({ type: 'SCHEDULE_GONE' });
    expect(f.output()).toMatchObject({ end: 'removed', schedule: null });
    expect(f.received()).toEqual(firingEndEvents('sched-1', f.output()!));
  });

  it(`gives up after ${MAX_RELOADS} reloads that all conflict again: ends failed`, () => {
    const f = publishedThenConflict();
    for (let i = 1; i <= MAX_RELOADS; i++) {
      f.fx.answer({ type: 'SCHEDULE_LOADED', schedule: every1s(), recordRevision: REVISION + i, now: T0 + NOW });
      expect(f.state().value).toBe('publishing');
      f.fx.answer({ type: 'JOBS_PUBLISHED', jobIds: [fireJobId('sched-1', at(2000))] });
      expect(f.fx.last('advanceSchedule').params.recordRevision).toBe(REVISION + i);
      f.fx.answer({ type: 'ADVANCE_CONFLICT' });
    }
    expect(f.fx.calls.loadSchedule).toHaveLength(MAX_RELOADS);
    expect(f.fx.calls.advanceSchedule).toHaveLength(MAX_RELOADS + 1);
    expect(f.output()).toMatchObject({ end: 'failed', recordRevision: REVISION + MAX_RELOADS });
    expect(f.received()).toHaveLength(2);
  });
});

describe('schedule machine: failures and partition loss', () => {
  const NOW = 2500;
  /** Drives a firing to `state`. */
  const firingIn = (state: 'publishing' | 'advancing' | 'reloading') => {
    const f = fire(inputOf(every1s(), NOW));
    if (state !== 'publishing') f.fx.answer({ type: 'JOBS_PUBLISHED', jobIds: ['j-2000'] });
    if (state === 'reloading') f.fx.answer({ type: 'ADVANCE_CONFLICT' });
    expect(f.state().value).toBe(state);
    return f;
  };

  for (const state of ['publishing', 'advancing', 'reloading'] as const) {
    it(`EFFECT_FAILED in ${state}: ends failed with the error, nothing more requested`, () => {
      const f = firingIn(state);
      const effects = f.fx.all().length;
      f.fx.answer({ type: 'EFFECT_FAILED', error: 'store unreachable' });
      expect(f.output()).toMatchObject({ end: 'failed', error: 'store unreachable', schedule: every1s(), recordRevision: REVISION });
      expect(f.fx.all()).toHaveLength(effects);
      expect(f.received()).toEqual(firingEndEvents('sched-1', f.output()!));
    });

    it(`PARTITION_LOST in ${state}: ends partition_lost at once; the late answer changes nothing`, async () => {
      const f = firingIn(state);
      const effects = f.fx.all().length;
      f.fx.hostSends(f.actor, { type: 'PARTITION_LOST' });
      expect(f.output()).toMatchObject({ end: 'partition_lost', schedule: every1s(), recordRevision: REVISION });
      expect(f.fx.pending()).toEqual([]); // the effect in flight is orphaned: its answer is dropped
      // Even delivered straight to the stopped actor, an answer does nothing.
      f.actor.send({ type: 'SCHEDULE_ADVANCED', recordRevision: 99 });
      await settle();
      expect(f.fx.all()).toHaveLength(effects);
      expect(f.received()).toEqual(firingEndEvents('sched-1', f.output()!));
    });
  }

  it('PARTITION_LOST after publishing keeps the published job ids in the output', () => {
    const f = firingIn('advancing');
    f.fx.hostSends(f.actor, { type: 'PARTITION_LOST' });
    expect(f.output()?.jobIds).toEqual(['j-2000']);
  });
});

describe('schedule machine with effects answered from a store', () => {
  it('fires, publishes deterministic ids once, advances; a redo after a failed advance publishes duplicates only', async () => {
    const record = every1s({ coalesce: 'all' });
    const store = new FakeScheduleStore(record, 1);
    const now = () => T0 + 2500;
    const logic = autoScheduleLogic(store, now);
    store.failNext = 'advanceSchedule';
    const first = scheduleUnderParent(logic, { schedule: record, recordRevision: 1, now: now() });
    await settle();
    expect(first.actor.getSnapshot().output).toMatchObject({ end: 'failed' });
    expect(store.fireTimes(T0)).toEqual([0, 1000, 2000]);
    expect(store.revision).toBe(1);
    // The host fires it again later: same fire times, same ids.
    const redo = scheduleUnderParent(logic, { schedule: record, recordRevision: 1, now: now() });
    await settle();
    expect(redo.actor.getSnapshot().output).toMatchObject({ end: 'advanced', recordRevision: 2 });
    expect(store.fireTimes(T0)).toEqual([0, 1000, 2000]);
    expect(store.log.duplicates).toBe(3);
    expect(store.record?.nextFireTime).toEqual(at(3000));
  });

  it('a record edited between the read and the advance: reload, re-plan, advance at the new revision', async () => {
    const record = every1s();
    const store = new FakeScheduleStore(record, 1);
    store.edit({ args: { v: 2 } }); // the host's copy (revision 1) is stale
    const logic = autoScheduleLogic(store, () => T0 + 2500);
    const f = scheduleUnderParent(logic, { schedule: record, recordRevision: 1, now: T0 + 2500 });
    await settle();
    expect(f.actor.getSnapshot().output).toMatchObject({ end: 'advanced', recordRevision: 3, schedule: { args: { v: 2 } } });
    expect(store.log.advance.map((a) => a.recordRevision)).toEqual([1, 2]);
    expect(store.fireTimes(T0)).toEqual([2000]);
  });
});
