/**
 * The environment of the schedule machine's model: what can happen in each state (store answers,
 * timers, outside events), bounded so the graph is finite: a trigger with two fire times, record
 * revisions capped, lease revisions alternating, clock readings taken from the state.
 */
import type { SnapshotFrom } from 'xstate';
import type { ScheduleMachine } from '../../src/machines/schedule-machine.js';
import { intervalTrigger, testSchedule } from '../support/fakes/schedule-fakes.js';

export type ScheduleSnapshot = SnapshotFrom<ScheduleMachine>;
export type ModelEvent = { type: string; [key: string]: unknown };

export const T0 = Date.UTC(2025, 0, 1);
export const LEASE_MS = 3000;
export const RECORD = testSchedule({
  id: 's1',
  trigger: intervalTrigger(T0 + 1000, 1000, T0 + 2000),
  nextFireTime: new Date(T0 + 1000),
  coalesce: 'latest',
  maxJitterMs: 0,
});
const MAX_RECORD_REVISION = 4;

export const STANDBY = 'xstate.after.standbyRetry.schedule.standby';
export const LOST_RETRY = 'xstate.after.standbyRetry.schedule.lost';
const retry = (path: string) => `xstate.after.effectRetry.schedule.${path}`;
export const RETRIES = {
  renew: retry('holding.lease.renewing.waitingToRetry'),
  createJobs: retry('holding.work.firing.waitingToRetry'),
  advance: retry('holding.work.advancing.waitingToRetry'),
  load: retry('holding.work.reloading.waitingToRetry'),
};
export const TIMER_TYPES = new Set(['RENEW_DUE', 'FIRE_DUE', STANDBY, LOST_RETRY, ...Object.values(RETRIES)]);
export const isTimer = (e: ModelEvent) => TIMER_TYPES.has(e.type) || (e.type === 'LEASE_LOST' && e.reason === 'renewal_deadline');

export const done = (id: string, output: unknown): ModelEvent => ({ type: `xstate.done.actor.${id}`, output, actorId: id });
export const failed = (id: string): ModelEvent => ({ type: `xstate.error.actor.${id}`, error: new Error(`${id} failed`), actorId: id });

export interface ScheduleModelConfig {
  /** Offer effect failures (retry loops). */
  failures: boolean;
  /** Offer SCHEDULE_UPDATED (pause/resume), SCHEDULE_REMOVED and STOP. */
  outside: boolean;
}

/** Clock readings in answers: at the fire time (due), a second late (a missed time coalesces). */
function readings(s: ScheduleSnapshot): number[] {
  const next = s.context.schedule.nextFireTime?.getTime();
  return next === undefined ? [T0] : [next, next + 1000];
}

export function scheduleEnvironment(config: ScheduleModelConfig) {
  return (s: ScheduleSnapshot): ModelEvent[] => {
    if (s.status !== 'active') return [];
    const { context } = s;
    const timers: ModelEvent[] = [];
    const others: ModelEvent[] = [];
    const fail = (id: string) => (config.failures ? [failed(id)] : []);
    const nextRevision = context.recordRevision + 1;
    if (s.matches('acquiring')) {
      others.push(
        done('acquireScheduleLease', { status: 'acquired', lease: { revision: 1 }, now: T0, schedule: context.schedule, recordRevision: context.recordRevision }),
        done('acquireScheduleLease', { status: 'held_elsewhere' }),
        done('acquireScheduleLease', { status: 'removed' }),
        ...fail('acquireScheduleLease'),
      );
    }
    if (s.matches('standby')) timers.push({ type: STANDBY });
    if (s.matches('lost')) timers.push({ type: LOST_RETRY });
    if (s.matches({ holding: { lease: 'held' } })) timers.push({ type: 'RENEW_DUE' });
    if (s.matches({ holding: { lease: 'renewing' } })) timers.push({ type: 'LEASE_LOST', reason: 'renewal_deadline' });
    if (s.matches({ holding: { lease: { renewing: 'requesting' } } })) {
      const lease = { revision: 3 - (context.lease?.revision ?? 1) };
      for (const now of readings(s)) others.push(done('renewScheduleLease', { status: 'renewed', lease, now }));
      others.push(done('renewScheduleLease', { status: 'lost', reason: 'revision_moved' }), ...fail('renewScheduleLease'));
    }
    if (s.matches({ holding: { lease: { renewing: 'waitingToRetry' } } })) timers.push({ type: RETRIES.renew });
    if (s.matches({ holding: { work: 'waiting' } })) timers.push({ type: 'FIRE_DUE' });
    if (s.matches({ holding: { work: { firing: 'creatingJobs' } } })) {
      others.push(done('createJobs', { jobIds: (context.firing?.fires ?? []).map((f) => `s1:${f.fireTime.toISOString()}`) }), ...fail('createJobs'));
    }
    if (s.matches({ holding: { work: { firing: 'waitingToRetry' } } })) timers.push({ type: RETRIES.createJobs });
    if (s.matches({ holding: { work: { advancing: 'writing' } } })) {
      if (nextRevision <= MAX_RECORD_REVISION) others.push(done('advanceSchedule', { status: 'advanced', recordRevision: nextRevision, now: T0 }));
      others.push(done('advanceSchedule', { status: 'conflict' }), ...fail('advanceSchedule'));
    }
    if (s.matches({ holding: { work: { advancing: 'waitingToRetry' } } })) timers.push({ type: RETRIES.advance });
    if (s.matches({ holding: { work: { reloading: 'reading' } } })) {
      if (nextRevision <= MAX_RECORD_REVISION) {
        others.push(done('loadSchedule', { status: 'loaded', schedule: context.schedule, recordRevision: nextRevision, now: T0 }));
      }
      others.push(done('loadSchedule', { status: 'removed' }), ...fail('loadSchedule'));
    }
    if (s.matches({ holding: { work: { reloading: 'waitingToRetry' } } })) timers.push({ type: RETRIES.load });
    if (s.matches('releasing')) others.push(done('releaseScheduleLease', undefined), ...fail('releaseScheduleLease'));
    if (config.outside) {
      if (nextRevision <= MAX_RECORD_REVISION) {
        const schedule = { ...context.schedule, paused: !context.schedule.paused };
        others.push({ type: 'SCHEDULE_UPDATED', schedule, recordRevision: nextRevision, now: T0 });
      }
      others.push({ type: 'SCHEDULE_REMOVED' }, { type: 'STOP' });
    }
    return [...timers, ...others];
  };
}

/**
 * State identity for the graph: the renewal counter grows forever, but the machine only compares
 * it with the proof it waits for, so the model keeps just that (clamped) offset.
 */
export function serializeScheduleState(s: ScheduleSnapshot): string {
  const { renewalsStarted, proofFromSeq, ...rest } = s.context;
  // provesLease compares answer seq (= renewalsStarted) with proofFromSeq: only "owed one more
  // request" (1) versus "satisfied by the current or any later one" (≤ 0) matters.
  const proofOffset = proofFromSeq === null ? null : Math.max(0, proofFromSeq - renewalsStarted);
  return JSON.stringify({ value: s.value, status: s.status, proofOffset, ...rest });
}
