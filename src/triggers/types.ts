/**
 * The serialised shape of triggers: plain objects, a discriminated union on `kind`. Instants are
 * epoch milliseconds and calendar dates `'YYYY-MM-DD'` strings, absent bounds are `null`, so a
 * trigger survives JSON and msgpack unchanged and every node computes the same fire times from it.
 */

/** The kinds of trigger. */
export const TriggerKind = {
  cron: 'cron',
  interval: 'interval',
  date: 'date',
  calendarInterval: 'calendarInterval',
  and: 'and',
  or: 'or',
} as const;
export type TriggerKind = (typeof TriggerKind)[keyof typeof TriggerKind];

/** Crontab expression evaluated in an IANA zone; `start`/`end` bound fire times (inclusive). */
export interface CronTrigger {
  kind: 'cron';
  /** 5 or 6 fields or an `@alias`, as given by the caller (trimmed). */
  expression: string;
  timezone: string;
  start: number | null;
  end: number | null;
}

/** Fires at `start + k·everyMs` (k ≥ 0) in elapsed time, up to `end` inclusive. */
export interface IntervalTrigger {
  kind: 'interval';
  everyMs: number;
  start: number;
  end: number | null;
}

/** Fires once, at `at`. */
export interface DateTrigger {
  kind: 'date';
  at: number;
}

/** Wall-clock calendar steps from `start` (a date) at `hour:minute:second` in `timezone`. */
export interface CalendarIntervalTrigger {
  kind: 'calendarInterval';
  years: number;
  months: number;
  weeks: number;
  days: number;
  hour: number;
  minute: number;
  second: number;
  timezone: string;
  /** `'YYYY-MM-DD'`, the first fire date. */
  start: string;
  /** `'YYYY-MM-DD'`, the last date that may fire (inclusive), or null. */
  end: string | null;
}

/** Fires when every child fires within `thresholdMs` of the others, at the earliest of those times. */
export interface AndTrigger {
  kind: 'and';
  triggers: Trigger[];
  thresholdMs: number;
  maxIterations: number;
}

/** Fires whenever any child fires (equal times merged). */
export interface OrTrigger {
  kind: 'or';
  triggers: Trigger[];
}

/** A schedule's trigger: a plain, serialisable object. */
export type Trigger = CronTrigger | IntervalTrigger | DateTrigger | CalendarIntervalTrigger | AndTrigger | OrTrigger;
