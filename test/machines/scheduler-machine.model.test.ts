/**
 * Model-based tests of the scheduler machine, with two schedule ids. The environment is what
 * reaches a scheduler in production: the timer heap's FIRE_DUE, each firing's FIRING_ENDED or
 * crash (the host's FIRING_CRASHED), the partition keeper's PARTITIONS_CHANGED and the node's STOP.
 * Each path is replayed on a live scheduler whose startFiring creates stub schedule actors with
 * the scheduler as parent (a microtask later, as the host does); the step's event is caused the
 * way production causes it (FINISH / CRASH sent to the live firing), and at every step:
 *
 * - the live snapshot equals the model's; the booked firings are exactly the live schedule actors,
 *   never more than maxFirings;
 * - startFiring on, and only on, a FIRE_DUE for a schedule not firing with a slot free while
 *   active; deferFiring when no slot is free; neither while stopping;
 * - every firing ends with exactly one firingEnded (its output, or null after a crash) and a crash
 *   with exactly one SCHEDULE_CRASHED;
 * - stopped only once no firing is left, and nothing happens after.
 *
 * Edge invariants (actions from XState's pure `transition`) over the whole adjacency map and over
 * every event in every active state.
 */
import { getAdjacencyMap, getShortestPaths, getSimplePaths } from '@xstate/graph';
import type { StatePath } from '@xstate/graph';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor, transition } from 'xstate';
import type { EventObject, SnapshotFrom } from 'xstate';
import { schedulerMachine } from '../../src/machines/scheduler-machine.js';
import type { SchedulerInput } from '../../src/machines/scheduler-machine.js';
import type { ScheduleInput } from '../../src/machines/schedule-types.js';
import { edgesOf, muteKnownXStateDevWarnings, withoutPrefixPaths } from '../support/fakes/model-replay.js';
import { intervalTrigger, schedulerFakes, stubOutput, testSchedule } from '../support/fakes/schedule-fakes.js';
import { settle } from '../support/fakes/sim-time.js';

type SchedulerSnapshot = SnapshotFrom<typeof schedulerMachine>;
type ModelEvent = EventObject & { scheduleId?: string; partitions?: number[]; error?: unknown; output?: unknown };

const IDS = ['a', 'b'] as const;
const inputFor = (scheduleId: string): ScheduleInput => ({
  schedule: testSchedule({ id: scheduleId, trigger: intervalTrigger(0, 1000), nextFireTime: new Date(0) }),
  recordRevision: 1,
  now: 500,
});
/** A firing's crash, as the host reports it (replayed live by crashing the firing's actor). */
const CRASH = 'FIRING_CRASHED';
const crashOf = (scheduleId: string): ModelEvent => ({ type: CRASH, scheduleId, error: 'schedule actor crashed' });
const endedOf = (scheduleId: string): ModelEvent => ({ type: 'FIRING_ENDED', output: stubOutput(inputFor(scheduleId), 'advanced') });
const endedId = (event: ModelEvent): string | null =>
  event.type === 'FIRING_ENDED' ? (event as unknown as { output: { scheduleId: string } }).output.scheduleId : event.type === CRASH ? (event.scheduleId as string) : null;

/** The environment; PARTITIONS_CHANGED (which only records) doubles the model, so it is optional. */
const environment = (partitions: boolean) => (s: SchedulerSnapshot): ModelEvent[] => {
  if (s.status !== 'active') return [];
  const events: ModelEvent[] = [];
  if (s.matches('active')) {
    for (const id of IDS) events.push({ type: 'FIRE_DUE', scheduleId: id });
    events.push({ type: 'STOP' });
  }
  // Only a live firing ends or crashes.
  for (const id of s.context.firing) events.push(endedOf(id), crashOf(id));
  if (partitions) events.push({ type: 'PARTITIONS_CHANGED', partitions: s.context.partitions.length === 0 ? [7] : [] });
  return events;
};

/** Every event in every state: stale ends and crashes, a child's error event, FIRE_DUE while stopping, RESTORED. */
const HOSTILE: ModelEvent[] = [
  ...IDS.flatMap((id) => [{ type: 'FIRE_DUE', scheduleId: id }, endedOf(id), crashOf(id)]),
  { type: 'xstate.error.actor.firing', error: 'a child crashed' },
  { type: 'STOP' },
  { type: 'RESTORED' },
  { type: 'PARTITIONS_CHANGED', partitions: [1, 2] },
];

