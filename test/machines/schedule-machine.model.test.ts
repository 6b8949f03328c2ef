/**
 * Model-based tests of the schedule machine (one actor per firing). The model is the machine's own
 * pure transition function explored by @xstate/graph over the environment a firing meets: the
 * answers of its effects (publishJobs, advanceSchedule, loadSchedule — including failures,
 * conflicts and records changed meanwhile) and the host's PARTITION_LOST. Each path is replayed on
 * a live schedule actor created as the host creates it (`createActor(logic, { parent, id })`),
 * effects answered by hand; the live snapshot must equal the model's at every step, and:
 *
 * - exactly the effect the state waits for is pending; no effect is requested after
 *   PARTITION_LOST or once the firing is done; PARTITION_LOST is also probed in every state reached,
 *   on a sibling restored from that step's persisted snapshot (paths never walk ignored events);
 * - the record is advanced only after the fires of the round were published (when any were due),
 *   and only at the revision the environment last gave (the input's, or the last reload's), with
 *   the next/last fire times an independent oracle computes;
 * - the fires published in a round are exactly the oracle's: no duplicates, all due (≤ now), each
 *   a real fire time of the trigger, jitter within bounds, deadline = run time + grace;
 * - FIRING_ENDED reaches the parent exactly once, when the firing ends, followed by XState's done
 *   event; the output agrees with the last write (advanced) or the last read, and with the cause.
 *
 * Edge invariants (each edge's actions from XState's pure `transition`) are checked over the whole
 * adjacency map, and then for every event of a hostile environment in every state of the map.
 */
import { getAdjacencyMap, getShortestPaths, getSimplePaths } from '@xstate/graph';
import type { StatePath } from '@xstate/graph';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { transition } from 'xstate';
import type { SnapshotFrom } from 'xstate';
import type { ScheduleRecord } from '../../src/records.js';
import type { IntervalTrigger } from '../../src/triggers/index.js';
import { MAX_RELOADS } from '../../src/machines/schedule-logic.js';
import { createScheduleMachine } from '../../src/machines/schedule-machine.js';
import type { PlannedFire, ScheduleEvent, ScheduleInput, ScheduleMachineDeps, ScheduleOutput } from '../../src/machines/schedule-types.js';
import { edgesOf, muteKnownXStateDevWarnings, withoutPrefixPaths } from '../support/fakes/model-replay.js';
import {
  controlledScheduleLogic,
  fireJobId,
  firingEndEvents,
  intervalTrigger,
  restoreScheduleUnderParent,
  scheduleUnderParent,
  testDeps,
  testSchedule,
  type ScheduleEffectName,
} from '../support/fakes/schedule-fakes.js';

const modelFor = (deps: ScheduleMachineDeps) => createScheduleMachine(deps).provide({ actions: { reportEnd: () => {} } });
type ModelMachine = ReturnType<typeof modelFor>;
type ScheduleSnapshot = SnapshotFrom<ModelMachine>;

const T0 = Date.UTC(2025, 0, 1);
const at = (ms: number) => new Date(T0 + ms);

interface ModelConfig {
  name: string;
  input: ScheduleInput;
  /** A pure "random" (the model explores the same state many times: it must be reproducible). */
  random: () => number;
  /** Path sets to replay (simple paths cost ~2× shortest ones here: one is enough per behaviour). */
  kinds: ('shortest' | 'simple')[];
}

// ---- the oracle: what a firing must publish and write, computed without planFires -------------

const triggerOf = (record: ScheduleRecord): IntervalTrigger => {
  if (record.trigger.kind !== 'interval') throw new Error('the model uses interval triggers');
  return record.trigger;
};

/** Is `t` a fire time of the trigger: start + k·every, k ≥ 0, within end. */
function isFireTime(record: ScheduleRecord, t: number): boolean {
  const { start, everyMs, end } = triggerOf(record);
  return t >= start && (t - start) % everyMs === 0 && (end === null || t <= end);
}

