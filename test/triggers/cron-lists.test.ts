/**
 * Overlapping list items (issue 12, point 1): a list field is the union of its items, as in classic
 * cron, APScheduler 4 and croner — cron-parser 5 alone would reject the repeated values.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cron, upcomingFireTimes } from '../../src/triggers/index.js';

const hhmm = (expression: string, after: string, n: number, timezone = 'UTC'): string[] =>
  upcomingFireTimes(cron(expression, { timezone }), new Date(after), n).map((d) => d.toISOString().slice(0, 16));

describe('overlapping list items', () => {
  it('0,0-5 12 * * * fires at 12:00 … 12:05, once each', () => {
    expect(hhmm('0,0-5 12 * * *', '2026-01-01T00:00:00Z', 7)).toEqual([
      '2026-01-01T12:00',
      '2026-01-01T12:01',
      '2026-01-01T12:02',
      '2026-01-01T12:03',
      '2026-01-01T12:04',
      '2026-01-01T12:05',
      '2026-01-02T12:00',
    ]);
  });

  it('a repeated value is the value once', () => {
    expect(hhmm('3,3 * * * *', '2026-01-01T00:00:00Z', 3)).toEqual(['2026-01-01T00:03', '2026-01-01T01:03', '2026-01-01T02:03']);
    expect(cron('3,3 * * * *').expression).toBe('3,3 * * * *');
  });

  it('a step and a value on it', () => {
    expect(hhmm('*/15,45,0-5/5 * * * *', '2026-01-01T00:00:00Z', 6)).toEqual([
      '2026-01-01T00:05',
      '2026-01-01T00:15',
      '2026-01-01T00:30',
      '2026-01-01T00:45',
      '2026-01-01T01:00',
      '2026-01-01T01:05',
    ]);
  });

  it('a step and a value between its values', () => {
    expect(hhmm('*/10,45 * * * *', '2026-01-01T00:00:00Z', 7)).toEqual([
      '2026-01-01T00:10',
      '2026-01-01T00:20',
      '2026-01-01T00:30',
      '2026-01-01T00:40',
      '2026-01-01T00:45',
      '2026-01-01T00:50',
      '2026-01-01T01:00',
    ]);
  });

  it('day of week: names, ranges through 7 and 0, both Sunday', () => {
    // 5-7 is Fri, Sat, Sun; 0-sat every day: the union is every day.
    expect(hhmm('0 9 * * 5-7,0-sat', '2026-01-01T00:00:00Z', 4)).toEqual([
      '2026-01-01T09:00',
      '2026-01-02T09:00',
      '2026-01-03T09:00',
      '2026-01-04T09:00',
    ]);
    // 7 and SUN and 0: Sundays only (2026-01-04 is a Sunday).
    expect(hhmm('0 9 * * 7,SUN,0', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-04T09:00', '2026-01-11T09:00']);
    // 0L and 7L: the last Sunday; with 5L the last Friday too (2026-02-27 comes after the 22nd).
    expect(hhmm('0 9 * * 0L,7L,5L', '2026-01-01T00:00:00Z', 3)).toEqual(['2026-01-25T09:00', '2026-01-30T09:00', '2026-02-22T09:00']);
  });

  it('day of month: L repeated and next to 28-31', () => {
    expect(hhmm('0 0 L,28-31,L * *', '2026-02-01T00:00:00Z', 5).map((s) => s.slice(0, 10))).toEqual([
      '2026-02-28',
      '2026-03-28',
      '2026-03-29',
      '2026-03-30',
      '2026-03-31',
    ]);
  });

  it('months by name and number', () => {
    expect(hhmm('0 0 1 jan,1,JAN-MAR,feb *', '2026-01-01T00:00:00Z', 4).map((s) => s.slice(0, 10))).toEqual([
      '2026-02-01',
      '2026-03-01',
      '2027-01-01',
      '2027-02-01',
    ]);
  });

  it('an overlapping list still restricts its field: day of month OR day of week', () => {
    // 13,13 restricts the day of month, so Fridays OR the 13th (2026-02-13 is both).
    expect(hhmm('0 0 13,13 * FRI', '2026-02-01T00:00:00Z', 4).map((s) => s.slice(0, 10))).toEqual([
      '2026-02-06',
      '2026-02-13',
      '2026-02-20',
      '2026-02-27',
    ]);
  });

  it('an hour list beginning with * follows real time like *', () => {
    // Berlin springs forward at 02:00 → 03:00 on 2026-03-29: 02:30 does not exist and is skipped.
    expect(hhmm('30 *,2 * * *', '2026-03-29T00:00:00Z', 2, 'Europe/Berlin')).toEqual(['2026-03-29T00:30', '2026-03-29T01:30']);
    // A fixed-hour list fires the skipped 02:30 at the end of the gap (01:00Z = 03:00 CEST).
    expect(hhmm('30 2,2 * * *', '2026-03-29T00:00:00Z', 1, 'Europe/Berlin')).toEqual(['2026-03-29T01:00']);
  });

  it('an invalid item is still refused, naming the item', () => {
    expect(() => cron('0,60 * * * *')).toThrow(/60/);
    expect(() => cron('0,,5 * * * *')).toThrow(/list/);
    expect(() => cron('0 0 * * 1#2,1#2')).toThrow(/#/);
  });
});

// ----- property: a list field fires at the union of its items' fire times -----

const int = (min: number, max: number): fc.Arbitrary<number> => fc.integer({ min, max });
/** One list item of a field with values min..max: a value, a range, a step or `*`. */
function item(min: number, max: number, extra: string[] = []): fc.Arbitrary<string> {
  const value = int(min, max).map(String);
  const range = fc.tuple(int(min, max), int(min, max)).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`);
  const step = fc
    .tuple(int(min, max), int(min, max), int(1, Math.max(1, max - min)), fc.constantFrom('range', 'open', 'star'))
    .map(([a, b, n, form]) => (form === 'star' ? `*/${n}` : form === 'open' ? `${a}/${n}` : `${Math.min(a, b)}-${Math.max(a, b)}/${n}`));
  return fc.oneof(value, value, range, step, fc.constantFrom('*', ...extra));
}

const POSITIONS = [
  { name: 'second', item: item(0, 59) },
  { name: 'minute', item: item(0, 59) },
  { name: 'hour', item: item(0, 23) },
  { name: 'day of month', item: item(1, 31, ['L', '31', '29']) },
  { name: 'month', item: item(1, 12, ['JAN', 'feb-Jun', 'DEC', 'mar/4']) },
  { name: 'day of week', item: item(0, 7, ['7', 'SUN', '5-sat', '0-sat', 'mon-FRI', '5L', '7L', '0L']) },
] as const;

/** `*` as an item of a day list means every day, but alone it would lift the restriction (cron's OR rule). */
const FULL_DAY_RANGE: Record<number, string> = { 3: '1-31', 5: '0-6' };

const overlappingList = fc.integer({ min: 0, max: 5 }).chain((position) =>
  fc.record({
    position: fc.constant(position),
    // Items drawn from a small space, so repeats and overlaps are the rule, not the exception.
    items: fc.array(POSITIONS[position]!.item, { minLength: 2, maxLength: 4 }),
    otherDays: fc.constantFrom('*', '*', '13', 'FRI'),
    after: int(Date.UTC(1990, 0, 1), Date.UTC(2060, 0, 1)),
  }),
);

function fieldsWith(position: number, field: string, otherDays: string): string[] {
  const fields = ['0', '0', '0', '*', '*', '*'];
  if (position === 0) fields[1] = '*';
  // Restrict the other day field sometimes, to cover the day-of-month OR day-of-week rule.
  if (position === 3) fields[5] = otherDays === '13' ? 'FRI' : otherDays;
  if (position === 5) fields[3] = otherDays === 'FRI' ? '13' : otherDays;
  fields[position] = field;
  return fields;
}

const firesOf = (expression: string, after: number, n: number): number[] =>
  upcomingFireTimes(cron(expression), new Date(after), n).map((d) => d.getTime());

describe('overlapping list items (property)', () => {
  it('a list field fires exactly at the union of its items’ fire times', () => {
    fc.assert(
      fc.property(overlappingList, ({ position, items, otherDays, after }) => {
        const singles = items.map((i) => fieldsWith(position, i === '*' ? (FULL_DAY_RANGE[position] ?? i) : i, otherDays).join(' '));
        // An item that never matches alone (31 in February) is invalid alone; skip such cases.
        const perItem: number[][] = [];
        for (const single of singles) {
          try {
            perItem.push(firesOf(single, after, 10));
          } catch {
            return;
          }
        }
        const expected = [...new Set(perItem.flat())].sort((a, b) => a - b).slice(0, 10);
        const expression = fieldsWith(position, items.join(','), otherDays).join(' ');
        expect(firesOf(expression, after, 10)).toEqual(expected);
      }),
      { numRuns: 400 },
    );
  });
});
