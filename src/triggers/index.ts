/** The trigger layer: serialisable trigger objects and the pure `nextFireTime` over them. */
export type {
  AndTrigger,
  CalendarIntervalTrigger,
  CronTrigger,
  DateTrigger,
  IntervalTrigger,
  OrTrigger,
  Trigger,
} from './types.js';
export { TriggerKind } from './types.js';
export { InvalidFireTimeArgumentError, InvalidTriggerError, MaxIterationsReachedError } from './errors.js';
export { cron, type CronOptions } from './cron.js';
export { interval, type IntervalOptions } from './interval.js';
export { date } from './date.js';
export { calendarInterval, type CalendarIntervalOptions } from './calendar-interval.js';
export { and, type AndOptions } from './and.js';
export { or } from './or.js';
export { nextFireTime, upcomingFireTimes, type NextFireTimeOptions } from './next-fire-time.js';
export { assertTrigger, isTrigger } from './validate.js';
export { describeTrigger } from './describe.js';