/** The fire times due at `now` from the record's next fire time, and where the record goes next. */
function oracle(record: ScheduleRecord, now: number): { due: number[]; next: number | null; last: number | null } {
  const { everyMs, end } = triggerOf(record);
  const due: number[] = [];
  let t: number | null = record.nextFireTime?.getTime() ?? null;
  while (t !== null && t <= now) {
    due.push(t);
    t = end !== null && t + everyMs > end ? null : t + everyMs;
  }
  return { due, next: t, last: due.at(-1) ?? record.lastFireTime?.getTime() ?? null };
}

function expectedFires(record: ScheduleRecord, now: number): number[] {
  const { due } = oracle(record, now);
  if (due.length === 0) return [];
  if (record.coalesce === 'all') return due;
  return [record.coalesce === 'earliest' ? due[0]! : due.at(-1)!];
}

/** Checks one publish against the oracle. */
function assertPublishedFires(record: ScheduleRecord, now: number, fires: PlannedFire[], where: string): void {
  const times = fires.map((f) => f.fireTime.getTime());
  expect(new Set(times).size, `${where}: duplicate fire times ${times}`).toBe(times.length);
  expect(times, `${where}: published fires differ from the plan`).toEqual(expectedFires(record, now));
  const { due, next } = oracle(record, now);
  for (const fire of fires) {
    const t = fire.fireTime.getTime();
    expect(t, `${where}: fire ${t - T0} after now ${now - T0}`).toBeLessThanOrEqual(now);
    expect(isFireTime(record, t), `${where}: ${t - T0} is not a fire time of the trigger`).toBe(true);
    expect(t, `${where}: fire before the record's next fire time`).toBeGreaterThanOrEqual(record.nextFireTime!.getTime());
    const following = due[due.indexOf(t) + 1] ?? next;
    const bound = Math.min(record.maxJitterMs, following === null ? Number.POSITIVE_INFINITY : following - t);
    expect(fire.jitterMs, `${where}: jitter`).toBeGreaterThanOrEqual(0);
    if (bound > 0) expect(fire.jitterMs, `${where}: jitter ${fire.jitterMs} ≥ bound ${bound}`).toBeLessThan(bound);
    else expect(fire.jitterMs, where).toBe(0);
    expect(fire.runAt.getTime(), `${where}: runAt`).toBe(t + fire.jitterMs);
    expect(fire.startDeadline, `${where}: start deadline`).toEqual(
      record.misfireGraceTimeMs === null ? null : new Date(t + fire.jitterMs + record.misfireGraceTimeMs),
    );
  }
}

// ---- the environment -------------------------------------------------------------------------------

/** The effect a state waits for. */
function awaited(s: ScheduleSnapshot): ScheduleEffectName | null {
  if (s.status !== 'active') return null;
  if (s.matches('publishing')) return 'publishJobs';
  if (s.matches('advancing')) return 'advanceSchedule';
  if (s.matches('reloading')) return 'loadSchedule';
  return null;
}

/** What a reload may find: the record as another writer left it, read at a clock reading. */
function reloadAnswers(s: ScheduleSnapshot): ScheduleEvent[] {
  const record = s.context.schedule!;
  const now = s.context.now;
  const recordRevision = s.context.recordRevision + 2;
  const { next, last } = oracle(record, now);
  return [
    // Edited (args) but not advanced: the same fire times are due again.
    { type: 'SCHEDULE_LOADED', schedule: { ...record, args: { edit: s.context.reloads + 1 } }, recordRevision, now },
    { type: 'SCHEDULE_LOADED', schedule: { ...record, paused: true }, recordRevision, now },
    // Another node advanced it (its partition moved here meanwhile): nothing due any more.
    {
      type: 'SCHEDULE_LOADED',
      schedule: { ...record, nextFireTime: next === null ? null : new Date(next), lastFireTime: last === null ? null : new Date(last) },
      recordRevision,
      now,
    },
    // Untouched (a stale conflict), read later: one more fire time is due.
    { type: 'SCHEDULE_LOADED', schedule: record, recordRevision, now: now + 1000 },
    { type: 'SCHEDULE_GONE' },
  ];
}

