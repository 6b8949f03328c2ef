/**
 * The `cron` trigger: a crontab expression in an IANA zone, with jobchart's DST rule.
 *
 * Fire times are searched segment by segment, a segment being a stretch of instants with one UTC
 * offset (between two transitions of the zone). Within a segment wall clock and instants map one to
 * one, so the next fire is the first matching wall time in the segment's wall range. At the
 * boundaries the DST rule applies:
 * - fixed-hour expressions: wall times skipped by a spring-forward gap fire once, at the transition
 *   instant (the first instant after the gap); wall times repeated by a fall-back fire only in
 *   their first occurrence (the segment after the transition starts past the walls already seen);
 * - expressions whose hour field starts with `*` follow real time: gap walls do not exist (no
 *   segment contains them) and repeated walls fire in both segments.
 */
import { MS_PER_DAY } from './civil.js';
import { compileCron, firstWallMatch, type CronSchedule } from './cron-schedule.js';
import { InvalidTriggerError } from './errors.js';
import {
  describeValue,
  requireOrderedBounds,
  requireStoredInstant,
  requireTimeZone,
  toInstant,
} from './trigger-fields.js';
import type { CronTrigger } from './types.js';
import { ZoneTimeline } from './zone-timeline.js';

/** Options of {@link cron}. */
export interface CronOptions {
  /** IANA zone the expression is read in. @defaultValue `'UTC'` */
  timezone?: string | undefined;
  /** No fire before this instant (inclusive); a string without offset is read in `timezone`. @defaultValue unbounded */
  start?: Date | string | undefined;
  /** No fire after this instant (inclusive). @defaultValue unbounded */
  end?: Date | string | undefined;
}

/**
 * A trigger firing at the wall-clock times matching a crontab `expression` (5 or 6 fields, names,
 * ranges, steps, `L`, `#`, `@daily`…) in `timezone` (default UTC). Throws `InvalidTriggerError`.
 */
export function cron(expression: string, opts: CronOptions = {}): CronTrigger {
  if (typeof expression !== 'string') {
    throw new InvalidTriggerError('expression', `${describeValue(expression)} is not a string; use e.g. '0 9 * * MON-FRI'`);
  }
  const timezone = requireTimeZone(opts.timezone ?? 'UTC');
  const trigger: CronTrigger = {
    kind: 'cron',
    expression: expression.trim(),
    timezone,
    start: opts.start === undefined ? null : toInstant(opts.start, 'start', timezone),
    end: opts.end === undefined ? null : toInstant(opts.end, 'end', timezone),
  };
  return validateCron(trigger, '');
}

/** Checks a (possibly stored) cron trigger; field names in errors are prefixed with `prefix`. */
export function validateCron(value: object, prefix: string): CronTrigger {
  const x = value as Record<string, unknown>;
  if (typeof x['expression'] !== 'string') {
    throw new InvalidTriggerError(`${prefix}expression`, `${describeValue(x['expression'])} is not a string`);
  }
  try {
    compileCron(x['expression']);
  } catch (error) {
    if (error instanceof InvalidTriggerError) {
      throw new InvalidTriggerError(`${prefix}expression`, error.reason, { cause: error.cause });
    }
    throw error;
  }
  const timezone = requireTimeZone(x['timezone'], `${prefix}timezone`);
  const start = x['start'] == null ? null : requireStoredInstant(x['start'], `${prefix}start`);
  const end = x['end'] == null ? null : requireStoredInstant(x['end'], `${prefix}end`);
  requireOrderedBounds(start, end, prefix);
  return { kind: 'cron', expression: x['expression'], timezone, start, end };
}

/** The first fire time >= `lower` (epoch ms) within the trigger's bounds, or null. */
export function cronNext(trigger: CronTrigger, lower: number): number | null {
  const schedule = compileCron(trigger.expression);
  const from = trigger.start === null ? lower : Math.max(lower, trigger.start);
  const end = trigger.end ?? Infinity;
  if (from > end) return null;
  const at = nextInZone(schedule, ZoneTimeline.for(trigger.timezone), from, end);
  return at !== null && at <= end ? at : null;
}

/** Enough for 400 years of twice-yearly DST changes, which is as far as the wall search looks. */
const MAX_SEGMENTS = 2_000;

function nextInZone(s: CronSchedule, zone: ZoneTimeline, lower: number, end: number): number | null {
  const fixedHour = !s.followsRealTime;
  let offset = zone.offsetAt(lower);
  // The transition that opened the current segment matters only if it was recent: a fall-back
  // within the last hours means some walls ahead were already seen (fixed-hour rule).
  const opened = zone.lastTransitionIn(lower - MS_PER_DAY, lower);
  let segmentStart = opened ? opened.at : -Infinity;
  let offsetBefore = opened ? opened.before : offset;

  for (let i = 0; i < MAX_SEGMENTS && segmentStart <= end; i++) {
    if (fixedHour && segmentStart >= lower && offset > offsetBefore) {
      const skipped = firstWallMatch(s, segmentStart + offsetBefore);
      if (skipped !== null && skipped < segmentStart + offset) return segmentStart;
    }
    const from = Math.max(lower, segmentStart);
    let wallFrom = from + offset;
    if (fixedHour && offset < offsetBefore) wallFrom = Math.max(wallFrom, segmentStart + offsetBefore);
    const wall = firstWallMatch(s, wallFrom);
    if (wall === null) return null;
    const candidate = wall - offset;
    const transition = zone.firstTransitionIn(from, candidate);
    if (!transition) return candidate;
    segmentStart = transition.at;
    offsetBefore = transition.before;
    offset = transition.after;
  }
  return null;
}
