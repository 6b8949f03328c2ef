/** The `date` trigger: one fire time. */
import { describeValue, requireStoredInstant, toInstant } from './trigger-fields.js';
import { InvalidTriggerError } from './errors.js';
import type { DateTrigger } from './types.js';

/** A trigger firing once at `at` (a Date or an ISO 8601 string; without offset read as UTC). Throws `InvalidTriggerError`. */
export function date(at: Date | string): DateTrigger {
  if (at === undefined) throw new InvalidTriggerError('at', `${describeValue(at)} is missing; pass a Date or an ISO 8601 string`);
  return { kind: 'date', at: toInstant(at, 'at') };
}

/** Checks a (possibly stored) date trigger; field names in errors are prefixed with `prefix`. */
export function validateDate(value: object, prefix: string): DateTrigger {
  return { kind: 'date', at: requireStoredInstant((value as Record<string, unknown>)['at'], `${prefix}at`) };
}

/** `at` when it is >= `lower` (epoch ms), else null. */
export function dateNext(trigger: DateTrigger, lower: number): number | null {
  return trigger.at >= lower ? trigger.at : null;
}