function environment(s: ScheduleSnapshot): ScheduleEvent[] {
  if (s.status !== 'active') return [];
  const events: ScheduleEvent[] = [];
  if (s.matches('publishing')) {
    const { schedule, plan } = s.context;
    events.push({ type: 'JOBS_PUBLISHED', jobIds: plan!.fires.map((f) => fireJobId(schedule!.id, f.fireTime)) });
  }
  if (s.matches('advancing')) events.push({ type: 'SCHEDULE_ADVANCED', recordRevision: s.context.recordRevision + 1 }, { type: 'ADVANCE_CONFLICT' });
  if (s.matches('reloading')) events.push(...reloadAnswers(s));
  events.push({ type: 'EFFECT_FAILED', error: 'store unreachable' }, { type: 'PARTITION_LOST' });
  return events;
}

/** Every event in every state. */
function hostileEvents(input: ScheduleInput): ScheduleEvent[] {
  return [
    { type: 'JOBS_PUBLISHED', jobIds: ['stray'] },
    { type: 'SCHEDULE_ADVANCED', recordRevision: 1000 },
    { type: 'ADVANCE_CONFLICT' },
    { type: 'SCHEDULE_LOADED', schedule: input.schedule, recordRevision: 2000, now: input.now },
    { type: 'SCHEDULE_LOADED', schedule: { ...input.schedule, paused: true }, recordRevision: 2001, now: input.now },
    { type: 'SCHEDULE_GONE' },
    { type: 'EFFECT_FAILED', error: 'boom' },
    { type: 'PARTITION_LOST' },
  ];
}

// ---- edge invariants -------------------------------------------------------------------------------

