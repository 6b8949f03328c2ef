/**
 * Validation of the option values triggers share (instants, zones, whole numbers), each throwing an
 * {@link InvalidTriggerError} that names the field and says what would be accepted.
 */
import { DateTime } from 'luxon';
import { InvalidTriggerError } from './errors.js';
import { isValidTimeZone } from './zone-timeline.js';

/** Largest instant a JS Date can hold. */
const MAX_INSTANT = 8.64e15;

/** Characters of a user's value quoted in an error message; longer values are cut (a message should not carry 100 kB). */
export const MAX_QUOTED_LENGTH = 80;

/** `text` as a JSON string, cut to its first {@link MAX_QUOTED_LENGTH} characters with its full length noted. */
export function quoteBounded(text: string): string {
  if (text.length <= MAX_QUOTED_LENGTH) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, MAX_QUOTED_LENGTH))}… (${text.length} characters)`;
}

/** A value as an error message quotes it: strings quoted, dates in ISO form, everything bounded in length. */
export function describeValue(value: unknown): string {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (typeof value === 'string') return quoteBounded(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length <= MAX_QUOTED_LENGTH ? text : `${text.slice(0, MAX_QUOTED_LENGTH)}… (${text.length} characters)`;
}

/**
 * Turns a Date or an ISO 8601 string into epoch milliseconds. A string without an offset is read
 * in `zone` (the trigger's timezone; UTC for triggers without one).
 */
export function toInstant(value: unknown, field: string, zone = 'UTC'): number {
  let ms = Number.NaN;
  if (value instanceof Date) {
    ms = value.getTime();
  } else if (typeof value === 'string') {
    const parsed = DateTime.fromISO(value.trim(), { zone });
    if (parsed.isValid) ms = parsed.toMillis();
  }
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_INSTANT) {
    throw new InvalidTriggerError(
      field,
      `${describeValue(value)} is not a valid instant; use a Date or an ISO 8601 string such as '2026-03-29T02:30:00Z'`,
    );
  }
  return ms;
}

/** An epoch-millisecond number as stored in a serialised trigger. */
export function requireStoredInstant(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > MAX_INSTANT) {
    throw new InvalidTriggerError(field, `${describeValue(value)} is not an epoch-milliseconds integer`);
  }
  return value;
}

export function requireTimeZone(zone: unknown, field = 'timezone'): string {
  if (typeof zone !== 'string' || !isValidTimeZone(zone)) {
    throw new InvalidTriggerError(
      field,
      `${describeValue(zone)} is not a known IANA time zone; use a name such as 'UTC', 'Europe/Berlin' or 'America/New_York'`,
    );
  }
  return zone;
}

export function requireIntegerInRange(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidTriggerError(field, `${describeValue(value)} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** `end` must not lie before `start` (both inclusive bounds); equal is one possible fire time. */
export function requireOrderedBounds(start: number | null, end: number | null, prefix = ''): void {
  if (start !== null && end !== null && end < start) {
    throw new InvalidTriggerError(
      `${prefix}end`,
      `${new Date(end).toISOString()} is before start ${new Date(start).toISOString()}; end must be at or after start`,
    );
  }
}
