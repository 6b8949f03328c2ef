/**
 * The fire dates of a calendarInterval with both a years/months step and a weeks/days step, found
 * without walking from `start`.
 *
 * Each fire date is the previous one plus `monthStep` months (keeping the day of month, a month
 * without that day skipped by adding the step again) plus `dayStep` days. The day of month drifts,
 * so the dates are no arithmetic sequence; the Gregorian calendar repeats every 400 years, but the
 * sequence of positions in that cycle can take up to 146 097 steps to repeat, so its period is no
 * shortcut either. The Julian calendar helps instead: between two Gregorian years that drop their
 * leap day (2100, 2200, 2300, 2500, …) the two calendars have the same months, so there the
 * Gregorian sequence is the Julian one. A Julian step commutes with a shift by 4 years (48 months,
 * 1461 days), so it acts on the 1461 positions of the 4-year cycle; it is one-to-one there (a date
 * has one predecessor: the latest earlier month of the step's progression holding its day), so the
 * positions fall into cycles. Each cycle, with the days each step adds, is tabulated once per
 * (monthStep, dayStep): 1461 steps. From a fire date, the last fire date before a limit inside the
 * same stretch is then a division plus a binary search, and one exact Gregorian step crosses into
 * the next stretch: at most ~3 stretches per 400 years, ~75 between years 1 and 9999.
 */
import {
  civilFromDays,
  civilFromJulianDays,
  daysFromCivil,
  daysInMonth,
  JULIAN_CYCLE_DAYS,
  julianDaysFromCivil,
  julianDaysInMonth,
  type CivilDate,
} from './civil.js';

/** The arithmetic a calendar step needs; the Gregorian one is the contract, the Julian one the shortcut. */
interface Calendar {
  daysInMonth(year: number, month: number): number;
  daysFromCivil(year: number, month: number, day: number): number;
}

const GREGORIAN: Calendar = { daysInMonth, daysFromCivil };
const JULIAN: Calendar = { daysInMonth: julianDaysInMonth, daysFromCivil: julianDaysFromCivil };

/**
 * Months tried before a step gives up. Never reached: the months `d + j·monthStep` come back to
 * d's own month of the 400-year cycle within 4800 tries, and that month holds d's day.
 */
const MAX_SKIPS = 4_800;

/** The day number of `d` moved by `monthStep` months keeping its day (skipping months without it), then by `dayStep` days. */
function stepDays(calendar: Calendar, d: CivilDate, monthStep: number, dayStep: number): number | null {
  const index = d.year * 12 + d.month - 1;
  for (let j = monthStep > 0 ? 1 : 0; j <= MAX_SKIPS; j++) {
    const target = index + j * monthStep;
    const year = Math.floor(target / 12);
    const month = target - year * 12 + 1;
    if (d.day <= calendar.daysInMonth(year, month)) return calendar.daysFromCivil(year, month, d.day) + dayStep;
  }
  return null;
}

/** The fire date after `d` (Gregorian), or null if no month holds its day (see {@link MAX_SKIPS}). */
export function nextCalendarStep(d: CivilDate, monthStep: number, dayStep: number): CivilDate | null {
  const days = stepDays(GREGORIAN, d, monthStep, dayStep);
  return days === null ? null : civilFromDays(days);
}

/** The Julian step tabulated on the 4-year cycle, split into its cycles. */
interface JulianStepCycles {
  /** For each position in the 4-year cycle (Julian day mod 1461): where its cycle's sums start, the cycle's length, its index in it. */
  readonly cycleStart: Int32Array;
  readonly cycleLength: Int32Array;
  readonly indexOf: Int32Array;
  /**
   * Per cycle of length p, from its start: days from the cycle's first position to the one i steps
   * later, for i = 0 … 2p (twice round, so a walk from any index needs no wrap-around). Increasing.
   */
  readonly sums: Float64Array;
}

/** The Julian dates of the 1461 positions of the 4-year cycle (0000-03-01 … 0004-02-29). */
const CYCLE_DATES: readonly CivilDate[] = Array.from({ length: JULIAN_CYCLE_DAYS }, (_, position) => civilFromJulianDays(position));

