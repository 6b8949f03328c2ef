/**
 * What a schedule does when it fires, in two halves: `planFires` (pure: which fire times become
 * jobs under the coalesce policy, their jitter and start deadlines, and the next fire time) and
 * `commitFires` (effects: create the jobs under deterministic ids — G4 — then advance the record
 * with a revision check).
 */
import type { JobRecord, ScheduleRecord } from '../records.js';
import { jobIdForFire, type StoreBackend } from '../store/index.js';
import { nextFireTime } from '../triggers/index.js';

/** Most fire times one firing turns into jobs under coalesce 'all' (the rest are skipped as missed). */
export const MAX_FIRES_PER_ROUND = 1_000;

export interface PlannedFire {
  fireTime: Date;
  jitterMs: number;
  startDeadline: Date | null;
}

export interface FirePlan {
  fires: PlannedFire[];
  /** The schedule's next fire time after this round; null when the trigger is exhausted. */
  next: Date | null;
  /** The last fire time this round covered (made into a job or coalesced away). */
  last: Date | null;
}

/** Plans the fire times due at `now`. `random` returns [0, 1). */
export function planFires(record: ScheduleRecord, now: Date, misfireGraceTimeMs: number | null, random: () => number): FirePlan {
  const due: Date[] = [];
  let t = record.nextFireTime;
  while (t !== null && t.getTime() <= now.getTime() && due.length < MAX_FIRES_PER_ROUND) {
    due.push(t);
    t = nextFireTime(record.trigger, t);
  }
  // `t` is now the first fire time after `now` (or after the cap, which counts as missed).
  let next = t;
  while (next !== null && next.getTime() <= now.getTime()) next = nextFireTime(record.trigger, now);
  const chosen = record.coalesce === 'all' ? due : record.coalesce === 'earliest' ? due.slice(0, 1) : due.slice(-1);
  const fires = chosen.map((fireTime, i) => {
    const following = chosen[i + 1] ?? next;
    const room = following ? following.getTime() - fireTime.getTime() : record.maxJitterMs;
    const bound = Math.max(0, Math.min(record.maxJitterMs, room));
    const jitterMs = bound > 0 ? Math.floor(random() * bound) : 0;
    const startDeadline = misfireGraceTimeMs === null ? null : new Date(fireTime.getTime() + jitterMs + misfireGraceTimeMs);
    return { fireTime, jitterMs, startDeadline };
  });
  return { fires, next, last: due.at(-1) ?? null };
}

/** Creates the planned jobs (idempotently) and advances the schedule; false if the record moved. */
export async function commitFires(
  backend: StoreBackend,
  stored: { record: ScheduleRecord; revision: number },
  plan: FirePlan,
  resultTtlMs: number,
  onJobAdded: (job: JobRecord) => void,
): Promise<{ advanced: boolean; revision: number | null }> {
  const { record } = stored;
  const now = new Date(backend.clock.now());
  for (const fire of plan.fires) {
    const job: JobRecord = {
      id: jobIdForFire(record.id, fire.fireTime),
      task: record.task,
      args: record.args,
      createdAt: now,
      scheduleId: record.id,
      scheduledFireTime: fire.fireTime,
      attempt: 1,
      resultTtlMs,
    };
    if (fire.startDeadline) job.startDeadline = fire.startDeadline;
    if (fire.jitterMs > 0) job.notBefore = new Date(fire.fireTime.getTime() + fire.jitterMs);
    const created = await backend.jobs.create(job);
    // Enqueue even when the job existed: a scheduler that died between create and enqueue must not
    // leave a job nobody will ever fetch. A duplicate delivery is harmless (lease + write-once result).
    await backend.dispatch.enqueue(job.id);
    if (created) onJobAdded(job);
  }
  const advanced = await backend.schedules.update({ ...record, nextFireTime: plan.next, lastFireTime: plan.last ?? record.lastFireTime }, stored.revision);
  return { advanced: advanced !== null, revision: advanced?.revision ?? null };
}
