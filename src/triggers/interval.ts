/**
 * The `interval` trigger: `start + k·every` in elapsed time. Being plain arithmetic on epoch
 * milliseconds, DST and zones cannot bend it.
 */
import { InvalidDurationError, parseDuration, type DurationLike } from '../duration.js';
import { InvalidTriggerError } from './errors.js';
import { describeValue, requireOrderedBounds, requireStoredInstant, toInstant } from './trigger-fields.js';
import type { IntervalTrigger } from './types.js';

/** Options of {@link interval}. */
export interface IntervalOptions {
  /** First fire time; a string without offset is read as UTC. @defaultValue the moment `interval()` is called */
  start?: Date | string | undefined;
  /** No fire after this instant (inclusive). @defaultValue unbounded */
  end?: Date | string | undefined;
}

/** A trigger firing every `every` (ms, `'5m'`, `{ hours: 1 }`…) from `start` (default now). Throws `InvalidTriggerError`. */
export function interval(every: DurationLike, opts: IntervalOptions = {}): IntervalTrigger {
  let everyMs: number;
  try {
    everyMs = parseDuration(every, 'every');
  } catch (error) {
    if (error instanceof InvalidDurationError) throw new InvalidTriggerError('every', error.detail, { cause: error });
    throw error;
  }
  const trigger: IntervalTrigger = {
    kind: 'interval',
    everyMs,
    start: opts.start === undefined ? Date.now() : toInstant(opts.start, 'start'),
    end: opts.end === undefined ? null : toInstant(opts.end, 'end'),
  };
  return validateInterval(trigger, '');
}

/** Checks a (possibly stored) interval trigger; field names in errors are prefixed with `prefix`. */
export function validateInterval(value: object, prefix: string): IntervalTrigger {
  const x = value as Record<string, unknown>;
  const everyMs = x['everyMs'];
  if (typeof everyMs !== 'number' || !Number.isSafeInteger(everyMs) || everyMs < 1) {
    throw new InvalidTriggerError(
      `${prefix}every`,
      `${describeValue(everyMs)} ms is not a usable interval; it must be a whole number of milliseconds >= 1 (e.g. '30s', '5m', 1000)`,
    );
  }
  const start = requireStoredInstant(x['start'], `${prefix}start`);
  const end = x['end'] == null ? null : requireStoredInstant(x['end'], `${prefix}end`);
  requireOrderedBounds(start, end, prefix);
  return { kind: 'interval', everyMs, start, end };
}

/**
 * `(lower − start) mod every`, exactly. Both instants are integers within ±8.64e15, so their
 * difference is exact as a double up to 2^53; beyond that (start and after at opposite ends of the
 * Date range) a double would round it and lose the grid, so those rare cases go through BigInt.
 * A float division would not do either: `ceil((lower − start) / every)` can round down near 2^53.
 */
function elapsedRemainder(lower: number, start: number, everyMs: number): number {
  const elapsed = lower - start;
  if (elapsed <= Number.MAX_SAFE_INTEGER) return elapsed % everyMs;
  return Number((BigInt(lower) - BigInt(start)) % BigInt(everyMs));
}

/** The first fire time >= `lower` (epoch ms) within the trigger's bounds, or null. */
export function intervalNext(trigger: IntervalTrigger, lower: number): number | null {
  const { start, everyMs, end } = trigger;
  // Fire times are whole milliseconds; `lower` may not be (an `and` threshold in fractions).
  const from = Math.ceil(lower);
  let at = start;
  if (from > start) {
    const remainder = elapsedRemainder(from, start, everyMs);
    // Past the Date range the sum may round, but then it is beyond any `end` and any Date anyway.
    at = remainder === 0 ? from : from + (everyMs - remainder);
  }
  return end === null || at <= end ? at : null;
}