function assertSchedulerEdge(from: SchedulerSnapshot, event: ModelEvent, to: SchedulerSnapshot): void {
  const where = `${JSON.stringify(from.value)} ${JSON.stringify(from.context.firing)} --${event.type}${event.scheduleId ? ` ${event.scheduleId}` : ''}--> ${JSON.stringify(to.value)} ${JSON.stringify(to.context.firing)}`;
  const [again, actions] = transition(schedulerMachine, from, event as never);
  expect(JSON.stringify(again), `${where}: transition() disagrees`).toBe(JSON.stringify(to));
  const params = (type: string) => actions.filter((a) => a.type === type).map((a) => (a as { params?: unknown }).params);
  const { firing, maxFirings } = from.context;
  const isFiring = (id: string | undefined) => id !== undefined && firing.includes(id);

  expect(to.context.firing.length, `${where}: more firings than slots`).toBeLessThanOrEqual(maxFirings);
  expect([...to.context.firing].sort(), `${where}: firing set unsorted`).toEqual(to.context.firing);
  expect(new Set(to.context.firing).size, `${where}: a schedule booked twice`).toBe(to.context.firing.length);

  const due = event.type === 'FIRE_DUE' && from.matches('active') && !isFiring(event.scheduleId);
  const starts = due && firing.length < maxFirings;
  expect(params('startFiring'), `${where}: startFiring`).toEqual(starts ? [{ scheduleId: event.scheduleId }] : []);
  expect(params('deferFiring'), `${where}: deferFiring`).toEqual(due && !starts ? [{ scheduleId: event.scheduleId }] : []);
  if (starts) expect(to.context.firing, where).toEqual([...firing, event.scheduleId!].sort());

  const ended = endedId(event);
  const ends = ended !== null && isFiring(ended);
  const crashed = ends && event.type === CRASH;
  expect(params('firingEnded'), `${where}: firingEnded`).toEqual(
    ends ? [{ scheduleId: ended, output: crashed ? null : event.output }] : [],
  );
  expect(params('xstate.emit'), `${where}: SCHEDULE_CRASHED`).toEqual(
    crashed ? [{ event: { type: 'SCHEDULE_CRASHED', scheduleId: ended, error: event.error } }] : [],
  );
  if (ends) expect(to.context.firing, where).toEqual(firing.filter((id) => id !== ended));

  if (event.type === 'PARTITIONS_CHANGED') expect(to.context.partitions, where).toEqual(event.partitions);
  if (to.matches('stopped')) {
    expect(to.context.firing, `${where}: stopped with firings left`).toEqual([]);
    expect(to.status, where).toBe('done');
  }
  if (from.matches('stopping')) expect(to.matches('active'), `${where}: back to active after STOP`).toBe(false);
  if (!starts && !ends && event.type !== 'PARTITIONS_CHANGED') {
    expect(to.context, `${where}: context changed`).toEqual(from.context);
    if (!due) expect(actions.map((a) => a.type), `${where}: an ignored event acted`).toEqual([]);
  }
}

const view = (s: SchedulerSnapshot) => JSON.stringify({ value: s.value, status: s.status, context: s.context });

