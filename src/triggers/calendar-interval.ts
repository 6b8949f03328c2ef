/**
 * The `calendarInterval` trigger: wall-clock calendar steps (years, months, weeks, days) from a
 * start date, firing at a fixed `hour:minute:second` in a zone. Each next fire date is the previous
 * one plus the years/months step keeping the day of month — a date that does not exist (Feb 30) is
 * skipped by adding the step again, never clamped — then plus the weeks/days step. The time of day is
 * fixed, so the fixed-hour DST rule applies: a time in a spring-forward gap fires at the end of the
 * gap, a time repeated by a fall-back fires at its first occurrence.
 */
import {
  civilFromDays,
  daysFromCivil,
  daysInMonth,
  formatIsoDate,
  MS_PER_DAY,
  parseIsoDate,
  wallMs,
  type CivilDate,
} from './civil.js';
import { firstMixedStepDateFrom, nextCalendarStep } from './calendar-steps.js';
import { InvalidTriggerError } from './errors.js';
import { describeValue, requireIntegerInRange, requireTimeZone } from './trigger-fields.js';
import type { CalendarIntervalTrigger } from './types.js';
import { ZoneTimeline } from './zone-timeline.js';

/** Options of {@link calendarInterval}; at least one of years/months/weeks/days must be > 0. */
export interface CalendarIntervalOptions {
  /** @defaultValue 0 */
  years?: number | undefined;
  /** @defaultValue 0 */
  months?: number | undefined;
  /** @defaultValue 0 */
  weeks?: number | undefined;
  /** @defaultValue 0 */
  days?: number | undefined;
  /** Hour of day of each fire, 0-23. @defaultValue 0 */
  hour?: number | undefined;
  /** @defaultValue 0 */
  minute?: number | undefined;
  /** @defaultValue 0 */
  second?: number | undefined;
  /** IANA zone of the wall clock. @defaultValue `'UTC'` */
  timezone?: string | undefined;
  /** First fire date, `'YYYY-MM-DD'`. */
  start: string;
  /** Last date that may fire (inclusive), `'YYYY-MM-DD'`. @defaultValue unbounded */
  end?: string | undefined;
}

/** A trigger stepping through calendar dates from `start` in `timezone`. Throws `InvalidTriggerError`. */
export function calendarInterval(opts: CalendarIntervalOptions): CalendarIntervalTrigger {
  if (typeof opts !== 'object' || opts === null) {
    throw new InvalidTriggerError('start', "calendarInterval needs an options object with at least start: 'YYYY-MM-DD'");
  }
  return validateCalendarInterval(
    {
      kind: 'calendarInterval',
      years: opts.years ?? 0,
      months: opts.months ?? 0,
      weeks: opts.weeks ?? 0,
      days: opts.days ?? 0,
      hour: opts.hour ?? 0,
      minute: opts.minute ?? 0,
      second: opts.second ?? 0,
      timezone: opts.timezone ?? 'UTC',
      start: opts.start,
      end: opts.end ?? null,
    },
    '',
  );
}

// Bounds that keep every step far inside the range of a JS Date.
const STEP_LIMITS = { years: 10_000, months: 120_000, weeks: 520_000, days: 3_650_000 } as const;

function requireIsoDate(value: unknown, field: string): CivilDate {
  const parsed = typeof value === 'string' ? parseIsoDate(value) : null;
  if (!parsed) {
    throw new InvalidTriggerError(field, `${describeValue(value)} is not a date; use 'YYYY-MM-DD' naming a real day, e.g. '2026-01-31'`);
  }
  return parsed;
}

