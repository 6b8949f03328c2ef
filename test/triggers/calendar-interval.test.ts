import { describe, expect, it } from 'vitest';
import { calendarInterval, nextFireTime, upcomingFireTimes, type CalendarIntervalOptions } from '../../src/triggers/index.js';

const list = (opts: CalendarIntervalOptions, after: string, n: number): string[] =>
  upcomingFireTimes(calendarInterval(opts), new Date(after), n).map((d) => d.toISOString().slice(0, 10));

describe('calendarInterval', () => {
  it('monthly from Jan 31 skips months without a 31st instead of clamping', () => {
    expect(list({ months: 1, start: '2026-01-31' }, '2026-01-01T00:00:00Z', 8)).toEqual([
      '2026-01-31',
      '2026-03-31',
      '2026-05-31',
      '2026-07-31',
      '2026-08-31',
      '2026-10-31',
      '2026-12-31',
      '2027-01-31',
    ]);
  });

  it('monthly from the 30th skips only February', () => {
    expect(list({ months: 1, start: '2026-01-30' }, '2026-01-01T00:00:00Z', 3)).toEqual(['2026-01-30', '2026-03-30', '2026-04-30']);
  });

  it('yearly from Feb 29 fires in leap years only, 2100 excepted', () => {
    expect(list({ years: 1, start: '2024-02-29' }, '2024-01-01T00:00:00Z', 3)).toEqual(['2024-02-29', '2028-02-29', '2032-02-29']);
    expect(list({ years: 1, start: '2096-02-29' }, '2096-03-01T00:00:00Z', 1)).toEqual(['2104-02-29']);
    expect(list({ months: 12, start: '2024-02-29' }, '2024-03-01T00:00:00Z', 1)).toEqual(['2028-02-29']);
  });

  it('steps weeks and days in calendar days', () => {
    // 2026-01-05 is a Monday: every other Monday.
    expect(list({ weeks: 2, start: '2026-01-05' }, '2026-01-01T00:00:00Z', 3)).toEqual(['2026-01-05', '2026-01-19', '2026-02-02']);
    expect(list({ days: 10, start: '2026-02-25' }, '2026-01-01T00:00:00Z', 3)).toEqual(['2026-02-25', '2026-03-07', '2026-03-17']);
  });

  it('applies years/months first, then weeks/days, each from the previous fire date', () => {
    // Jan 31 → (Feb 31 skipped) Mar 31 + 1 day = Apr 1 → May 1 + 1 = May 2 → Jun 2 + 1 = Jun 3.
    expect(list({ months: 1, days: 1, start: '2026-01-31' }, '2026-01-01T00:00:00Z', 4)).toEqual([
      '2026-01-31',
      '2026-04-01',
      '2026-05-02',
      '2026-06-03',
    ]);
  });

  it('fires at hour:minute:second in its zone', () => {
    const t = calendarInterval({ days: 1, hour: 9, minute: 15, second: 30, timezone: 'Europe/Berlin', start: '2026-01-10' });
    expect(nextFireTime(t, new Date('2026-01-01T00:00:00Z'))?.toISOString()).toBe('2026-01-10T08:15:30.000Z');
    expect(nextFireTime(t, new Date('2026-07-01T00:00:00Z'))?.toISOString()).toBe('2026-07-01T07:15:30.000Z');
  });

  it('is exclusive of after by default, inclusive on request', () => {
    const t = calendarInterval({ days: 1, start: '2026-01-01' });
    expect(nextFireTime(t, new Date('2026-01-02T00:00:00Z'))?.toISOString()).toBe('2026-01-03T00:00:00.000Z');
    expect(nextFireTime(t, new Date('2026-01-02T00:00:00Z'), { inclusive: true })?.toISOString()).toBe('2026-01-02T00:00:00.000Z');
  });

  it('first fire is on start; end is inclusive and then the trigger is exhausted', () => {
    const t = calendarInterval({ days: 1, hour: 12, start: '2026-01-01', end: '2026-01-03' });
    expect(upcomingFireTimes(t, new Date('2020-01-01T00:00:00Z'), 10).map((d) => d.toISOString())).toEqual([
      '2026-01-01T12:00:00.000Z',
      '2026-01-02T12:00:00.000Z',
      '2026-01-03T12:00:00.000Z',
    ]);
    expect(nextFireTime(t, new Date('2026-01-03T12:00:00Z'))).toBeNull();
  });

  it('answers far from start quickly and correctly', () => {
    const started = performance.now();
    // 9 497 days from 2000-01-01 to 2026-01-01: 2026-01-02 is day 9 498 = 3 × 3 166.
    expect(list({ days: 3, start: '2000-01-01' }, '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-02']);
    // Every 5 months on the 31st from Jan 1990: Jun 2025 … Feb 2027 have no 31st.
    expect(list({ months: 5, start: '1990-01-31' }, '2025-02-01T00:00:00Z', 1)).toEqual(['2027-07-31']);
    expect(list({ months: 1, weeks: 1, start: '1990-01-01' }, '2026-01-01T00:00:00Z', 1)).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(200);
  });
});
