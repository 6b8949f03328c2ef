/**
 * Fakes for the schedule side, in production's style (src/actors/schedule-host.ts): the schedule
 * machine's effects are actions that answer LATER with an event sent to the schedule actor, and a
 * schedule actor runs one firing with the scheduler as its parent (`createActor(logic, { parent,
 * id: scheduleId })`).
 *
 * - trigger helpers: a fixed-interval `nextFireTime` (the real one lives in src/triggers), a
 *   seeded random source, a schedule record;
 * - `controlledScheduleLogic()` records every effect with its params and the `self` to answer; the
 *   test answers by hand (`answer` throws unless exactly that effect is pending);
 * - `FakeScheduleStore` + `autoScheduleLogic()`: effects answered asynchronously from an in-memory
 *   record with revisions and a job table keyed by deterministic id (G4);
 * - `stubScheduleLogic()`: a stand-in firing the scheduler's tests end by hand (FINISH / CRASH);
 * - `schedulerFakes()`: the scheduler's effects, starting schedule actors as the host does.
 */
import { assign, createActor, sendParent, setup } from 'xstate';
import type { AnyActorRef, EventObject, Snapshot } from 'xstate';
import type { ScheduleRecord } from '../../../src/records.js';
import { createScheduleMachine, type ScheduleMachine } from '../../../src/machines/schedule-machine.js';
import type {
  AdvanceScheduleParams,
  FiringEnd,
  FiringEndedEvent,
  LoadScheduleParams,
  NextFireTimeFn,
  PlannedFire,
  PublishJobsParams,
  ScheduleEvent,
  ScheduleInput,
  ScheduleMachineDeps,
  ScheduleOutput,
} from '../../../src/machines/schedule-types.js';
import type { ScheduleCrashedEvent } from '../../../src/machines/scheduler-machine.js';
import type { IntervalTrigger, Trigger } from '../../../src/triggers/index.js';
import { recorderMachine } from './job-fakes.js';

// ---- triggers and records ---------------------------------------------------------------------

/** An interval trigger object (the shape src/triggers uses; only this fake evaluates it here). */
export function intervalTrigger(startMs: number, everyMs: number, endMs: number | null = null): IntervalTrigger {
  return { kind: 'interval', start: startMs, everyMs, end: endMs };
}

/**
 * A tiny stand-in for src/triggers' nextFireTime, for interval triggers only: the earliest
 * start + k·every after `after` (or at it, with inclusive), null past `end`.
 */
export const intervalNextFireTime: NextFireTimeFn = (trigger: Trigger, after, opts) => {
  if (trigger.kind !== 'interval') throw new Error(`test nextFireTime only knows interval triggers, got ${trigger.kind}`);
  const a = after.getTime();
  let k = Math.max(0, Math.ceil((a - trigger.start) / trigger.everyMs));
  const at = (n: number) => trigger.start + n * trigger.everyMs;
  if (at(k) < a || (!opts?.inclusive && at(k) === a)) k++;
  return trigger.end !== null && at(k) > trigger.end ? null : new Date(at(k));
};