function assertScheduleEdge(machine: ModelMachine, from: ScheduleSnapshot, event: ScheduleEvent, to: ScheduleSnapshot): void {
  const where = `${JSON.stringify(from.value)} --${JSON.stringify(event)}--> ${JSON.stringify(to.value)}`;
  const [again, actions] = transition(machine, from, event);
  expect(JSON.stringify(again), `${where}: transition() disagrees`).toBe(JSON.stringify(to));
  const named = (type: string) => actions.filter((a) => a.type === type);
  const params = (type: string) => named(type).map((a) => (a as { params?: unknown }).params);
  const entered = (state: string) => to.status === 'active' && to.matches(state as never) && !from.matches(state as never);
  const ended = from.status === 'active' && to.status === 'done';
  const effects = named('publishJobs').length + named('advanceSchedule').length + named('loadSchedule').length;

  expect(from.status, `${where}: the model walked on from a done firing`).toBe('active');
  // FIRING_ENDED on, and only on, the step that ends the firing; no effect on that step.
  expect(named('reportEnd').length, `${where}: reportEnd`).toBe(ended ? 1 : 0);
  if (ended) expect(effects, `${where}: an effect on the way out`).toBe(0);

  // PARTITION_LOST ends the firing where it stands, whatever the state.
  if (event.type === 'PARTITION_LOST') {
    expect(to.status, `${where}: still firing after the partition was lost`).toBe('done');
    expect(to.output, where).toEqual(scheduleOutputOf(from, 'partition_lost'));
  }
  if (event.type === 'EFFECT_FAILED') {
    expect(to.output, where).toEqual({ ...scheduleOutputOf(from, 'failed'), error: event.error });
  }

  // Effects: once, on entering the state that waits for them.
  expect(named('publishJobs').length, `${where}: publishJobs`).toBe(entered('publishing') ? 1 : 0);
  expect(named('advanceSchedule').length, `${where}: advanceSchedule`).toBe(entered('advancing') ? 1 : 0);
  expect(named('loadSchedule').length, `${where}: loadSchedule`).toBe(entered('reloading') ? 1 : 0);

  // A paused record fires nothing and is not advanced.
  if (entered('publishing') || entered('advancing')) expect(to.context.schedule?.paused, `${where}: firing a paused record`).toBe(false);
  if (entered('publishing')) {
    const { schedule, now, plan } = to.context;
    expect(params('publishJobs'), where).toEqual([{ schedule, fires: plan!.fires }]);
    assertPublishedFires(schedule!, now, plan!.fires, where);
  }
  if (entered('advancing')) {
    const { schedule, now, plan, recordRevision } = to.context;
    // After a publish of this round, or (no fires due) only when the next fire time must move.
    if (from.matches('publishing')) expect(event.type, where).toBe('JOBS_PUBLISHED');
    else expect(plan!.fires, `${where}: advanced without publishing the due fires`).toEqual([]);
    // At the revision it holds: the one the last read gave.
    expect(recordRevision, `${where}: advance revision`).toBe(event.type === 'SCHEDULE_LOADED' ? event.recordRevision : from.context.recordRevision);
    const { next, last } = oracle(schedule!, now);
    expect(params('advanceSchedule'), where).toEqual([
      { schedule, recordRevision, nextFireTime: next === null ? null : new Date(next), lastFireTime: last === null ? null : new Date(last) },
    ]);
  }
  if (entered('reloading')) {
    expect(from.matches('advancing') && event.type === 'ADVANCE_CONFLICT', `${where}: reload without a conflict`).toBe(true);
    expect(from.context.reloads, `${where}: reloaded past MAX_RELOADS`).toBeLessThan(MAX_RELOADS);
    expect(params('loadSchedule'), where).toEqual([{ scheduleId: from.context.scheduleId }]);
  }

  // A reload adopts what it read: the record, its revision and the clock reading (the next advance
  // is checked against that revision).
  if (event.type === 'SCHEDULE_LOADED' && from.matches('reloading')) {
    expect(to.context.schedule, `${where}: reload kept another record`).toEqual(event.schedule);
    expect(to.context.recordRevision, `${where}: reload kept a stale revision`).toBe(event.recordRevision);
    expect(to.context.now, `${where}: reload kept an old clock reading`).toBe(event.now);
    expect(to.context.reloads, where).toBe(from.context.reloads + 1);
  }

  // How a firing may end.
  if (ended && event.type !== 'PARTITION_LOST' && event.type !== 'EFFECT_FAILED') {
    const output = to.output as ScheduleOutput;
    const record = to.context.schedule;
    const allowed: Record<ScheduleOutput['end'], boolean> = {
      advanced: from.matches('advancing') && event.type === 'SCHEDULE_ADVANCED',
      paused: record !== null && record.paused,
      not_due: record !== null && !record.paused && expectedFires(record, to.context.now).length === 0,
      removed: from.matches('reloading') && event.type === 'SCHEDULE_GONE',
      failed: from.matches('advancing') && event.type === 'ADVANCE_CONFLICT' && from.context.reloads >= MAX_RELOADS,
      partition_lost: false,
    };
    expect(allowed[output.end], `${where}: ended ${output.end}`).toBe(true);
    if (output.end === 'advanced') {
      const { next, last } = oracle(from.context.schedule!, from.context.now);
      expect(output.schedule, where).toEqual({
        ...from.context.schedule,
        nextFireTime: next === null ? null : new Date(next),
        lastFireTime: last === null ? null : new Date(last),
      });
      expect(output.recordRevision, where).toBe((event as { recordRevision: number }).recordRevision);
    }
  }

  // What does not move the machine changes nothing and requests nothing.
  if (JSON.stringify(from.value) === JSON.stringify(to.value) && to.status === from.status) {
    expect(to.context, `${where}: an ignored event changed the context`).toEqual(from.context);
    expect(actions.map((a) => a.type), `${where}: an ignored event acted`).toEqual([]);
  }
}

/** The output a firing in `s` ends with, at `end`, keeping what it knows. */
function scheduleOutputOf(s: ScheduleSnapshot, end: ScheduleOutput['end']): ScheduleOutput {
  const { scheduleId, schedule, recordRevision, jobIds } = s.context;
  return { scheduleId, end, schedule, recordRevision, jobIds };
}

