import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, InvalidDurationError, parseDuration, type DurationLike } from '../src/duration.js';

describe('parseDuration', () => {
  it.each<[DurationLike, number]>([
    [0, 0],
    [1500, 1500],
    ['250', 250],
    ['250ms', 250],
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1h 30m', 5_400_000],
    ['2d', 172_800_000],
    ['1w', 604_800_000],
    ['1w2d3h4m5s6ms', 604_800_000 + 2 * 86_400_000 + 3 * 3_600_000 + 4 * 60_000 + 5_000 + 6],
    ['1.5s', 1_500],
    [' 30s ', 30_000],
    [{ hours: 1, minutes: 30 }, 5_400_000],
    [{ weeks: 1, days: 1, hours: 1, minutes: 1, seconds: 1, milliseconds: 1 }, 694_861_001],
    [{}, 0],
  ])('%j is %d ms', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it.each<unknown>([
    -1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '',
    '   ',
    'abc',
    '5x',
    '5 minutes',
    '-5s',
    '30m1h',
    '5m5m',
    '1h30',
    'ms',
    { hours: -1 },
    { hours: Number.NaN },
    { fortnights: 1 },
    { hours: '1' },
    null,
    undefined,
    true,
    [1000],
  ])('rejects %j with a typed error naming the field and the accepted forms', (input) => {
    let caught: unknown;
    try {
      parseDuration(input as DurationLike, 'leaseDuration');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidDurationError);
    const error = caught as InvalidDurationError;
    expect(error.field).toBe('leaseDuration');
    expect(error.message).toMatch(/^leaseDuration: /);
    expect(error.message).toContain("'1h30m'");
    expect(error.value).toEqual(input);
  });

  it("names 'duration' when no field is given", () => {
    expect(() => parseDuration('soon')).toThrow(/^duration: "soon" is not a valid duration/);
  });
});

describe('formatDuration', () => {
  it.each<[number, string]>([
    [0, '0ms'],
    [250, '250ms'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m'],
    [172_800_000, '2d'],
    [694_861_001, '1w1d1h1m1s1ms'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips through parseDuration for every whole number of milliseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
      { numRuns: 500 },
    );
  });
});
