/**
 * Proleptic Gregorian calendar arithmetic on plain numbers. Wall-clock ("civil") date-times are
 * represented as `Date.UTC(...)` of their fields — a zone-less number that orders like the wall
 * clock — so the trigger code can step through dates without allocating luxon objects, which is
 * what keeps `nextFireTime` in the microsecond range.
 */

export const MS_PER_SECOND = 1_000;
export const MS_PER_MINUTE = 60_000;
export const MS_PER_HOUR = 3_600_000;
export const MS_PER_DAY = 86_400_000;

/** A calendar date; `month` is 1-12. */
export interface CivilDate {
  year: number;
  month: number;
  day: number;
}

/** A wall-clock date-time; `month` is 1-12. */
export interface CivilDateTime extends CivilDate {
  hour: number;
  minute: number;
  second: number;
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

/** Days since 1970-01-01 (Howard Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** Inverse of {@link daysFromCivil}. */
export function civilFromDays(days: number): CivilDate {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** 0 = Sunday … 6 = Saturday. */
export function weekday(year: number, month: number, day: number): number {
  // 1970-01-01 was a Thursday (4).
  return (((daysFromCivil(year, month, day) + 4) % 7) + 7) % 7;
}

/** The wall-clock number (see module doc) of a civil date-time. */
export function wallMs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  return daysFromCivil(year, month, day) * MS_PER_DAY + hour * MS_PER_HOUR + minute * MS_PER_MINUTE + second * MS_PER_SECOND;
}

/** Splits a wall-clock number into its fields (milliseconds are dropped). */
export function civilFromWall(wall: number): CivilDateTime {
  const days = Math.floor(wall / MS_PER_DAY);
  let rest = wall - days * MS_PER_DAY;
  const hour = Math.floor(rest / MS_PER_HOUR);
  rest -= hour * MS_PER_HOUR;
  const minute = Math.floor(rest / MS_PER_MINUTE);
  rest -= minute * MS_PER_MINUTE;
  return { ...civilFromDays(days), hour, minute, second: Math.floor(rest / MS_PER_SECOND) };
}

/** Parses a strict `'YYYY-MM-DD'` that names a real date; null otherwise. */
export function parseIsoDate(text: string): CivilDate | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  return { year, month, day };
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

export function formatIsoDate(d: CivilDate): string {
  return `${pad(d.year, 4)}-${pad(d.month)}-${pad(d.day)}`;
}

export function formatClock(hour: number, minute: number, second: number): string {
  return `${pad(hour)}:${pad(minute)}:${pad(second)}`;
}

/**
 * The proleptic Julian calendar (a leap year every 4 years, no exceptions). Between two Gregorian
 * years that skip their leap day (1900, 2100, 2200, 2300, 2500, …) both calendars have the same
 * months, so a date sequence computed on Julian dates there is the Gregorian one — and the Julian
 * calendar repeats every 4 years (48 months, 1461 days), which `calendar-steps.ts` exploits.
 */
export const JULIAN_CYCLE_DAYS = 1_461;

export function isJulianLeapYear(year: number): boolean {
  return ((year % 4) + 4) % 4 === 0;
}

export function julianDaysInMonth(year: number, month: number): number {
  return month === 2 && isJulianLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

/**
 * Days of a Julian calendar date counted from 0000-03-01 (Julian), so that the count modulo
 * {@link JULIAN_CYCLE_DAYS} is the position in the 4-year cycle. Only differences and residues of
 * it mean anything; it is not comparable with {@link daysFromCivil}.
 */
export function julianDaysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 4);
  const yoe = y - era * 4;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  return era * JULIAN_CYCLE_DAYS + yoe * 365 + doy;
}

/** Inverse of {@link julianDaysFromCivil}. */
export function civilFromJulianDays(days: number): CivilDate {
  const era = Math.floor(days / JULIAN_CYCLE_DAYS);
  const doe = days - era * JULIAN_CYCLE_DAYS;
  // The leap day (Feb 29) is the last day of the 4th March-based year, doe 1460.
  const yoe = Math.min(Math.floor(doe / 365), 3);
  const doy = doe - yoe * 365;
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 4 + (month <= 2 ? 1 : 0), month, day };
}
