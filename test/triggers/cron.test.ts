import { describe, expect, it } from 'vitest';
import { cron, nextFireTime, upcomingFireTimes } from '../../src/triggers/index.js';

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());
const at = (s: string): Date => new Date(s);
/** The next `n` fire times (ISO strings) after `after`. */
const fires = (expression: string, after: string, n: number, timezone?: string): string[] =>
  upcomingFireTimes(cron(expression, timezone === undefined ? {} : { timezone }), at(after), n).map((d) => d.toISOString());

describe('cron: crontab syntax', () => {
  it('fires at the listed minute and hour on weekdays given by name range', () => {
    // 2026-01-03 is a Saturday.
    expect(fires('0 9 * * MON-FRI', '2026-01-03T00:00:00Z', 3)).toEqual([
      '2026-01-05T09:00:00.000Z',
      '2026-01-06T09:00:00.000Z',
      '2026-01-07T09:00:00.000Z',
    ]);
  });

  it('reads names case-insensitively and months by name', () => {
    expect(fires('0 0 1 jan,Jul *', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-07-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z']);
    expect(fires('0 12 * * sun', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-04T12:00:00.000Z']);
  });

  it('supports steps over * and over ranges, and ranges with a start/step', () => {
    expect(fires('*/20 * * * *', '2026-01-01T00:00:00Z', 3)).toEqual([
      '2026-01-01T00:20:00.000Z',
      '2026-01-01T00:40:00.000Z',
      '2026-01-01T01:00:00.000Z',
    ]);
    expect(fires('5/15 8 * * *', '2026-01-01T00:00:00Z', 5)).toEqual([
      '2026-01-01T08:05:00.000Z',
      '2026-01-01T08:20:00.000Z',
      '2026-01-01T08:35:00.000Z',
      '2026-01-01T08:50:00.000Z',
      '2026-01-02T08:05:00.000Z',
    ]);
    expect(fires('0 0 1-10/3 * *', '2026-01-01T00:00:00Z', 4)).toEqual([
      '2026-01-04T00:00:00.000Z',
      '2026-01-07T00:00:00.000Z',
      '2026-01-10T00:00:00.000Z',
      '2026-02-01T00:00:00.000Z',
    ]);
  });

  it('L in day-of-month is the last day of each month, leap years included', () => {
    expect(fires('0 0 L * *', '2027-12-15T00:00:00Z', 4)).toEqual([
      '2027-12-31T00:00:00.000Z',
      '2028-01-31T00:00:00.000Z',
      '2028-02-29T00:00:00.000Z',
      '2028-03-31T00:00:00.000Z',
    ]);
  });

  it('5L is the last Friday and 1#2 the second Monday of the month', () => {
    expect(fires('0 0 * * 5L', '2026-01-01T00:00:00Z', 3)).toEqual([
      '2026-01-30T00:00:00.000Z',
      '2026-02-27T00:00:00.000Z',
      '2026-03-27T00:00:00.000Z',
    ]);
    expect(fires('0 0 * * MON#2', '2026-01-01T00:00:00Z', 3)).toEqual([
      '2026-01-12T00:00:00.000Z',
      '2026-02-09T00:00:00.000Z',
      '2026-03-09T00:00:00.000Z',
    ]);
  });

  it('treats 0 and 7 as Sunday', () => {
    const sundays = fires('0 0 * * 0', '2026-01-01T00:00:00Z', 3);
    expect(sundays).toEqual(['2026-01-04T00:00:00.000Z', '2026-01-11T00:00:00.000Z', '2026-01-18T00:00:00.000Z']);
    expect(fires('0 0 * * 7', '2026-01-01T00:00:00Z', 3)).toEqual(sundays);
    expect(fires('0 0 * * 5-7', '2026-01-01T00:00:00Z', 4)).toEqual([
      '2026-01-02T00:00:00.000Z',
      '2026-01-03T00:00:00.000Z',
      '2026-01-04T00:00:00.000Z',
      '2026-01-09T00:00:00.000Z',
    ]);
  });

  it('takes a 6th, leading seconds field', () => {
    expect(fires('*/10 * * * * *', '2026-01-01T00:00:00Z', 3)).toEqual([
      '2026-01-01T00:00:10.000Z',
      '2026-01-01T00:00:20.000Z',
      '2026-01-01T00:00:30.000Z',
    ]);
    expect(fires('30 15 10 * * *', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-01T10:15:30.000Z']);
  });

  it.each([
    ['@yearly', ['2027-01-01T00:00:00.000Z', '2028-01-01T00:00:00.000Z']],
    ['@annually', ['2027-01-01T00:00:00.000Z', '2028-01-01T00:00:00.000Z']],
    ['@monthly', ['2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z']],
    ['@weekly', ['2026-01-04T00:00:00.000Z', '2026-01-11T00:00:00.000Z']],
    ['@daily', ['2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z']],
    ['@midnight', ['2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z']],
    ['@DAILY', ['2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z']],
    ['@hourly', ['2026-01-01T01:00:00.000Z', '2026-01-01T02:00:00.000Z']],
  ])('alias %s', (alias, expected) => {
    expect(fires(alias, '2026-01-01T00:00:00Z', 2)).toEqual(expected);
  });

  it('fires when either day-of-month or day-of-week matches if both are restricted', () => {
    // The 13th or any Friday: Fri 2, Fri 9, Tue 13, Fri 16.
    expect(fires('0 0 13 * 5', '2026-01-01T00:00:00Z', 4)).toEqual([
      '2026-01-02T00:00:00.000Z',
      '2026-01-09T00:00:00.000Z',
      '2026-01-13T00:00:00.000Z',
      '2026-01-16T00:00:00.000Z',
    ]);
    // A '?' or '*' day-of-month leaves day-of-week alone in charge.
    expect(fires('0 0 ? * 5', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-02T00:00:00.000Z', '2026-01-09T00:00:00.000Z']);
    // A '*' day-of-week leaves day-of-month alone in charge.
    expect(fires('0 0 13 * *', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-13T00:00:00.000Z', '2026-02-13T00:00:00.000Z']);
    // Either rule with L and #: the 1st of the month or the last Friday.
    expect(fires('0 0 1 * 5L', '2026-01-02T00:00:00Z', 3)).toEqual([
      '2026-01-30T00:00:00.000Z',
      '2026-02-01T00:00:00.000Z',
      '2026-02-27T00:00:00.000Z',
    ]);
  });

  it('finds sparse matches quickly: Feb 29 comes every 4 years, 2100 excepted', () => {
    const started = performance.now();
    expect(fires('0 0 29 2 *', '2026-01-01T00:00:00Z', 3)).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
      '2036-02-29T00:00:00.000Z',
    ]);
    expect(fires('0 0 29 2 *', '2097-01-01T00:00:00Z', 1)).toEqual(['2104-02-29T00:00:00.000Z']);
    // The fifth Monday of February happens only when Feb 1 of a leap year is a Monday.
    expect(fires('0 0 * 2 1#5', '2026-01-01T00:00:00Z', 2)).toEqual(['2044-02-29T00:00:00.000Z', '2072-02-29T00:00:00.000Z']);
    expect(performance.now() - started).toBeLessThan(200);
  });

  it('fire times fall on whole seconds', () => {
    expect(iso(nextFireTime(cron('* * * * * *'), at('2026-01-01T00:00:00.250Z')))).toBe('2026-01-01T00:00:01.000Z');
  });
});

describe('cron: after, inclusive, bounds', () => {
  const daily = cron('0 9 * * *');

  it('is strictly after `after` by default and at-or-after with inclusive', () => {
    expect(iso(nextFireTime(daily, at('2026-01-01T09:00:00Z')))).toBe('2026-01-02T09:00:00.000Z');
    expect(iso(nextFireTime(daily, at('2026-01-01T09:00:00Z'), { inclusive: true }))).toBe('2026-01-01T09:00:00.000Z');
    expect(iso(nextFireTime(daily, at('2026-01-01T08:59:59.999Z')))).toBe('2026-01-01T09:00:00.000Z');
    expect(iso(nextFireTime(daily, at('2026-01-01T09:00:00.001Z'), { inclusive: true }))).toBe('2026-01-02T09:00:00.000Z');
  });

  it('never fires before start; a fire exactly at start counts', () => {
    const t = cron('0 9 * * *', { start: '2026-03-01T09:00:00Z' });
    expect(iso(nextFireTime(t, at('2026-01-01T00:00:00Z')))).toBe('2026-03-01T09:00:00.000Z');
    const later = cron('0 9 * * *', { start: new Date('2026-03-01T09:00:00.001Z') });
    expect(iso(nextFireTime(later, at('2026-01-01T00:00:00Z')))).toBe('2026-03-02T09:00:00.000Z');
  });

  it('reads a start without offset in the trigger timezone', () => {
    const t = cron('0 9 * * *', { timezone: 'Europe/Berlin', start: '2026-06-01T09:00' });
    expect(t.start).toBe(Date.parse('2026-06-01T07:00:00Z'));
    expect(iso(nextFireTime(t, at('2026-01-01T00:00:00Z')))).toBe('2026-06-01T07:00:00.000Z');
  });

  it('includes a fire exactly at end, then is exhausted', () => {
    const t = cron('0 9 * * *', { start: '2026-01-01T00:00:00Z', end: '2026-01-03T09:00:00Z' });
    expect(upcomingFireTimes(t, at('2025-12-01T00:00:00Z'), 10).map((d) => d.toISOString())).toEqual([
      '2026-01-01T09:00:00.000Z',
      '2026-01-02T09:00:00.000Z',
      '2026-01-03T09:00:00.000Z',
    ]);
    expect(nextFireTime(t, at('2026-01-03T09:00:00Z'))).toBeNull();
    expect(iso(nextFireTime(t, at('2026-01-03T09:00:00Z'), { inclusive: true }))).toBe('2026-01-03T09:00:00.000Z');
    expect(nextFireTime(t, at('2030-01-01T00:00:00Z'))).toBeNull();
  });

  it('is exhausted when the next match lies after end', () => {
    const t = cron('0 0 29 2 *', { end: '2027-12-31T00:00:00Z' });
    expect(nextFireTime(t, at('2026-01-01T00:00:00Z'))).toBeNull();
  });

  it('answers at the edges of the Date range without hanging', () => {
    const berlin = cron('0 0 * * *', { timezone: 'Europe/Berlin' });
    expect(nextFireTime(berlin, new Date(-8.64e15))?.getTime()).toBeLessThan(-8.64e15 + 86_400_000);
    // The last Berlin midnight before the end of time is 275760-09-12T22:00Z.
    expect(nextFireTime(berlin, new Date(8.64e15 - 3_600_000))).toBeNull();
    const last = nextFireTime(berlin, new Date(8.64e15 - 3 * 86_400_000));
    expect(last?.getTime()).toBeLessThanOrEqual(8.64e15);
  });

  it('rejects an after that is not a valid Date', () => {
    expect(() => nextFireTime(daily, new Date(Number.NaN))).toThrow(TypeError);
  });

  it('is deterministic: the same inputs give the same answer', () => {
    const t = cron('*/7 3-5 * * MON', { timezone: 'America/New_York' });
    const after = at('2026-11-01T00:00:00Z');
    expect(iso(nextFireTime(t, after))).toBe(iso(nextFireTime(JSON.parse(JSON.stringify(t)), after)));
  });
});
