/**
 * A crontab expression compiled into lookup tables, and the search for the next matching
 * wall-clock time. cron-parser 5 does the parsing (names, ranges, steps, `L`, `#`, aliases; list
 * items that overlap are merged first, see `cron-list-union.ts`); the
 * search is our own and runs on zone-less wall-clock numbers (see `civil.ts`), because
 * cron-parser's own zone handling does not implement jobchart's DST rule and allocates a lot per
 * step. Time zones are applied on top, in `cron.ts`.
 */
import { CronExpressionParser } from 'cron-parser';
import { civilFromWall, daysInMonth, MS_PER_SECOND, wallMs, weekday } from './civil.js';
import { unionListItems } from './cron-list-union.js';
import { InvalidTriggerError } from './errors.js';
import { quoteBounded } from './trigger-fields.js';

/** A compiled crontab expression. */
export interface CronSchedule {
  /** For each value v, the smallest allowed value >= v, or -1; one slot past the maximum. */
  readonly nextSecond: Int8Array;
  readonly nextMinute: Int8Array;
  readonly nextHour: Int8Array;
  readonly nextMonth: Int8Array;
  readonly firstMonth: number;
  readonly domAllowed: readonly boolean[];
  readonly domLast: boolean;
  readonly domRestricted: boolean;
  readonly dowAllowed: readonly boolean[];
  /** `n` of `DOW#n`, 0 when absent. */
  readonly dowNth: number;
  /** Weekdays given as `5L` (last Friday of the month). */
  readonly dowLast: readonly boolean[];
  readonly dowRestricted: boolean;
  /**
   * The hour field starts with `*` (`*`, `*∕2`): the expression follows real time across DST
   * changes instead of the fixed-hour rule. Like classic (Vixie) cron, a step over `*` counts.
   */
  readonly followsRealTime: boolean;
}

// Our own alias table (cron-parser's list plus Vixie's @midnight): we need the raw hour field of
// the expansion to choose the DST mode, and cron-parser only matches aliases case-sensitively.
const ALIASES: Readonly<Record<string, string>> = {
  '@yearly': '0 0 0 1 1 *',
  '@annually': '0 0 0 1 1 *',
  '@monthly': '0 0 0 1 * *',
  '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *',
  '@midnight': '0 0 0 * * *',
  '@hourly': '0 0 * * * *',
  '@minutely': '0 * * * * *',
  '@secondly': '* * * * * *',
  '@weekdays': '0 0 0 * * 1-5',
  '@weekends': '0 0 0 * * 0,6',
};

const ACCEPTED =
  "use 5 fields 'minute hour day-of-month month day-of-week', 6 with seconds first, or an alias such as " +
  "'@daily', '@hourly', '@weekly', '@monthly', '@yearly'";

/**
 * Longest expression accepted (cron-parser 5's own limit): listing every value of every field takes
 * about half of it, so a longer one is a mistake, and expanding its lists would only cost time.
 */
export const MAX_CRON_EXPRESSION_LENGTH = 1_024;

function invalid(expression: string, reason: string, cause?: unknown): InvalidTriggerError {
  return new InvalidTriggerError(
    'expression',
    `${quoteBounded(expression)} is not a valid cron expression (${reason}); ${ACCEPTED}`,
    cause === undefined ? undefined : { cause },
  );
}

/** Expands aliases and pads 5 fields to 6; throws on a wrong field count (cron-parser would pad silently). */
function toSixFields(expression: string): string[] {
  const trimmed = expression.trim();
  if (trimmed.startsWith('@')) {
    const expanded = ALIASES[trimmed.toLowerCase()];
    if (!expanded) throw invalid(expression, `unknown alias ${trimmed}`);
    return expanded.split(' ');
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length === 5) return ['0', ...fields];
  if (fields.length === 6) return fields;
  throw invalid(expression, `${trimmed === '' ? 0 : fields.length} fields`);
}

function nextTable(values: readonly number[], max: number): Int8Array {
  const table = new Int8Array(max + 2).fill(-1);
  const sorted = [...new Set(values)].sort((a, b) => a - b);
  let i = sorted.length - 1;
  for (let v = max; v >= 0; v--) {
    while (i >= 0 && sorted[i]! > v) i--;
    // `sorted[i + 1]` is the smallest allowed value > v when v itself is not allowed.
    const candidate = i >= 0 && sorted[i] === v ? v : sorted[i + 1];
    table[v] = candidate ?? -1;
  }
  return table;
}