// ---- the live replay ---------------------------------------------------------------------------------

const view = (s: ScheduleSnapshot): string => JSON.stringify({ value: s.value, status: s.status, context: s.context, output: s.output });

/** Live states already probed with PARTITION_LOST (by view). */
const probed = new Set<string>();

/** Replays one path on a live schedule actor under a recording parent, checking the invariants at every step. */
function replay(path: StatePath<ScheduleSnapshot, ScheduleEvent>, config: ModelConfig): void {
  const fx = controlledScheduleLogic(testDeps({ random: config.random }));
  const { actor, received } = scheduleUnderParent(fx.logic, config.input);
  const scheduleId = config.input.schedule.id;
  /** What the environment last told the firing about the record: the input, then each reload. */
  let known = { record: config.input.schedule as ScheduleRecord | null, revision: config.input.recordRevision, now: config.input.now };
  /** The round's publish (a round starts at the start and at each reload) and whether it was answered. */
  let round: { published: number | null; answered: boolean; jobIds: string[] | null } = { published: null, answered: false, jobIds: null };
  let lastJobIds: string[] = [];
  let advancedTo: number | null = null;
  let frozenAt: number | null = null;

  for (const [i, step] of path.steps.entries()) {
    const event = step.event;
    const where = `step ${i} (${event.type}) of [${path.steps.map((s) => s.event.type).join(' → ')}]`;
    const callsBefore = fx.all().length;
    if (i > 0) {
      if (event.type === 'PARTITION_LOST') fx.hostSends(actor, event);
      else fx.answer(event);
      if (event.type === 'SCHEDULE_LOADED') {
        known = { record: event.schedule, revision: event.recordRevision, now: event.now };
        round = { published: null, answered: false, jobIds: null };
      }
      if (event.type === 'SCHEDULE_GONE') known = { ...known, record: null };
      if (event.type === 'JOBS_PUBLISHED') {
        round.answered = true;
        lastJobIds = event.jobIds;
      }
      if (event.type === 'SCHEDULE_ADVANCED') advancedTo = event.recordRevision;
    }
    const live = actor.getSnapshot();
    expect(view(live), `${where}: implementation diverged from the model`).toBe(view(step.state));

    // Exactly the effect the state waits for is pending.
    const waitsFor = awaited(live);
    expect(fx.pending().map((c) => c.name), `${where}: pending effects in ${JSON.stringify(live.value)}`).toEqual(waitsFor ? [waitsFor] : []);

    // Nothing after PARTITION_LOST, nor once done.
    if (frozenAt !== null) expect(fx.all().length, `${where}: an effect after the firing ended`).toBe(frozenAt);
    if (live.status !== 'active') frozenAt ??= fx.all().length;
    if (i > 0 && event.type === 'PARTITION_LOST') {
      expect(fx.all().length, `${where}: an effect on PARTITION_LOST`).toBe(callsBefore);
      expect(live.output?.end, where).toBe('partition_lost');
    }

    // New effect calls of this step, checked against what the environment told the firing.
    for (const call of fx.all().slice(i === 0 ? 0 : callsBefore)) {
      if (call.name === 'publishJobs') {
        const { schedule, fires } = fx.calls.publishJobs.find((c) => c.seq === call.seq)!.params;
        expect(round.published, `${where}: published twice in one round`).toBeNull();
        expect(schedule, `${where}: published from another record than the last read`).toEqual(known.record);
        assertPublishedFires(known.record!, known.now, fires, where);
        round.published = call.seq;
      }
      if (call.name === 'advanceSchedule') {
        const params = fx.calls.advanceSchedule.find((c) => c.seq === call.seq)!.params;
        const { next, last } = oracle(known.record!, known.now);
        if (expectedFires(known.record!, known.now).length > 0) {
          expect(round.published !== null && round.answered, `${where}: advanced before the round's fires were published`).toBe(true);
        }
        expect(params.recordRevision, `${where}: advanced at a revision it was not given`).toBe(known.revision);
        expect(params, where).toEqual({
          schedule: known.record,
          recordRevision: known.revision,
          nextFireTime: next === null ? null : new Date(next),
          lastFireTime: last === null ? null : new Date(last),
        });
      }
      if (call.name === 'loadSchedule') expect(call.params, where).toEqual({ scheduleId });
    }

    // PARTITION_LOST may come in any state, but paths never walk an event the model ignores (a
    // self-loop). So probe it live in every state reached: a sibling restored from this step's
    // persisted snapshot (which replays no entry effect) must end partition_lost, requesting nothing.
    if (live.status === 'active' && !probed.has(view(live))) {
      const probeFx = controlledScheduleLogic(testDeps({ random: config.random }));
      const probe = restoreScheduleUnderParent(probeFx.logic, scheduleId, actor.getPersistedSnapshot());
      probeFx.hostSends(probe.actor, { type: 'PARTITION_LOST' });
      const output = probe.actor.getSnapshot().output;
      expect(output?.end, `${where}: PARTITION_LOST in ${JSON.stringify(live.value)} did not end the firing`).toBe('partition_lost');
      expect(probeFx.all(), `${where}: an effect on PARTITION_LOST in ${JSON.stringify(live.value)}`).toEqual([]);
      expect(probe.received(), where).toEqual(firingEndEvents(scheduleId, output!));
      probe.parent.stop();
      probed.add(view(live)); // only once it passed, so that a later path reports a failing state too
    }

    // FIRING_ENDED once, at the end, then XState's done event; nothing before.
    expect(received(), `${where}: what the firing sent its parent`).toEqual(live.status === 'done' ? firingEndEvents(scheduleId, live.output!) : []);

    if (live.status === 'done') {
      const output = live.output!;
      expect(output.jobIds, `${where}: output job ids`).toEqual(lastJobIds);
      if (output.end === 'advanced') {
        const { next, last } = oracle(known.record!, known.now);
        expect(output.schedule, `${where}: output is not the record written`).toEqual({
          ...known.record,
          nextFireTime: next === null ? null : new Date(next),
          lastFireTime: last === null ? null : new Date(last),
        });
        expect(output.recordRevision, where).toBe(advancedTo);
      } else {
        expect(output.schedule, `${where}: output is not the record last read`).toEqual(known.record);
        expect(output.recordRevision, where).toBe(known.revision);
      }
      if (output.end === 'paused') expect(known.record?.paused, where).toBe(true);
      if (output.end === 'not_due') expect(expectedFires(known.record!, known.now), where).toEqual([]);
    }
  }
}