/** Checks a (possibly stored) calendarInterval trigger; field names in errors are prefixed with `prefix`. */
export function validateCalendarInterval(value: object, prefix: string): CalendarIntervalTrigger {
  const x = value as Record<string, unknown>;
  const steps = {} as Record<keyof typeof STEP_LIMITS, number>;
  for (const [unit, limit] of Object.entries(STEP_LIMITS) as [keyof typeof STEP_LIMITS, number][]) {
    steps[unit] = requireIntegerInRange(x[unit], `${prefix}${unit}`, 0, limit);
  }
  if (steps.years + steps.months + steps.weeks + steps.days === 0) {
    throw new InvalidTriggerError(
      `${prefix}years/months/weeks/days`,
      'all steps are 0; set at least one of years, months, weeks, days to a whole number > 0',
    );
  }
  const hour = requireIntegerInRange(x['hour'], `${prefix}hour`, 0, 23);
  const minute = requireIntegerInRange(x['minute'], `${prefix}minute`, 0, 59);
  const second = requireIntegerInRange(x['second'], `${prefix}second`, 0, 59);
  const timezone = requireTimeZone(x['timezone'], `${prefix}timezone`);
  const start = requireIsoDate(x['start'], `${prefix}start`);
  const end = x['end'] == null ? null : requireIsoDate(x['end'], `${prefix}end`);
  if (end && dayNumber(end) < dayNumber(start)) {
    throw new InvalidTriggerError(`${prefix}end`, `${formatIsoDate(end)} is before start ${formatIsoDate(start)}; end must be on or after start`);
  }
  return {
    kind: 'calendarInterval',
    ...steps,
    hour,
    minute,
    second,
    timezone,
    start: formatIsoDate(start),
    end: end ? formatIsoDate(end) : null,
  };
}

function dayNumber(d: CivilDate): number {
  return daysFromCivil(d.year, d.month, d.day);
}

/** Consecutive non-existent dates tolerated by the months-only walk (never reached: see `calendar-steps.ts`). */
const MAX_SKIPS = 4_800;

/** Fire dates in order, from the last one before the date numbered `fromDay` or the first one on or after it. */
function* fireDates(t: CalendarIntervalTrigger, start: CivilDate, fromDay: number): Generator<CivilDate> {
  const monthStep = t.years * 12 + t.months;
  const dayStep = t.weeks * 7 + t.days;
  if (monthStep === 0) {
    const startDay = dayNumber(start);
    for (let k = Math.max(0, Math.floor((fromDay - startDay) / dayStep)); ; k++) {
      yield civilFromDays(startDay + k * dayStep);
    }
  }
  if (dayStep === 0) {
    // The day of month never changes, so the k-th candidate month is start + k·monthStep.
    const startIndex = start.year * 12 + start.month - 1;
    const from = civilFromDays(fromDay);
    let k = Math.max(0, Math.floor((from.year * 12 + from.month - 1 - startIndex) / monthStep) - 1);
    for (let misses = 0; misses < MAX_SKIPS; k++) {
      const index = startIndex + k * monthStep;
      const year = Math.floor(index / 12);
      const month = index - year * 12 + 1;
      if (start.day <= daysInMonth(year, month)) {
        misses = 0;
        yield { year, month, day: start.day };
      } else {
        misses++;
      }
    }
    return;
  }
  // Mixed steps: each date depends on the previous one's day of month; see calendar-steps.ts.
  for (let d = firstMixedStepDateFrom(start, monthStep, dayStep, fromDay); d; d = nextCalendarStep(d, monthStep, dayStep)) yield d;
}

/** The first fire time >= `lower` (epoch ms) on or before the end date, or null. */
export function calendarIntervalNext(t: CalendarIntervalTrigger, lower: number): number | null {
  const zone = ZoneTimeline.for(t.timezone);
  const start = parseIsoDate(t.start);
  if (!start) return null;
  const end = t.end === null ? null : parseIsoDate(t.end);
  const endDay = end ? dayNumber(end) : Infinity;
  // Offsets stay within a day, so a date two days before `lower`'s local date fires before `lower`.
  const fromDay = Math.floor((lower + zone.offsetAt(lower)) / MS_PER_DAY) - 2;
  // Every path of fireDates starts within a step of fromDay, and dates strictly increase: a few
  // dates in, one lies past `lower` or past the end date.
  for (const d of fireDates(t, start, fromDay)) {
    const day = dayNumber(d);
    if (day > endDay) return null;
    if (day < fromDay) continue;
    const at = zone.firstInstantOfWall(wallMs(d.year, d.month, d.day, t.hour, t.minute, t.second));
    if (at >= lower) return at;
  }
  return null;
}