async function replay(path: StatePath<SchedulerSnapshot, ModelEvent>, input: SchedulerInput): Promise<number> {
  const fx = schedulerFakes({ inputFor });
  const actor = createActor(schedulerMachine.provide({ actions: fx.actions }), { input });
  fx.watchCrashes(actor);
  actor.start();
  let previous = actor.getSnapshot();
  let stoppedAt: number | null = null;
  for (const [i, step] of path.steps.entries()) {
    const event = step.event;
    const where = `step ${i} (${event.type}${event.scheduleId ? ` ${event.scheduleId}` : ''}) of [${path.steps.map((s) => s.event.type + (s.event.scheduleId ?? '')).join(' → ')}]`;
    const effectsBefore = fx.effects.length;
    const crashesBefore = fx.crashes.length;
    if (i > 0) {
      const ended = endedId(event);
      if (ended !== null) fx.firing(ended).send({ type: event.type === 'FIRING_ENDED' ? 'FINISH' : 'CRASH' });
      else actor.send(event as never);
      await settle();
    }
    const live = actor.getSnapshot();
    expect(view(live), `${where}: implementation diverged from the model`).toBe(view(step.state));
    // The booked firings are exactly the live schedule actors.
    expect(fx.live(), `${where}: live firings`).toEqual(live.context.firing);
    expect(fx.live().length, `${where}: over maxFirings`).toBeLessThanOrEqual(live.context.maxFirings);

    const step_ = fx.effects.slice(effectsBefore);
    const ended = i > 0 ? endedId(event) : null;
    const due = i > 0 && event.type === 'FIRE_DUE' && previous.matches('active') && !previous.context.firing.includes(event.scheduleId!);
    const starts = due && previous.context.firing.length < previous.context.maxFirings;
    const expected = [
      ...(starts ? [{ effect: 'startFiring', scheduleId: event.scheduleId }] : []),
      ...(due && !starts ? [{ effect: 'deferFiring', scheduleId: event.scheduleId }] : []),
      ...(ended !== null ? [{ effect: 'firingEnded', scheduleId: ended, output: event.type === 'FIRING_ENDED' ? endedOf(ended).output : null }] : []),
    ];
    expect(step_, `${where}: effects of this step`).toEqual(expected);
    expect(fx.crashes.slice(crashesBefore).map((c) => c.scheduleId), `${where}: SCHEDULE_CRASHED`).toEqual(
      ended !== null && event.type === CRASH ? [ended] : [],
    );
    // One firingEnded per started firing that ended, in all.
    const endedFirings = fx.started.filter(({ actor: a }) => a.getSnapshot().status !== 'active').length;
    expect(fx.of('firingEnded').length, `${where}: firingEnded per ended firing`).toBe(endedFirings);

    if (stoppedAt !== null) expect(fx.effects.length, `${where}: an effect after stopping`).toBe(stoppedAt);
    if (live.status === 'done') stoppedAt ??= fx.effects.length;
    previous = live;
  }
  return fx.started.length;
}

const walked: string[] = [];
afterAll(() => console.log(`[model-based] scheduler:\n  ${walked.join('\n  ')}`));

let unmute: () => void = () => {};
beforeEach(() => {
  unmute = muteKnownXStateDevWarnings();
});
afterEach(() => unmute());

describe('scheduler machine, model-based', () => {
  const suites = [
    { maxFirings: 1, partitions: true },
    { maxFirings: 2, partitions: false },
  ];
  for (const { maxFirings, partitions } of suites) {
    const name = `schedules a and b, maxFirings ${maxFirings}${partitions ? ', PARTITIONS_CHANGED' : ''}`;
    for (const kind of ['shortest', 'simple'] as const) {
      it(`${kind} paths: ${name}`, async () => {
        const input: SchedulerInput = { maxFirings };
        const options = { events: environment(partitions), input } as never;
        const adjacency = getAdjacencyMap(schedulerMachine as never, options);
        const edges = edgesOf(adjacency as never as Parameters<typeof edgesOf<SchedulerSnapshot, ModelEvent>>[0]);
        for (const { from, event, to } of edges) assertSchedulerEdge(from, event, to);
        const generated = (kind === 'shortest' ? getShortestPaths : getSimplePaths)(schedulerMachine as never, options) as unknown as StatePath<
          SchedulerSnapshot,
          ModelEvent
        >[];
        const paths = withoutPrefixPaths(generated);
        let steps = 0;
        let firings = 0;
        for (const path of paths) {
          firings += await replay(path, input);
          steps += path.steps.length - 1;
        }
        expect(paths.length).toBeGreaterThan(3);
        walked.push(
          `${kind} (${name}): model ${Object.keys(adjacency).length} states, ${edges.length} edges checked; ` +
            `${generated.length} paths generated, ${paths.length} walked, ${steps} steps, ${firings} firings started`,
        );
      });
    }

    it(`edge invariants for every event in every active state, maxFirings ${maxFirings}`, () => {
      const adjacency = getAdjacencyMap(schedulerMachine as never, { events: environment(true), input: { maxFirings } } as never);
      const active = Object.values(adjacency).map(({ state }) => state as SchedulerSnapshot).filter((s) => s.status === 'active');
      let checked = 0;
      for (const state of active) {
        for (const event of [...HOSTILE, ...state.context.firing.map(crashOf)]) {
          const [to] = transition(schedulerMachine, state, event as never);
          assertSchedulerEdge(state, event, to);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(20);
      walked.push(`hostile (maxFirings ${maxFirings}): ${active.length} active states, ${checked} edges checked`);
    });
  }
});
