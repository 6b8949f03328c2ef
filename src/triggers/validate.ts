/**
 * Validation of trigger objects read back from storage (or built by hand): a corrupt stored
 * trigger becomes an {@link InvalidTriggerError} naming the bad field (`triggers[1].expression`),
 * never a crash deep inside `nextFireTime`.
 */
import { validateCalendarInterval } from './calendar-interval.js';
import { validateCron } from './cron.js';
import { validateDate } from './date.js';
import { InvalidTriggerError } from './errors.js';
import { validateInterval } from './interval.js';
import { describeValue, requireIntegerInRange } from './trigger-fields.js';
import { TriggerKind, type Trigger } from './types.js';

/** Nesting depth of and/or beyond which a trigger is refused (guards against cyclic or hostile data). */
export const MAX_TRIGGER_DEPTH = 32;

/** Longest `and` threshold accepted: a year. */
const MAX_THRESHOLD_MS = 366 * 86_400_000;

/** Checks the children list of an and/or trigger. */
export function validateChildren(value: unknown, prefix: string, depth: number): Trigger[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidTriggerError(
      `${prefix}triggers`,
      `${Array.isArray(value) ? 'an empty list' : describeValue(value)} is not usable; pass a non-empty array of triggers`,
    );
  }
  return value.map((child, i) => validateTrigger(child, `${prefix}triggers[${i}].`, depth + 1));
}

/** Checks the numeric options of an `and` trigger. */
export function validateAndOptions(thresholdMs: unknown, maxIterations: unknown, prefix: string): void {
  if (typeof thresholdMs !== 'number' || !Number.isFinite(thresholdMs) || thresholdMs < 0 || thresholdMs > MAX_THRESHOLD_MS) {
    throw new InvalidTriggerError(`${prefix}threshold`, `${describeValue(thresholdMs)} ms must be a duration from 0 to 366 days`);
  }
  requireIntegerInRange(maxIterations, `${prefix}maxIterations`, 1, 100_000_000);
}

/** Validates `value` as a trigger and returns a normalised copy; field names are prefixed with `prefix`. */
export function validateTrigger(value: unknown, prefix = '', depth = 0): Trigger {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidTriggerError(prefix === '' ? 'trigger' : prefix.slice(0, -1), `${describeValue(value)} is not a trigger object`);
  }
  if (depth > MAX_TRIGGER_DEPTH) {
    throw new InvalidTriggerError(`${prefix}triggers`, `and/or nested deeper than ${MAX_TRIGGER_DEPTH} levels`);
  }
  const x = value as Record<string, unknown>;
  switch (x['kind']) {
    case TriggerKind.cron:
      return validateCron(x, prefix);
    case TriggerKind.interval:
      return validateInterval(x, prefix);
    case TriggerKind.date:
      return validateDate(x, prefix);
    case TriggerKind.calendarInterval:
      return validateCalendarInterval(x, prefix);
    case TriggerKind.and: {
      const triggers = validateChildren(x['triggers'], prefix, depth);
      validateAndOptions(x['thresholdMs'], x['maxIterations'], prefix);
      return { kind: 'and', triggers, thresholdMs: x['thresholdMs'] as number, maxIterations: x['maxIterations'] as number };
    }
    case TriggerKind.or:
      return { kind: 'or', triggers: validateChildren(x['triggers'], prefix, depth) };
    default:
      throw new InvalidTriggerError(
        `${prefix}kind`,
        `${describeValue(x['kind'])} is not a trigger kind; expected one of ${Object.values(TriggerKind).join(', ')}`,
      );
  }
}

/** Throws {@link InvalidTriggerError} unless `value` is a valid trigger (e.g. one read back from storage). */
export function assertTrigger(value: unknown): asserts value is Trigger {
  validateTrigger(value);
}

/** Whether `value` is a valid trigger. */
export function isTrigger(value: unknown): value is Trigger {
  try {
    validateTrigger(value);
    return true;
  } catch (error) {
    if (error instanceof InvalidTriggerError) return false;
    throw error;
  }
}
