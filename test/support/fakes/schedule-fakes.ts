/**
 * Fakes for the schedule machine: a fixed-interval `nextFireTime` (the real one lives in
 * src/triggers), a seeded random source, and effects backed by an in-memory schedule record and
 * the fake lease table.
 */
import { fromPromise } from 'xstate';
import type { SimulatedClock } from 'xstate';
import type { ScheduleRecord } from '../../../src/records.js';
import { createScheduleMachine } from '../../../src/machines/schedule-machine.js';
import type {
  AdvanceScheduleInput,
  CreateJobsInput,
  NextFireTimeFn,
  RenewScheduleLeaseOutput,
  ScheduleMachineDeps,
} from '../../../src/machines/schedule-types.js';
import type { IntervalTrigger, Trigger } from '../../../src/triggers/index.js';
import { deferred, type Deferred } from './deferred.js';
import { FakeLeaseStore } from './lease-store.js';

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

export interface ScheduleEffectLog {
  acquire: number[];
  renew: number[];
  createJobs: { at: number; input: CreateJobsInput }[];
  advance: AdvanceScheduleInput[];
  load: number;
  release: number;
}

export interface ScheduleFakeOptions {
  clock: SimulatedClock;
  leaseDurationMs: number;
  record: ScheduleRecord;
  deps?: Partial<ScheduleMachineDeps>;
  nodeId?: string;
  /** Share the lease table and the record store (e.g. across a simulated restart). */
  shared?: { leases: FakeLeaseStore; store: { record: ScheduleRecord | null; revision: number } };
  /** Override a renewal's answer (e.g. "revision moved"). */
  renew?: (n: number) => RenewScheduleLeaseOutput | undefined;
}

/** The schedule machine with fake effects, the shared stores and the effect log. */
export function fakeScheduleMachine(options: ScheduleFakeOptions) {
  const { clock } = options;
  const nodeId = options.nodeId ?? 'node-a';
  const leases = options.shared?.leases ?? new FakeLeaseStore(clock, options.leaseDurationMs);
  const store = options.shared?.store ?? { record: options.record as ScheduleRecord | null, revision: 1 };
  const jobs = new Map<string, { fireTime: Date; runAt: Date; startDeadline: Date | null }>();
  const log: ScheduleEffectLog = { acquire: [], renew: [], createJobs: [], advance: [], load: 0, release: 0 };
  const key = (id: string) => `schedule.${id}`;
  const deps: ScheduleMachineDeps = { nextFireTime: intervalNextFireTime, random: () => 0, ...options.deps };
  const machine = createScheduleMachine(deps).provide({
    actors: {
      acquireScheduleLease: fromPromise(async ({ input }) => {
        log.acquire.push(clock.now());
        if (store.record === null) return { status: 'removed' } as const;
        const lease = leases.acquire(key(input.scheduleId), nodeId);
        if (!lease) return { status: 'held_elsewhere' } as const;
        return { status: 'acquired', lease, now: clock.now(), schedule: store.record, recordRevision: store.revision } as const;
      }),
      renewScheduleLease: fromPromise(async ({ input }) => {
        log.renew.push(clock.now());
        return options.renew?.(log.renew.length) ?? leases.renew(key(input.scheduleId), nodeId, input.lease);
      }),
      createJobs: fromPromise(async ({ input }) => {
        log.createJobs.push({ at: clock.now(), input });
        const ids: string[] = [];
        for (const fire of input.fires) {
          const id = `${input.schedule.id}:${fire.fireTime.toISOString()}`;
          if (!jobs.has(id)) jobs.set(id, fire);
          ids.push(id);
        }
        return { jobIds: ids };
      }),
      advanceSchedule: fromPromise(async ({ input }) => {
        log.advance.push(input);
        if (store.record === null || input.recordRevision !== store.revision) return { status: 'conflict' } as const;
        store.record = { ...store.record, nextFireTime: input.nextFireTime, lastFireTime: input.lastFireTime };
        store.revision++;
        return { status: 'advanced', recordRevision: store.revision, now: clock.now() } as const;
      }),
      loadSchedule: fromPromise(async () => {
        log.load++;
        if (store.record === null) return { status: 'removed' } as const;
        return { status: 'loaded', schedule: store.record, recordRevision: store.revision, now: clock.now() } as const;
      }),
      releaseScheduleLease: fromPromise(async ({ input }) => {
        log.release++;
        leases.release(key(input.scheduleId), input.lease);
      }),
    },
  });
  /** Edits the record in the store, as the API would (bumps its revision). */
  const edit = (change: Partial<ScheduleRecord>) => {
    store.record = { ...store.record!, ...change };
    store.revision++;
    return { schedule: store.record, recordRevision: store.revision };
  };
  return { machine, leases, store, jobs, log, edit };
}

export const SCHEDULE_EFFECTS = [
  'acquireScheduleLease',
  'renewScheduleLease',
  'createJobs',
  'advanceSchedule',
  'loadSchedule',
  'releaseScheduleLease',
] as const;
export type ScheduleEffectName = (typeof SCHEDULE_EFFECTS)[number];

/** One call of a promise effect the test answers by hand. */
export interface ControlledCall {
  input: unknown;
  answer: Deferred<unknown>;
  signal: AbortSignal;
  /** Simulated time the effect was invoked. */
  at: number;
}

/** The schedule machine with every effect waiting for the test to answer it. */
export function controlledScheduleMachine(clock: SimulatedClock, deps: ScheduleMachineDeps) {
  const calls = Object.fromEntries(SCHEDULE_EFFECTS.map((name) => [name, [] as ControlledCall[]])) as Record<ScheduleEffectName, ControlledCall[]>;
  const effect = (name: ScheduleEffectName) =>
    fromPromise<never, unknown>(({ input, signal }) => {
      const answer = deferred<unknown>();
      calls[name].push({ input, answer, signal, at: clock.now() });
      return answer.promise as Promise<never>;
    });
  const machine = createScheduleMachine(deps).provide({
    actors: Object.fromEntries(SCHEDULE_EFFECTS.map((name) => [name, effect(name)])) as never,
  });
  const last = (name: ScheduleEffectName): ControlledCall => {
    const call = calls[name][calls[name].length - 1];
    if (!call) throw new Error(`no ${name} call to answer`);
    return call;
  };
  return { machine, calls, last };
}