function tabulateJulianStep(monthStep: number, dayStep: number): JulianStepCycles {
  const successor = new Int32Array(JULIAN_CYCLE_DAYS);
  const delta = new Float64Array(JULIAN_CYCLE_DAYS);
  for (let position = 0; position < JULIAN_CYCLE_DAYS; position++) {
    // A Julian step always finds a month within 48 tries (the 4-year cycle), so never null here.
    const next = stepDays(JULIAN, CYCLE_DATES[position]!, monthStep, dayStep)!;
    delta[position] = next - position;
    successor[position] = ((next % JULIAN_CYCLE_DAYS) + JULIAN_CYCLE_DAYS) % JULIAN_CYCLE_DAYS;
  }
  const cycleStart = new Int32Array(JULIAN_CYCLE_DAYS).fill(-1);
  const cycleLength = new Int32Array(JULIAN_CYCLE_DAYS);
  const indexOf = new Int32Array(JULIAN_CYCLE_DAYS);
  const members = new Int32Array(JULIAN_CYCLE_DAYS);
  const sums = new Float64Array(3 * JULIAN_CYCLE_DAYS);
  let used = 0;
  for (let first = 0; first < JULIAN_CYCLE_DAYS; first++) {
    if (cycleStart[first] !== -1) continue;
    // The step is one-to-one on positions, so following successors from `first` returns to it.
    let length = 0;
    for (let p = first; cycleStart[p] === -1; p = successor[p]!) {
      cycleStart[p] = used;
      indexOf[p] = length;
      members[length++] = p;
    }
    for (let i = 0; i < length; i++) cycleLength[members[i]!] = length;
    sums[used] = 0;
    for (let i = 0; i < 2 * length; i++) sums[used + i + 1] = sums[used + i]! + delta[members[i % length]!]!;
    used += 2 * length + 1;
  }
  return { cycleStart, cycleLength, indexOf, sums };
}

const tables = new Map<string, JulianStepCycles>();
const TABLE_LIMIT = 128;

/** The memoised table for one pair of steps (~50 kB, 1461 Julian steps to build). */
function julianStepCycles(monthStep: number, dayStep: number): JulianStepCycles {
  const key = `${monthStep}/${dayStep}`;
  let table = tables.get(key);
  if (!table) {
    table = tabulateJulianStep(monthStep, dayStep);
    if (tables.size >= TABLE_LIMIT) tables.delete(tables.keys().next().value!);
    tables.set(key, table);
  }
  return table;
}

/**
 * Days from the fire date numbered `from` (Julian day count) to the last date of the (Julian) step
 * sequence through it that is at most `room` days later. Exact for the Gregorian sequence when the
 * limit is within the date's stretch of agreement: every step taken then starts and ends inside it.
 */
function julianAdvanceWithin(table: JulianStepCycles, from: number, room: number): number {
  const position = ((from % JULIAN_CYCLE_DAYS) + JULIAN_CYCLE_DAYS) % JULIAN_CYCLE_DAYS;
  const { sums } = table;
  const length = table.cycleLength[position]!;
  const start = table.cycleStart[position]!;
  const cycleDays = sums[start + length]!;
  const base = start + table.indexOf[position]!;
  const baseSum = sums[base]!;
  // Whole turns of the cycle first, then the largest part of a turn that still fits.
  const turns = Math.floor(room / cycleDays);
  const rest = room - turns * cycleDays;
  let lo = 0;
  let hi = length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (sums[base + mid]! - baseSum <= rest) lo = mid;
    else hi = mid - 1;
  }
  return turns * cycleDays + sums[base + lo]! - baseSum;
}

/**
 * The Gregorian day number of the last day of the stretch, in which the Gregorian and Julian
 * calendars agree, holding a date of the March-based year `marchYear` (March to February): Feb 28 of
 * the first later year divisible by 100 but not by 400 (its Feb 29 only the Julian calendar has).
 */
function agreementEndDay(marchYear: number): number {
  let year = (Math.floor(marchYear / 100) + 1) * 100;
  if (year % 400 === 0) year += 100;
  return daysFromCivil(year, 2, 28);
}

/** The March-based year (March to February) of the date numbered `day`; see `civilFromDays`. */
function marchYearOfDay(day: number): number {
  const z = day + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  return era * 400 + Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
}

/**
 * {@link julianDaysFromCivil} of the date numbered `day` (Gregorian) in March-based year `marchYear`:
 * the Julian count has every 100th year's leap day that the Gregorian one drops (but every 400th).
 */
function julianDayOf(day: number, marchYear: number): number {
  return day + 719_468 + Math.floor(marchYear / 100) - Math.floor(marchYear / 400);
}

/**
 * The first fire date numbered (see `daysFromCivil`) `fromDay` or later of the sequence from
 * `start` stepping `monthStep` months then `dayStep` days (both > 0), or null if a step finds no
 * month (never, see {@link MAX_SKIPS}). Cost: ~1461 steps once per pair of steps, then per call a
 * few operations per 100 years between `start` and `fromDay`.
 */
export function firstMixedStepDateFrom(start: CivilDate, monthStep: number, dayStep: number, fromDay: number): CivilDate | null {
  let day = daysFromCivil(start.year, start.month, start.day);
  if (day >= fromDay) return start;
  const table = julianStepCycles(monthStep, dayStep);
  for (;;) {
    // Jump to the last fire date before `fromDay` or before the Julian calendar gets a leap day the
    // Gregorian one lacks, whichever is first; then take one exact step past it. Inside a stretch of
    // agreement both calendars count the same days between two dates.
    const marchYear = marchYearOfDay(day);
    const limitDay = Math.min(fromDay - 1, agreementEndDay(marchYear));
    day += julianAdvanceWithin(table, julianDayOf(day, marchYear), limitDay - day);
    const next = stepDays(GREGORIAN, civilFromDays(day), monthStep, dayStep);
    if (next === null) return null;
    if (next >= fromDay) return civilFromDays(next);
    day = next;
  }
}
