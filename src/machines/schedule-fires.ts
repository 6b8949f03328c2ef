/** Pure fire-time arithmetic of the schedule machine: due fire times, coalescing, jitter. */
import type { ScheduleRecord } from '../records.js';
import type { PlannedFire, ScheduleMachineDeps } from './schedule-types.js';

/**
 * Most fire times one firing collects. A schedule that missed more (a per-second trigger after a
 * day down) skips ahead to the first fire time after now; the skipped ones count as coalesced.
 */
export const MAX_DUE_FIRE_TIMES = 10_000;

export interface FirePlan {
  fires: PlannedFire[];
  /** First fire time after `now`, or null when the trigger is exhausted. */
  nextFireTime: Date | null;
  lastFireTime: Date | null;
}

/**
 * Fire times of `schedule` due at `now` (from its `nextFireTime` up to and including `now`),
 * reduced by the coalesce policy, each with its jitter and start deadline.
 */
export function planFires(schedule: ScheduleRecord, now: Date, deps: ScheduleMachineDeps): FirePlan {
  const due: Date[] = [];
  let next = schedule.nextFireTime;
  while (next !== null && next.getTime() <= now.getTime()) {
    if (due.length === MAX_DUE_FIRE_TIMES) {
      next = deps.nextFireTime(schedule.trigger, now);
      break;
    }
    due.push(next);
    next = deps.nextFireTime(schedule.trigger, next);
  }
  const selected = selectByCoalesce(schedule.coalesce, due);
  const fires = selected.map((fireTime) => {
    const index = due.indexOf(fireTime);
    const following = index + 1 < due.length ? due[index + 1]! : next;
    return plannedFire(schedule, fireTime, following, deps.random);
  });
  return { fires, nextFireTime: next, lastFireTime: due.at(-1) ?? schedule.lastFireTime };
}

function selectByCoalesce(policy: ScheduleRecord['coalesce'], due: Date[]): Date[] {
  if (due.length === 0) return [];
  switch (policy) {
    case 'earliest':
      return [due[0]!];
    case 'latest':
      return [due.at(-1)!];
    case 'all':
      return due;
  }
}

/** Jitter uniform in [0, min(maxJitter, following − fireTime)); deadline = runAt + grace. */
export function plannedFire(schedule: ScheduleRecord, fireTime: Date, following: Date | null, random: () => number): PlannedFire {
  const gap = following === null ? Number.POSITIVE_INFINITY : following.getTime() - fireTime.getTime();
  const bound = Math.max(0, Math.min(schedule.maxJitterMs, gap));
  const jitterMs = bound > 0 ? Math.min(bound - 1, Math.floor(random() * bound)) : 0;
  const runAt = new Date(fireTime.getTime() + jitterMs);
  const startDeadline = schedule.misfireGraceTimeMs === null ? null : new Date(runAt.getTime() + schedule.misfireGraceTimeMs);
  return { fireTime, jitterMs, runAt, startDeadline };
}

/** Longest delay setTimeout honours; longer waits wake early and re-plan. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** Delay from `now` to `at`, clamped to [0, MAX_TIMER_DELAY_MS]. */
export function delayUntil(at: Date, now: number): number {
  return Math.min(MAX_TIMER_DELAY_MS, Math.max(0, at.getTime() - now));
}
