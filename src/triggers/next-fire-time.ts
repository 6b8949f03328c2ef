/**
 * `nextFireTime`: the one question the runtime asks of a trigger. Pure and deterministic — the same
 * trigger and instant give the same answer on every node — so a schedule's fire times, and the job
 * ids derived from them, agree across the cluster.
 */
import { andNext } from './and.js';
import { calendarIntervalNext } from './calendar-interval.js';
import { cronNext } from './cron.js';
import { dateNext } from './date.js';
import { InvalidTriggerError } from './errors.js';
import { intervalNext } from './interval.js';
import { orNext } from './or.js';
import { describeValue } from './trigger-fields.js';
import type { Trigger } from './types.js';

/** The last instant a JS Date can hold: later fire times do not exist. */
const MAX_INSTANT = 8.64e15;

/** Options of {@link nextFireTime}. */
export interface NextFireTimeOptions {
  /** Also accept a fire time equal to `after`. @defaultValue false */
  inclusive?: boolean | undefined;
}

/** The earliest fire time >= `lower` (epoch ms), or null. */
export function nextFireTimeAtOrAfter(trigger: Trigger, lower: number): number | null {
  switch (trigger.kind) {
    case 'cron':
      return cronNext(trigger, lower);
    case 'interval':
      return intervalNext(trigger, lower);
    case 'date':
      return dateNext(trigger, lower);
    case 'calendarInterval':
      return calendarIntervalNext(trigger, lower);
    case 'and':
      return andNext(trigger, lower, nextFireTimeAtOrAfter);
    case 'or':
      return orNext(trigger, lower, nextFireTimeAtOrAfter);
    default:
      throw new InvalidTriggerError('kind', `${describeValue((trigger as { kind?: unknown }).kind)} is not a trigger kind`);
  }
}

function requireDate(after: unknown): number {
  const ms = after instanceof Date ? after.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) throw new TypeError(`nextFireTime: after must be a valid Date, got ${describeValue(after)}`);
  return ms;
}

/**
 * The earliest fire time after `after` (at or after it with `inclusive`) within the trigger's
 * bounds, or null when the trigger is exhausted. Throws `MaxIterationsReachedError` only for `and`.
 */
export function nextFireTime(trigger: Trigger, after: Date, opts: NextFireTimeOptions = {}): Date | null {
  const ms = requireDate(after);
  const at = nextFireTimeAtOrAfter(trigger, opts.inclusive ? ms : ms + 1);
  return at === null || at > MAX_INSTANT ? null : new Date(at);
}

/** Up to `count` successive fire times after `after` (at or after with `inclusive`), e.g. for a CLI preview. */
export function upcomingFireTimes(trigger: Trigger, after: Date, count: number, opts: NextFireTimeOptions = {}): Date[] {
  const out: Date[] = [];
  let lower = opts.inclusive ? requireDate(after) : requireDate(after) + 1;
  while (out.length < count) {
    const at = nextFireTimeAtOrAfter(trigger, lower);
    if (at === null || at > MAX_INSTANT) break;
    out.push(new Date(at));
    lower = at + 1;
  }
  return out;
}
