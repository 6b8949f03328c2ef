/**
 * calendarInterval with both a years/months and a weeks/days step (issue 12, point 2): the fire
 * dates are found by jumping (see src/triggers/calendar-steps.ts), and must equal the contract's
 * rule walked one step at a time from start (support/calendar-reference.ts), anywhere in 1–9999.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { calendarInterval, nextFireTime, upcomingFireTimes, type CalendarIntervalOptions } from '../../src/triggers/index.js';
import { referenceFirstDateFrom, referenceNextDate } from './support/calendar-reference.js';

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
const isoDate = (year: number, month: number, day: number): string => `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
/** Midnight UTC of an ISO date, for any year (Date.parse wants 6 digits past 9999). */
function midnight(iso: string): Date {
  const [year, month, day] = iso.split('-').map(Number) as [number, number, number];
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  return d;
}
const dateOf = (d: Date | null): string | null =>
  d === null ? null : isoDate(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
/** The next fire date on or after `from` (midnight fires, so inclusive of `from`). */
const firstFrom = (opts: CalendarIntervalOptions, from: string): string | null =>
  dateOf(nextFireTime(calendarInterval(opts), midnight(from), { inclusive: true }));

describe('calendarInterval with month and day steps', () => {
  const issue: CalendarIntervalOptions = { months: 1, days: 1, start: '0001-01-31' };

  it('the issue’s trigger: right dates in 2024, 8000, 9000 and 9999, never "exhausted"', () => {
    // One walk of the reference, resumed from each answer (the froms ascend).
    let walked = issue.start;
    for (const from of ['2024-06-15', '8000-06-15', '9000-06-15', '9999-06-15', '9999-12-31', '12000-01-01']) {
      walked = referenceFirstDateFrom(walked, 1, 1, from);
      // Past 9999 it goes on too: null only at the end of the Date range.
      expect(firstFrom(issue, from), from).toBe(walked);
    }
    expect(nextFireTime(calendarInterval(issue), new Date(8.64e15 - 86_400_000))).toBeNull();
  });

  it('walks the same dates as the contract, every one from year 1 to 2500', () => {
    const t = calendarInterval(issue);
    let expected = issue.start;
    let cursor = new Date(midnight(issue.start).getTime() - 1);
    for (let i = 0; expected < '2500'; i++) {
      const next = nextFireTime(t, cursor);
      expect(dateOf(next), `fire #${i}`).toBe(expected);
      cursor = next!;
      expected = referenceNextDate(expected, 1, 1);
    }
  });

  it('crosses 1700, 1800, 1900, 2100 (no Feb 29) and 2000 (Feb 29) like the contract', () => {
    // Steps that land on and around Feb 28/29 of century years.
    for (const [months, days, start] of [
      [12, 1, '1696-02-28'],
      [12, 1, '1696-02-29'],
      [11, 30, '1699-01-29'],
      [1, 29, '1799-12-31'],
      [48, 1, '1896-02-29'],
      [1200, 1, '1600-02-29'],
    ] as const) {
      const opts = { months, days, start };
      for (const from of ['1700-03-01', '1800-03-01', '1900-03-01', '2000-03-01', '2100-03-01', '2101-01-01']) {
        expect(firstFrom(opts, from), `${months}/${days} from ${start}, on or after ${from}`).toBe(
          referenceFirstDateFrom(start, months, days, from),
        );
      }
    }
  });

  it('years and weeks combine the same way', () => {
    // Feb 29 2024 + 1 year: no Feb 29 in 2025, 2026, 2027 → Feb 29 2028, + 7 days = Mar 7 2028.
    expect(upcomingFireTimes(calendarInterval({ years: 1, weeks: 1, start: '2024-02-29' }), new Date('2024-01-01T00:00:00Z'), 3).map(dateOf)).toEqual([
      '2024-02-29',
      '2028-03-07',
      '2029-03-14',
    ]);
  });

  it('respects end: the last date on or before it, then null', () => {
    const opts = { months: 1, days: 1, start: '0001-01-31', end: '9500-01-01' };
    const last = referenceFirstDateFrom(opts.start, 1, 1, '9499-12-01');
    expect(firstFrom(opts, '9499-12-01')).toBe(last <= opts.end ? last : null);
    expect(firstFrom(opts, '9500-01-02')).toBeNull();
  });
});

// ----- property: jumping equals walking -----

const int = (min: number, max: number): fc.Arbitrary<number> => fc.integer({ min, max });
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** A real date, biased towards month ends and century years, where the calendar is irregular. */
const startDate = fc
  .tuple(fc.oneof(int(0, 9999), int(0, 99).map((c) => c * 100), int(0, 99).map((c) => c * 100 - 1)), int(1, 12), fc.oneof(int(1, 31), int(28, 31)))
  .map(([year, month, day]) => {
    const y = Math.max(0, year);
    const last = month === 2 ? (isLeap(y) ? 29 : 28) : DAYS_IN_MONTH[month - 1]!;
    return isoDate(y, month, Math.min(day, last));
  });
const monthStep = fc.oneof(int(1, 3), fc.constantFrom(11, 12, 13, 24, 48, 100, 1200, 4800), int(1, 240), int(1, 12_000));
const dayStep = fc.oneof(int(1, 3), fc.constantFrom(7, 27, 28, 29, 30, 31, 365, 366, 1461), int(1, 400), int(1, 40_000));

describe('calendarInterval with month and day steps (property)', () => {
  it('the first fire date on or after any date equals the contract walked from start', () => {
    fc.assert(
      fc.property(startDate, monthStep, dayStep, int(0, 10_000), int(1, 12), int(1, 28), (start, months, days, year, month, day) => {
        const startYear = Number(start.slice(0, 4));
        // `from` anywhere from a year before start to 9999.
        const from = isoDate(Math.max(0, startYear - 1) + (year % (10_000 - Math.max(0, startYear - 1))), month, day);
        expect(firstFrom({ months, days, start }, from)).toBe(referenceFirstDateFrom(start, months, days, from));
      }),
      { numRuns: 250 },
    );
  });

  it('consecutive fires are consecutive steps of the contract', () => {
    fc.assert(
      fc.property(startDate, monthStep, dayStep, int(0, 9999), (start, months, days, year) => {
        const t = calendarInterval({ months, days, start });
        const fires = upcomingFireTimes(t, midnight(isoDate(year, 6, 1)), 4).map(dateOf);
        for (let i = 1; i < fires.length; i++) expect(fires[i]).toBe(referenceNextDate(fires[i - 1]!, months, days));
      }),
      { numRuns: 300 },
    );
  });
});

describe('calendarInterval with month and day steps: cost', () => {
  it('does not walk from start: calls near year 9999 cost about what calls near start cost', () => {
    const t = calendarInterval({ months: 1, days: 1, start: '0001-01-31' });
    const medianMicros = (year: number): number => {
      const times: number[] = [];
      for (let i = 0; i < 300; i++) {
        const after = midnight(isoDate(year, 1 + (i % 12), 1 + (i % 28)));
        const began = performance.now();
        nextFireTime(t, after);
        times.push((performance.now() - began) * 1000);
      }
      return times.sort((a, b) => a - b)[150]!;
    };
    medianMicros(2000); // warm up (builds the step table, compiles)
    // Walking from start took ~13 ms a call in 2024 and ~26 ms in 8000. The jump costs a few
    // operations per century: ~20 µs at year 9900 on a slow, loaded machine. Bounds with room for CI.
    expect(medianMicros(9900)).toBeLessThan(500);
    expect(medianMicros(100)).toBeLessThan(500);
  });
});
