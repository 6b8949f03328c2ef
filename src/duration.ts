/**
 * Durations as the public API accepts them: milliseconds, compact strings ('90s', '1h30m') or an
 * object of units, in the spirit of Temporal's SDK. Everything is turned into milliseconds once, at
 * the API boundary, so the rest of jobchart only ever handles plain numbers.
 */

/** A duration: a number of milliseconds, a string like `'90s'`, `'1h30m'`, `'2d'`, or an object of units. */
export type DurationLike =
  | number
  | string
  | {
      weeks?: number;
      days?: number;
      hours?: number;
      minutes?: number;
      seconds?: number;
      milliseconds?: number;
    };

const MS_PER = {
  w: 604_800_000,
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
} as const;
type StringUnit = keyof typeof MS_PER;

// Units in the order a string must list them ('1h30m', not '30m1h'): a repeated or reversed unit
// is far more likely a typo than an intention.
const UNIT_ORDER: readonly StringUnit[] = ['w', 'd', 'h', 'm', 's', 'ms'];

const OBJECT_UNITS = {
  weeks: MS_PER.w,
  days: MS_PER.d,
  hours: MS_PER.h,
  minutes: MS_PER.m,
  seconds: MS_PER.s,
  milliseconds: MS_PER.ms,
} as const;

const ACCEPTED_FORMS =
  "a non-negative number of milliseconds, a string such as '250ms', '90s', '5m', '1h30m', '2d', '1w' " +
  "(a bare number string is milliseconds), or an object like { hours: 1, minutes: 30 }";

/** A value that is not a usable duration; `field` names the option it was given for. */
export class InvalidDurationError extends Error {
  override readonly name = 'InvalidDurationError';
  /** The message without the leading field name. */
  readonly detail: string;
  constructor(
    readonly field: string,
    readonly value: unknown,
    reason: string,
  ) {
    const detail = `${describeValue(value)} is not a valid duration (${reason}); use ${ACCEPTED_FORMS}`;
    super(`${field}: ${detail}`);
    this.detail = detail;
  }
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return String(value);
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return typeof value;
  }
}

const PART = /(\d+(?:\.\d+)?|\.\d+)\s*(ms|w|d|h|m|s)/y;
const BARE_NUMBER = /^(?:\d+(?:\.\d+)?|\.\d+)$/;

function parseDurationString(text: string, field: string, original: unknown): number {
  const s = text.trim();
  if (s === '') throw new InvalidDurationError(field, original, 'empty string');
  if (BARE_NUMBER.test(s)) return Number(s);
  let total = 0;
  let lastUnitIndex = -1;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const match = PART.exec(s);
    if (!match) throw new InvalidDurationError(field, original, `cannot read "${s.slice(PART.lastIndex)}"`);
    const unit = match[2] as StringUnit;
    const unitIndex = UNIT_ORDER.indexOf(unit);
    if (unitIndex <= lastUnitIndex) {
      throw new InvalidDurationError(field, original, `unit "${unit}" repeated or out of order (largest unit first)`);
    }
    lastUnitIndex = unitIndex;
    total += Number(match[1]) * MS_PER[unit];
    // Allow "1h 30m": skip blanks between parts.
    while (s[PART.lastIndex] === ' ') PART.lastIndex++;
  }
  return total;
}

function parseDurationObject(obj: Record<string, unknown>, field: string): number {
  let total = 0;
  for (const [key, amount] of Object.entries(obj)) {
    if (!Object.hasOwn(OBJECT_UNITS, key)) {
      throw new InvalidDurationError(field, obj, `unknown unit "${key}"`);
    }
    if (amount === undefined) continue;
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) {
      throw new InvalidDurationError(field, obj, `"${key}" must be a finite number >= 0`);
    }
    total += amount * OBJECT_UNITS[key as keyof typeof OBJECT_UNITS];
  }
  return total;
}

/**
 * Converts a {@link DurationLike} to milliseconds. `field` (default `'duration'`) names the option in
 * error messages. Throws {@link InvalidDurationError} for negative, non-finite or unreadable values.
 */
export function parseDuration(d: DurationLike, field = 'duration'): number {
  let ms: number;
  if (typeof d === 'number') {
    ms = d;
  } else if (typeof d === 'string') {
    ms = parseDurationString(d, field, d);
  } else if (typeof d === 'object' && d !== null && !Array.isArray(d)) {
    ms = parseDurationObject(d as Record<string, unknown>, field);
  } else {
    throw new InvalidDurationError(field, d, `expected a number, string or object, got ${d === null ? 'null' : typeof d}`);
  }
  if (Number.isNaN(ms)) throw new InvalidDurationError(field, d, 'NaN');
  if (!Number.isFinite(ms)) throw new InvalidDurationError(field, d, 'not finite');
  if (ms < 0) throw new InvalidDurationError(field, d, 'negative');
  if (ms > Number.MAX_SAFE_INTEGER) throw new InvalidDurationError(field, d, 'too large');
  return ms;
}

/** Formats milliseconds compactly (`5400000` → `'1h30m'`, `0` → `'0ms'`); `parseDuration` reads it back. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return String(ms);
  let rest = Math.round(ms);
  if (rest === 0) return '0ms';
  let out = '';
  for (const unit of UNIT_ORDER) {
    const size = MS_PER[unit];
    const amount = Math.floor(rest / size);
    if (amount > 0) {
      out += `${amount}${unit}`;
      rest -= amount * size;
    }
  }
  return out;
}