// ---- the suites ------------------------------------------------------------------------------------

const every1s = (overrides: Partial<ScheduleRecord>) => testSchedule({ trigger: intervalTrigger(T0, 1000), nextFireTime: at(0), ...overrides });
const configs: ModelConfig[] = [
  {
    name: 'coalesce all, 3 fires due, jitter 5 s (bounded by the 1 s gap) and a grace time',
    input: { schedule: every1s({ id: 'all-jitter', coalesce: 'all', maxJitterMs: 5000, misfireGraceTimeMs: 200 }), recordRevision: 4, now: T0 + 2500 },
    random: () => 0.999_999,
    kinds: ['shortest', 'simple'],
  },
  {
    name: 'coalesce latest, 3 fires due, jitter 300 ms',
    input: { schedule: every1s({ id: 'latest', maxJitterMs: 300 }), recordRevision: 1, now: T0 + 2500 },
    random: () => 0.5,
    kinds: ['shortest'],
  },
  {
    name: 'coalesce earliest, trigger ends at T0 + 3 s (exhausted by a later read)',
    input: { schedule: every1s({ id: 'earliest-ending', coalesce: 'earliest', trigger: intervalTrigger(T0, 1000, T0 + 3000), misfireGraceTimeMs: 0 }), recordRevision: 9, now: T0 + 2500 },
    random: () => 0,
    kinds: ['shortest', 'simple'],
  },
];

