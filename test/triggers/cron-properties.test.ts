/**
 * Property-based tests of cron and calendarInterval over random expressions, zones and instants.
 * The oracle (support/reference.ts) is independent of src/triggers: cron-parser's own UTC iteration
 * for wall-clock matches, luxon for offsets.
 */
import { CronExpressionParser } from 'cron-parser';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { calendarInterval, cron, nextFireTime, type Trigger } from '../../src/triggers/index.js';
import {
  hourFollowsRealTime,
  instantsOfWall,
  luxonOffsetMs,
  referenceCronFireTimes,
  sixFields,
  transitionsBetween,
  wallAt,
  wallMatches,
  wallMatchesExpression,
} from './support/reference.js';

/** Real zones: with DST north and south, odd offsets (+5:30, +5:45, −3:30, +12:45), a 30-minute DST, Ramadan changes. */
const ZONES = [
  'UTC',
  'Europe/Berlin',
  'Europe/London',
  'America/New_York',
  'America/St_Johns',
  'America/Santiago',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'Africa/Casablanca',
] as const;
const DST_ZONES = ZONES.filter((z) => z !== 'UTC' && z !== 'Asia/Kolkata' && z !== 'Asia/Kathmandu');

const int = (min: number, max: number): fc.Arbitrary<number> => fc.integer({ min, max });
const list = (min: number, max: number): fc.Arbitrary<string> =>
  fc.uniqueArray(int(min, max), { minLength: 1, maxLength: 4 }).map((xs) => xs.join(','));
const range = (min: number, max: number): fc.Arbitrary<string> =>
  fc.tuple(int(min, max), int(min, max)).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`);
const step = (min: number, max: number): fc.Arbitrary<string> =>
  fc.tuple(int(2, Math.max(2, Math.floor((max - min) / 2))), fc.boolean(), int(min, max)).map(([n, fromStar, start]) =>
    fromStar ? `*/${n}` : `${start}-${max}/${n}`,
  );
const numeric = (min: number, max: number): fc.Arbitrary<string> =>
  fc.oneof(int(min, max).map(String), list(min, max), range(min, max), step(min, max));

const secondField = fc.oneof({ arbitrary: fc.constant('0'), weight: 3 }, { arbitrary: numeric(0, 59), weight: 1 });
const minuteField = fc.oneof(fc.constant('*'), numeric(0, 59));
const hourField = fc.oneof(fc.constantFrom('*', '*/2', '*/3', '*/6'), numeric(0, 23));
const domField = fc.oneof(
  { arbitrary: fc.constant('*'), weight: 4 },
  { arbitrary: numeric(1, 28), weight: 2 },
  { arbitrary: fc.constantFrom('L', '31', '29', '1,L', '30'), weight: 1 },
);
const monthField = fc.oneof(
  { arbitrary: fc.constant('*'), weight: 4 },
  { arbitrary: numeric(1, 12), weight: 2 },
  { arbitrary: fc.constantFrom('JAN', 'MAR-OCT', '*/3', 'FEB,AUG', 'dec'), weight: 1 },
);
const dowField = fc.oneof(
  { arbitrary: fc.constant('*'), weight: 4 },
  { arbitrary: numeric(0, 7), weight: 2 },
  { arbitrary: fc.constantFrom('MON-FRI', 'SUN', 'sat,sun', '?'), weight: 1 },
  { arbitrary: fc.tuple(int(0, 7), int(1, 4)).map(([d, n]) => `${d}#${n}`), weight: 1 },
  { arbitrary: int(0, 7).map((d) => `${d}L`), weight: 1 },
);

// The oracle is cron-parser, which refuses overlapping list items (`7,0`) that jobchart accepts as
// their union; those are covered against another oracle in cron-lists.test.ts.
const isValidCron = (expression: string): boolean => {
  try {
    cron(expression);
    CronExpressionParser.parse(sixFields(expression).join(' '), { tz: 'UTC' });
    return true;
  } catch {
    return false;
  }
};

/** Random valid expressions of 5 or 6 fields, every syntax the contract lists. */
const cronExpression = fc
  .tuple(fc.boolean(), secondField, minuteField, hourField, domField, monthField, dowField)
  .map(([withSeconds, s, ...rest]) => (withSeconds ? [s, ...rest] : rest).join(' '))
  .filter(isValidCron);

/**
 * Expressions that fire at most twice a minute on most days (the oracle enumerates every match).
 * `hour` is left open: the DST test fills it in relative to the transition under test, so that
 * fixed hours often fall into the gap or the repeated hour.
 */
const denseCronFields = fc.tuple(
  fc.constantFrom('0', '30', '0,30', '15'),
  fc.oneof(fc.constantFrom('*/2', '*/15', '0', '30', '5,35', '0-10/5', '40-59/10'), list(0, 59)),
  fc.constantFrom('*', '*', '*', '1-28', 'L'),
  fc.constantFrom('*', '*', 'MON-FRI', 'SUN', '0#1'),
);
/** How the hour field relates to the local hour `h` where the transition's wall times are. */
const hourChoice = fc.oneof(
  fc.constantFrom('*', '*/2', '*/3'),
  fc.constantFrom('h', 'h', 'h,h+1', 'h-1-h+1', 'h-1'),
  numeric(0, 23),
);
function hourRelativeTo(choice: string, h: number): string {
  const at = (k: number): number => (h + k + 24) % 24;
  switch (choice) {
    case 'h':
      return String(at(0));
    case 'h,h+1':
      return `${at(0)},${at(1)}`;
    case 'h-1-h+1':
      return h >= 1 && h <= 22 ? `${h - 1}-${h + 1}` : String(h);
    case 'h-1':
      return String(at(-1));
    default:
      return choice;
  }
}