/** A deterministic random source cycling through `values`. */
export function sequenceRandom(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

export function testSchedule(overrides: Partial<ScheduleRecord> & { trigger: Trigger }): ScheduleRecord {
  return {
    id: 'sched-1',
    task: 'test-task',
    args: null,
    paused: false,
    coalesce: 'latest',
    misfireGraceTimeMs: null,
    maxJitterMs: 0,
    nextFireTime: null,
    lastFireTime: null,
    createdAt: new Date(0),
    ...overrides,
  };
}

/** The deterministic job id of a fire (the fakes' stand-in for the store's jobIdForFire). */
export const fireJobId = (scheduleId: string, fireTime: Date): string => `${scheduleId}@${fireTime.toISOString()}`;

/** Deps with the interval stand-in and no jitter unless a random source is given. */
export const testDeps = (overrides: Partial<ScheduleMachineDeps> = {}): ScheduleMachineDeps => ({
  nextFireTime: intervalNextFireTime,
  random: () => 0,
  ...overrides,
});

// ---- effects answered by hand -----------------------------------------------------------------

/** The schedule machine's effects; each answers with an event. */
export const SCHEDULE_EFFECTS = ['publishJobs', 'advanceSchedule', 'loadSchedule'] as const;
export type ScheduleEffectName = (typeof SCHEDULE_EFFECTS)[number];

export interface ScheduleEffectParams {
  publishJobs: PublishJobsParams;
  advanceSchedule: AdvanceScheduleParams;
  loadSchedule: LoadScheduleParams;
}

export interface ScheduleEffectCall<N extends ScheduleEffectName = ScheduleEffectName> {
  name: N;
  params: ScheduleEffectParams[N];
  /** The actor the effect ran in: the one to answer. */
  self: AnyActorRef;
  /** Position among every effect this fake recorded. */
  seq: number;
  /**
   * pending until answered; `orphaned` when its actor ended before the answer (production's
   * `send` then drops the answer: the actor is no longer active).
   */
  status: 'pending' | 'answered' | 'orphaned';
}

/** Which effect each answer belongs to (EFFECT_FAILED answers any; PARTITION_LOST comes from the host). */
const ANSWERS: Record<ScheduleEvent['type'], ScheduleEffectName | 'any' | 'host'> = {
  JOBS_PUBLISHED: 'publishJobs',
  SCHEDULE_ADVANCED: 'advanceSchedule',
  ADVANCE_CONFLICT: 'advanceSchedule',
  SCHEDULE_LOADED: 'loadSchedule',
  SCHEDULE_GONE: 'loadSchedule',
  EFFECT_FAILED: 'any',
  PARTITION_LOST: 'host',
};

export const effectAnsweredBy = (type: ScheduleEvent['type']): ScheduleEffectName | 'any' | 'host' => ANSWERS[type];

/** The schedule machine with every effect waiting for the test to answer it. */
export function controlledScheduleLogic(deps: ScheduleMachineDeps = testDeps()) {
  const calls: { [N in ScheduleEffectName]: ScheduleEffectCall<N>[] } = { publishJobs: [], advanceSchedule: [], loadSchedule: [] };
  let seq = 0;
  const record =
    <N extends ScheduleEffectName>(name: N) =>
    ({ self }: { self: AnyActorRef }, params: ScheduleEffectParams[N]): void => {
      (calls[name] as ScheduleEffectCall<N>[]).push({ name, params, self, seq: seq++, status: 'pending' });
    };
  const logic = createScheduleMachine(deps).provide({
    actions: { publishJobs: record('publishJobs'), advanceSchedule: record('advanceSchedule'), loadSchedule: record('loadSchedule') },
  });

  const all = (): ScheduleEffectCall[] => SCHEDULE_EFFECTS.flatMap((name) => calls[name] as ScheduleEffectCall[]).sort((a, b) => a.seq - b.seq);
  /** Calls still waiting for an answer (of `name`, if given). */
  const pending = (name?: ScheduleEffectName): ScheduleEffectCall[] => all().filter((c) => c.status === 'pending' && (name === undefined || c.name === name));

  /**
   * Answers the one pending effect with `event`, as production's effect would: sent to its actor
   * only while that actor is active. Throws when no effect, or another effect than the event
   * answers, is pending: the environment never does that.
   */
  function answer(event: ScheduleEvent): ScheduleEffectCall {
    const expected = ANSWERS[event.type];
    if (expected === 'host') throw new Error('PARTITION_LOST comes from the host: use hostSends');
    const open = pending();
    if (open.length !== 1) throw new Error(`answering ${event.type}, but ${open.length} effects are pending (${open.map((c) => c.name).join(', ') || 'none'})`);
    const call = open[0]!;
    if (expected !== 'any' && expected !== call.name) throw new Error(`${event.type} is not an answer of ${call.name}`);
    call.status = 'answered';
    if (call.self.getSnapshot().status === 'active') call.self.send(event);
    return call;
  }

  /** The host tells the actor something (PARTITION_LOST), as production's `send`: only while active. */
  function hostSends(actor: AnyActorRef, event: ScheduleEvent): void {
    if (actor.getSnapshot().status === 'active') actor.send(event);
    if (actor.getSnapshot().status !== 'active') for (const call of pending()) if (call.self === actor) call.status = 'orphaned';
  }

  /** The last call of `name` (throws if there is none). */
  const last = <N extends ScheduleEffectName>(name: N): ScheduleEffectCall<N> => {
    const call = calls[name].at(-1) as ScheduleEffectCall<N> | undefined;
    if (!call) throw new Error(`no ${name} call recorded`);
    return call;
  };

  return { logic, calls, all, pending, answer, hostSends, last };
}

export type ControlledSchedules = ReturnType<typeof controlledScheduleLogic>;

/** One schedule actor created as the host creates it, under a recording parent (the scheduler's stand-in). */
export function scheduleUnderParent(logic: ScheduleMachine, input: ScheduleInput) {
  const parent = createActor(recorderMachine);
  parent.start();
  const actor = createActor(logic, { parent, id: input.schedule.id, input });
  actor.start();
  return {
    parent,
    actor,
    /** Events the schedule actor sent its parent, in order. */
    received: (): EventObject[] => parent.getSnapshot().context.received,
  };
}

/** A schedule actor restored from a persisted snapshot, under a new recording parent. */
export function restoreScheduleUnderParent(logic: ScheduleMachine, scheduleId: string, snapshot: unknown) {
  const parent = createActor(recorderMachine);
  parent.start();
  // Cast: createActor demands `input` for this logic, which a restored actor does not take.
  const actor = createActor(logic, { parent, id: scheduleId, snapshot: snapshot as Snapshot<unknown> } as never);
  actor.start();
  return { parent, actor, received: (): EventObject[] => parent.getSnapshot().context.received };
}

/** What a firing that ended sends its parent: FIRING_ENDED with its output, then XState's done event. */
export function firingEndEvents(scheduleId: string, output: ScheduleOutput): EventObject[] {
  const ended: FiringEndedEvent = { type: 'FIRING_ENDED', output };
  const done: EventObject & { output: ScheduleOutput; actorId: string } = { type: `xstate.done.actor.${scheduleId}`, output, actorId: scheduleId };
  return [ended, done];
}

// ---- effects answered from an in-memory store -------------------------------------------------

/** A schedule record with revisions (the schedules bucket) and the jobs queued by id (the queue). */
export class FakeScheduleStore {
  record: ScheduleRecord | null;
  revision: number;
  /** Jobs queued, by deterministic id: a second publish of the same fire time is a duplicate. */
  readonly jobs = new Map<string, PlannedFire & { scheduleId: string }>();
  readonly log = { publish: [] as PublishJobsParams[], advance: [] as AdvanceScheduleParams[], load: [] as LoadScheduleParams[], duplicates: 0 };
  /** The next store call of this kind fails (EFFECT_FAILED). */
  failNext: ScheduleEffectName | null = null;

  constructor(record: ScheduleRecord, revision = 1) {
    this.record = record;
    this.revision = revision;
  }

  /** Changes the record as the API would (bumps its revision). */
  edit(change: Partial<ScheduleRecord>): void {
    if (!this.record) throw new Error('no record to edit');
    this.record = { ...this.record, ...change };
    this.revision++;
  }

  remove(): void {
    this.record = null;
    this.revision++;
  }

  /** Job fire times queued, as ms after `origin`. */
  fireTimes(origin = 0): number[] {
    return [...this.jobs.values()].map((j) => j.fireTime.getTime() - origin);
  }
}

/**
 * The schedule machine with effects answered from `store` one promise turn later (as production's
 * are), with the host's `now` from `now()`.
 */
export function autoScheduleLogic(store: FakeScheduleStore, now: () => number, deps: ScheduleMachineDeps = testDeps()) {
  const later = (self: AnyActorRef, answer: () => ScheduleEvent): void =>
    void Promise.resolve().then(() => {
      const event = answer();
      if (self.getSnapshot().status === 'active') self.send(event);
    });
  const failing = (name: ScheduleEffectName): ScheduleEvent | null => {
    if (store.failNext !== name) return null;
    store.failNext = null;
    return { type: 'EFFECT_FAILED', error: `${name}: store unreachable` };
  };
  return createScheduleMachine(deps).provide({
    actions: {
      publishJobs: ({ self }, params) =>
        later(self, () => {
          store.log.publish.push(params);
          const failed = failing('publishJobs');
          if (failed) return failed;
          const jobIds = params.fires.map((fire) => {
            const id = fireJobId(params.schedule.id, fire.fireTime);
            if (store.jobs.has(id)) store.log.duplicates++;
            else store.jobs.set(id, { ...fire, scheduleId: params.schedule.id });
            return id;
          });
          return { type: 'JOBS_PUBLISHED', jobIds };
        }),
      advanceSchedule: ({ self }, params) =>
        later(self, () => {
          store.log.advance.push(params);
          const failed = failing('advanceSchedule');
          if (failed) return failed;
          if (store.record === null || store.revision !== params.recordRevision) return { type: 'ADVANCE_CONFLICT' };
          store.record = { ...params.schedule, nextFireTime: params.nextFireTime, lastFireTime: params.lastFireTime };
          store.revision++;
          return { type: 'SCHEDULE_ADVANCED', recordRevision: store.revision };
        }),
      loadSchedule: ({ self }, params) =>
        later(self, () => {
          store.log.load.push(params);
          const failed = failing('loadSchedule');
          if (failed) return failed;
          if (store.record === null) return { type: 'SCHEDULE_GONE' };
          return { type: 'SCHEDULE_LOADED', schedule: store.record, recordRevision: store.revision, now: now() };
        }),
    },
  });
}

// ---- a stand-in firing for the scheduler's tests ------------------------------------------------

export type StubFiringEvent = { type: 'FINISH'; end?: FiringEnd } | { type: 'CRASH' } | ScheduleEvent;

/**
 * A stand-in for the schedule machine under the scheduler: fires until the test ends it. FINISH
 * ends it as the schedule machine ends (its final state's entry sends FIRING_ENDED, then XState
 * sends the done event); CRASH throws (no FIRING_ENDED: the host sends FIRING_CRASHED for it).
 * PARTITION_LOST ends it as the real machine does.
 */
export function stubScheduleLogic() {
  const logic = setup({
    types: {} as { context: { input: ScheduleInput; end: FiringEnd }; input: ScheduleInput; events: StubFiringEvent },
    actions: {
      crash: () => {
        throw new Error('schedule actor crashed');
      },
      setEnd: assign((_, params: { end: FiringEnd }) => ({ end: params.end })),
      reportEnd: sendParent(({ context }): FiringEndedEvent => ({ type: 'FIRING_ENDED', output: stubOutput(context.input, context.end) })),
    },
  }).createMachine({
    context: ({ input }) => ({ input, end: 'advanced' as FiringEnd }),
    initial: 'firing',
    states: {
      firing: {
        on: {
          FINISH: { target: 'done', actions: { type: 'setEnd', params: ({ event }) => ({ end: event.end ?? 'advanced' }) } },
          PARTITION_LOST: { target: 'done', actions: { type: 'setEnd', params: { end: 'partition_lost' } } },
          CRASH: { actions: 'crash' },
        },
      },
      done: { type: 'final', entry: 'reportEnd' },
    },
  });
  // The scheduler's startFiring runs the real schedule machine; the stub honours the part of its
  // contract the scheduler relies on (input, FIRING_ENDED once from the final state, crashes).
  return logic as unknown as ScheduleMachine;
}

/** The output a stub firing reports. */
export function stubOutput(input: ScheduleInput, end: FiringEnd): ScheduleOutput {
  return { scheduleId: input.schedule.id, end, schedule: input.schedule, recordRevision: input.recordRevision, jobIds: [] };
}

// ---- the scheduler's effects -----------------------------------------------------------------------

export type SchedulerEffectCall =
  | { effect: 'startFiring'; scheduleId: string }
  | { effect: 'deferFiring'; scheduleId: string }
  | { effect: 'firingEnded'; scheduleId: string; output: ScheduleOutput | null };

export interface SchedulerFakeOptions {
  /** The logic a firing runs. @defaultValue stubScheduleLogic() */
  logic?: ScheduleMachine;
  /** The record and revision a firing starts from. @defaultValue an interval schedule due now */
  inputFor?: (scheduleId: string) => ScheduleInput;
}

/**
 * The scheduler's effects as production provides them (src/actors/node-actor.ts → schedule-host):
 * startFiring creates a schedule actor with the scheduler as parent, just after the scheduler's
 * action (a microtask later, as the host does); the other two are recorded.
 */
export function schedulerFakes(options: SchedulerFakeOptions = {}) {
  const logic = options.logic ?? stubScheduleLogic();
  const inputFor =
    options.inputFor ??
    ((scheduleId: string): ScheduleInput => ({
      schedule: testSchedule({ id: scheduleId, trigger: intervalTrigger(0, 1000), nextFireTime: new Date(0) }),
      recordRevision: 1,
      now: 500,
    }));
  const effects: SchedulerEffectCall[] = [];
  /** Every schedule actor started, in order. */
  const started: { scheduleId: string; actor: AnyActorRef }[] = [];
  /** The latest actor of each schedule id. */
  const actors = new Map<string, AnyActorRef>();
  const crashes: ScheduleCrashedEvent[] = [];

  const actions = {
    startFiring: ({ self }: { self: AnyActorRef }, params: { scheduleId: string }) => {
      effects.push({ effect: 'startFiring', scheduleId: params.scheduleId });
      queueMicrotask(() => {
        const actor = createActor(logic, { parent: self, id: params.scheduleId, input: inputFor(params.scheduleId) });
        // As production's host: a crashed firing is reported for it.
        actor.subscribe({ error: (error) => self.send({ type: 'FIRING_CRASHED', scheduleId: params.scheduleId, error }) });
        started.push({ scheduleId: params.scheduleId, actor });
        actors.set(params.scheduleId, actor);
        actor.start();
      });
    },
    deferFiring: (_: unknown, params: { scheduleId: string }) => void effects.push({ effect: 'deferFiring', scheduleId: params.scheduleId }),
    firingEnded: (_: unknown, params: { output: ScheduleOutput | null; scheduleId: string }) =>
      void effects.push({ effect: 'firingEnded', scheduleId: params.scheduleId, output: params.output }),
  };

  /** The live actor of `scheduleId` (throws if it never started). */
  function firing(scheduleId: string): AnyActorRef {
    const actor = actors.get(scheduleId);
    if (!actor) throw new Error(`no firing of ${scheduleId} was started`);
    return actor;
  }
  /** Schedule ids whose latest actor is still active. */
  const live = (): string[] => [...actors].filter(([, a]) => a.getSnapshot().status === 'active').map(([id]) => id).sort();
  const of = (effect: SchedulerEffectCall['effect']) => effects.filter((e) => e.effect === effect);
  /** Listens to the scheduler's SCHEDULE_CRASHED emits. */
  const watchCrashes = (scheduler: AnyActorRef) => scheduler.on('SCHEDULE_CRASHED', (event) => void crashes.push(event as ScheduleCrashedEvent));

  return { actions, effects, of, started, actors, firing, live, crashes, watchCrashes };
}

export type SchedulerFakes = ReturnType<typeof schedulerFakes>;
