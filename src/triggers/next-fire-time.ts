/**
 * `nextFireTime`: the one question the runtime asks of a trigger. Pure and deterministic — the same
 * trigger and instant give the same answer on every node — so a schedule's fire times, and the job
 * ids derived from them, agree across the cluster.
 */
import { andNext } from './and.js';
import { calendarIntervalNext } from './calendar-interval.js';
import { cronNext } from './cron.js';
import { dateNext } from './date.js';
import { InvalidFireTimeArgumentError, InvalidTriggerError } from './errors.js';
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

function requireAfter(after: unknown): number {
  const ms = after instanceof Date ? after.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new InvalidFireTimeArgumentError(
      'after',
      `${describeValue(after)} is not a valid Date; pass a Date whose getTime() is a number, e.g. new Date() or new Date('2026-01-01T00:00:00Z')`,
    );
  }
  return ms;
}

function requireCount(count: unknown): number {
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
    throw new InvalidFireTimeArgumentError('count', `${describeValue(count)} is not a whole number >= 0; pass how many fire times to list, e.g. 5`);
  }
  return count;
}

/**
 * The earliest fire time after `after` (at or after it with `inclusive`) within the trigger's
 * bounds, or null when the trigger is exhausted. Throws `MaxIterationsReachedError` only for `and`,
 * and `InvalidFireTimeArgumentError` when `after` is not a valid Date.
 */
export function nextFireTime(trigger: Trigger, after: Date, opts: NextFireTimeOptions = {}): Date | null {
  const ms = requireAfter(after);
  const at = nextFireTimeAtOrAfter(trigger, opts.inclusive ? ms : ms + 1);
  return at === null || at > MAX_INSTANT ? null : new Date(at);
}

/** Up to `count` successive fire times after `after` (at or after with `inclusive`), e.g. for a CLI preview. */
export function upcomingFireTimes(trigger: Trigger, after: Date, count: number, opts: NextFireTimeOptions = {}): Date[] {
  const out: Date[] = [];
  const wanted = requireCount(count);
  let lower = opts.inclusive ? requireAfter(after) : requireAfter(after) + 1;
  while (out.length < wanted) {
    const at = nextFireTimeAtOrAfter(trigger, lower);
    if (at === null || at > MAX_INSTANT) break;
    out.push(new Date(at));
    lower = at + 1;
  }
  return out;
}