function parseWithCronParser(expression: string, fields: string[]): ReturnType<typeof CronExpressionParser.parse> {
  for (const field of fields) {
    // cron-parser's `H` picks random values unless seeded: fire times would differ between nodes.
    if (field.split(',').some((part) => /^h(?:$|[(/])/i.test(part))) {
      throw invalid(expression, "hashed values ('H') are not supported: they are not deterministic");
    }
  }
  try {
    return CronExpressionParser.parse(unionListItems(fields).join(' '), { tz: 'UTC' });
  } catch (cause) {
    throw invalid(expression, (cause as Error).message, cause);
  }
}

const cache = new Map<string, CronSchedule>();
const CACHE_LIMIT = 10_000;

/** Compiles (and memoises) `expression`; throws {@link InvalidTriggerError} with field `'expression'`. */
export function compileCron(expression: string): CronSchedule {
  const hit = cache.get(expression);
  if (hit) return hit;
  if (typeof expression !== 'string') throw invalid(String(expression), 'not a string');
  if (expression.length > MAX_CRON_EXPRESSION_LENGTH) {
    throw invalid(expression, `${expression.length} characters, at most ${MAX_CRON_EXPRESSION_LENGTH} are accepted`);
  }
  const fields = toSixFields(expression);
  const parsed = parseWithCronParser(expression, fields).fields;

  const numbers = (values: readonly (number | string)[]): number[] =>
    values.filter((v): v is number => typeof v === 'number');
  const months = numbers(parsed.month.values);
  const domAllowed = new Array<boolean>(32).fill(false);
  for (const d of numbers(parsed.dayOfMonth.values)) domAllowed[d] = true;
  const dowAllowed = new Array<boolean>(7).fill(false);
  const dowLast = new Array<boolean>(7).fill(false);
  for (const v of parsed.dayOfWeek.values) {
    if (typeof v === 'number') dowAllowed[v % 7] = true;
    else if (/^[0-7]L$/.test(v)) dowLast[Number(v[0]) % 7] = true;
  }

  const schedule: CronSchedule = {
    nextSecond: nextTable(numbers(parsed.second.values), 59),
    nextMinute: nextTable(numbers(parsed.minute.values), 59),
    nextHour: nextTable(numbers(parsed.hour.values), 23),
    nextMonth: nextTable(months, 12),
    firstMonth: Math.min(...months),
    domAllowed,
    domLast: parsed.dayOfMonth.hasLastChar,
    domRestricted: !parsed.dayOfMonth.isWildcard,
    dowAllowed,
    dowNth: parsed.dayOfWeek.nthDay,
    dowLast,
    dowRestricted: !parsed.dayOfWeek.isWildcard,
    followsRealTime: fields[2]!.startsWith('*'),
  };
  if (firstWallMatch(schedule, wallMs(2000, 1, 1)) === null) {
    throw invalid(expression, 'it never matches any date');
  }
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(expression, schedule);
  return schedule;
}

/**
 * Whether a date matches the day fields. When both day-of-month and day-of-week are restricted
 * (not `*`/`?`), either may match — the standard cron rule, also cron-parser 5's.
 */
export function dayMatches(s: CronSchedule, year: number, month: number, day: number): boolean {
  if (!s.domRestricted && !s.dowRestricted) return true;
  const monthLength = daysInMonth(year, month);
  const domMatch = s.domAllowed[day] === true || (s.domLast && day === monthLength);
  if (!s.dowRestricted) return domMatch;
  if (s.domRestricted && domMatch) return true;
  const wd = weekday(year, month, day);
  return (
    (s.dowAllowed[wd] === true && (s.dowNth === 0 || Math.ceil(day / 7) === s.dowNth)) ||
    (s.dowLast[wd] === true && day + 7 > monthLength)
  );
}

/** Years searched before concluding there is no match: the Gregorian calendar repeats every 400. */
const HORIZON_YEARS = 401;

/** The first wall-clock time >= `from` (rounded up to a whole second) matching `s`, or null. */
export function firstWallMatch(s: CronSchedule, from: number): number | null {
  let { year, month, day, hour, minute, second } = civilFromWall(Math.ceil(from / MS_PER_SECOND) * MS_PER_SECOND);
  const lastYear = year + HORIZON_YEARS;
  while (year <= lastYear) {
    if (s.nextMonth[month] !== month) {
      const next = s.nextMonth[month]!;
      if (next < 0) {
        year++;
        month = s.firstMonth;
      } else {
        month = next;
      }
      day = 1;
      hour = minute = second = 0;
      continue;
    }
    if (day > daysInMonth(year, month)) {
      if (++month > 12) {
        year++;
        month = 1;
      }
      day = 1;
      hour = minute = second = 0;
      continue;
    }
    if (!dayMatches(s, year, month, day)) {
      day++;
      hour = minute = second = 0;
      continue;
    }
    const h = s.nextHour[hour]!;
    if (h < 0) {
      day++;
      hour = minute = second = 0;
      continue;
    }
    if (h !== hour) {
      hour = h;
      minute = second = 0;
    }
    const m = s.nextMinute[minute]!;
    if (m < 0) {
      hour++;
      minute = second = 0;
      continue;
    }
    if (m !== minute) {
      minute = m;
      second = 0;
    }
    const sec = s.nextSecond[second]!;
    if (sec < 0) {
      minute++;
      second = 0;
      continue;
    }
    return wallMs(year, month, day, hour, minute, sec);
  }
  return null;
}