const instant = int(Date.UTC(1975, 0, 1), Date.UTC(2090, 0, 1));

/** Follows `nextFireTime` from `after` for up to `n` steps. */
function chain(trigger: Trigger, after: number, n: number, until = Infinity): number[] {
  const out: number[] = [];
  let cursor = after;
  while (out.length < n) {
    const next = nextFireTime(trigger, new Date(cursor));
    if (next === null || next.getTime() > until) break;
    out.push(next.getTime());
    cursor = next.getTime();
  }
  return out;
}

describe('cron properties', () => {
  it('a chain of fire times is strictly increasing and stays within [start, end]', () => {
    fc.assert(
      fc.property(
        cronExpression,
        fc.constantFrom(...ZONES),
        instant,
        fc.option(int(0, 40 * 86_400_000)),
        fc.option(int(0, 400 * 86_400_000)),
        (expression, timezone, after, startDelta, span) => {
          const start = startDelta === null ? null : after + startDelta;
          const end = span === null ? null : (start ?? after) + span;
          const trigger = cron(expression, {
            timezone,
            ...(start === null ? {} : { start: new Date(start) }),
            ...(end === null ? {} : { end: new Date(end) }),
          });
          let previous = after;
          for (const t of chain(trigger, after, 12)) {
            expect(t).toBeGreaterThan(previous);
            if (start !== null) expect(t).toBeGreaterThanOrEqual(start);
            if (end !== null) expect(t).toBeLessThanOrEqual(end);
            previous = t;
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('every fire is a real match (fixed hour: its first occurrence) or, for fixed hours only, the end of a gap swallowing a match', () => {
    fc.assert(
      fc.property(cronExpression, fc.constantFrom(...ZONES), instant, (expression, timezone, after) => {
        const realTime = hourFollowsRealTime(expression);
        for (const t of chain(cron(expression, { timezone }), after, 8)) {
          const wall = wallAt(timezone, t);
          if (wallMatchesExpression(expression, wall)) {
            if (!realTime) expect(instantsOfWall(timezone, wall)[0]).toBe(t);
            continue;
          }
          // Not a match itself: only a fixed-hour expression may fire here, at a spring-forward
          // transition, for a matching wall time inside the gap.
          expect(realTime).toBe(false);
          const before = luxonOffsetMs(timezone, t - 1000);
          const after_ = luxonOffsetMs(timezone, t);
          expect(after_).toBeGreaterThan(before);
          expect(wallMatches(expression, t + before, t + after_ - 1, 1)).toHaveLength(1);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('in UTC the chain equals cron-parser’s own iteration', () => {
    fc.assert(
      fc.property(cronExpression, int(Date.UTC(1975, 0, 1) / 1000, Date.UTC(2090, 0, 1) / 1000), (expression, seconds) => {
        const after = seconds * 1000;
        const it = CronExpressionParser.parse(sixFields(expression).join(' '), { tz: 'UTC', currentDate: new Date(after) });
        const expected = Array.from({ length: 10 }, () => it.next().getTime());
        expect(chain(cron(expression), after, 10)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  // Transitions per zone over a few years, found once with luxon (daily samples, bisected).
  const transitions = new Map(
    DST_ZONES.map((zone) => [zone, transitionsBetween(zone, Date.UTC(2024, 0, 1), Date.UTC(2028, 0, 1), 86_400_000)]),
  );

  it('around DST transitions the chain equals the reference: nothing missed, nothing extra', () => {
    fc.assert(
      fc.property(
        denseCronFields,
        hourChoice,
        fc.constantFrom(...DST_ZONES),
        int(0, 1_000),
        int(0, 30 * 3_600_000),
        ([second, minute, dom, dow], choice, timezone, pick, lead) => {
          const list = transitions.get(timezone)!;
          const tr = list[pick % list.length]!;
          // The first wall time that is skipped (spring) or repeated (fall) is in this local hour.
          const h = new Date(tr.at + Math.min(tr.before, tr.after)).getUTCHours();
          const expression = [second, minute, hourRelativeTo(choice, h), dom, '*', dow].join(' ');
          const from = tr.at - lead;
          const to = from + 36 * 3_600_000;
          const expected = referenceCronFireTimes(expression, timezone, from, to);
          expect(chain(cron(expression, { timezone }), from, 10_000, to)).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('fixed-hour daily schedules over a whole year', () => {
  it('fire exactly once per local calendar day, through both DST changes (cron and calendarInterval)', () => {
    fc.assert(
      fc.property(
        // None of these zones' changes moves a wall time to another calendar day in 2020-2030.
        fc.constantFrom(...ZONES),
        int(2020, 2030),
        int(0, 23),
        int(0, 59),
        int(0, 59),
        (timezone, year, hour, minute, second) => {
          const yearStart = DateTime.fromObject({ year, month: 1, day: 1 }, { zone: timezone }).toMillis();
          const yearEnd = DateTime.fromObject({ year: year + 1, month: 1, day: 1 }, { zone: timezone }).toMillis();
          const days = DateTime.fromObject({ year }).daysInYear;
          const triggers = [
            cron(`${second} ${minute} ${hour} * * *`, { timezone }),
            calendarInterval({ days: 1, hour, minute, second, timezone, start: `${year - 1}-12-01` }),
          ];
          for (const trigger of triggers) {
            const fires = chain(trigger, yearStart - 1, 400, yearEnd - 1);
            const dates = fires.map((t) => DateTime.fromMillis(t, { zone: timezone }).toISODate());
            expect(dates).toHaveLength(days);
            expect(new Set(dates).size).toBe(days);
          }
        },
      ),
      { numRuns: 30 },
    );
  });
});