const walked: string[] = [];
afterAll(() => console.log(`[model-based] schedule:\n  ${walked.join('\n  ')}`));

let unmute: () => void = () => {};
beforeEach(() => {
  unmute = muteKnownXStateDevWarnings();
});
afterEach(() => unmute());

describe('schedule machine, model-based', () => {
  for (const config of configs) {
    for (const kind of config.kinds) {
      it(`${kind} paths: ${config.name}`, () => {
        const machine = modelFor(testDeps({ random: config.random }));
        const options = { events: environment, input: config.input } as never;
        const adjacency = getAdjacencyMap(machine, options);
        const edges = edgesOf(adjacency as never as Parameters<typeof edgesOf<ScheduleSnapshot, ScheduleEvent>>[0]);
        for (const { from, event, to } of edges) assertScheduleEdge(machine, from, event, to);

        const generated = (kind === 'shortest' ? getShortestPaths : getSimplePaths)(machine, options) as unknown as StatePath<ScheduleSnapshot, ScheduleEvent>[];
        const paths = withoutPrefixPaths(generated);
        let steps = 0;
        for (const path of paths) {
          replay(path, config);
          steps += path.steps.length - 1;
        }
        expect(paths.length).toBeGreaterThan(20);
        // The model reaches every way a firing ends.
        const ends = new Set(Object.values(adjacency).map(({ state }) => (state as ScheduleSnapshot).output?.end).filter(Boolean));
        expect([...ends].sort()).toEqual(['advanced', 'failed', 'not_due', 'partition_lost', 'paused', 'removed']);
        // …including giving up after MAX_RELOADS conflicts (failed without a store error).
        const gaveUp = Object.values(adjacency).some(({ state }) => {
          const output = (state as ScheduleSnapshot).output;
          return output?.end === 'failed' && output.error === undefined;
        });
        expect(gaveUp, 'no path ends after MAX_RELOADS conflicts').toBe(true);
        walked.push(
          `${kind} (${config.name}): model ${Object.keys(adjacency).length} states, ${edges.length} edges checked; ` +
            `${generated.length} paths generated, ${paths.length} walked (prefixes dropped), ${steps} steps`,
        );
      });
    }

    it(`edge invariants for every event in every state: ${config.input.schedule.id}`, () => {
      const machine = modelFor(testDeps({ random: config.random }));
      const adjacency = getAdjacencyMap(machine, { events: environment, input: config.input } as never);
      let checked = 0;
      // Active states only: XState's pure transition() would process an event in a done snapshot
      // (re-entering `done` through the root's EFFECT_FAILED / PARTITION_LOST), while a live actor
      // that reached its final state processes nothing more — which the replay checks.
      const active = Object.values(adjacency).filter(({ state }) => (state as ScheduleSnapshot).status === 'active');
      for (const { state } of active) {
        for (const event of hostileEvents(config.input)) {
          const [to] = transition(machine, state as ScheduleSnapshot, event);
          assertScheduleEdge(machine, state as ScheduleSnapshot, event, to);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(100);
      walked.push(`hostile (${config.input.schedule.id}): ${active.length} active states × ${hostileEvents(config.input).length} events = ${checked} edges checked`);
    });
  }

  it('the initial plan alone: paused and not-due inputs end at once with no effect', () => {
    for (const schedule of [every1s({ paused: true }), every1s({ nextFireTime: at(5000) })]) {
      const machine = modelFor(testDeps());
      const adjacency = getAdjacencyMap(machine, { events: environment, input: { schedule, recordRevision: 1, now: T0 + 2500 } } as never);
      const states = Object.values(adjacency).map(({ state }) => state as ScheduleSnapshot);
      expect(states.map((s) => [s.status, s.output?.end])).toEqual([['done', schedule.paused ? 'paused' : 'not_due']]);
    }
  });
});
