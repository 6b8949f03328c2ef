/**
 * Overlapping list items in a cron field (`0,0-5`, `3,3`, `5-7,0-sat`, `*∕10,45`) mean the union of
 * the items in classic cron, APScheduler 4 and croner, but cron-parser 5 rejects the repeated
 * values. So every field that is a list is expanded item by item through cron-parser and handed back
 * to it as one list of distinct values: cron-parser stays the only parser of names, ranges, steps,
 * `L` and `nL`, and the union is exact because the items of a list are independent of each other.
 */
import { CronExpressionParser } from 'cron-parser';

const FIELD_NAMES = ['second', 'minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek'] as const;
const DAY_OF_WEEK = 5;

/** The values cron-parser expands `item` to when it is the whole field at `position` (0 = seconds). */
function itemValues(position: number, item: string): readonly (number | string)[] {
  // The other fields are `*`, so nothing narrows the item (cron-parser drops days of month that a
  // single month field cannot hold).
  const probe = FIELD_NAMES.map((_, i) => (i === position ? item : '*')).join(' ');
  return CronExpressionParser.parse(probe, { tz: 'UTC' }).fields[FIELD_NAMES[position]!].values;
}

/** One spelling per day of week: 7 and 0 are both Sunday (`7L` is `0L`). */
function canonicalDayOfWeek(value: number | string): number | string {
  if (typeof value === 'number') return value % 7;
  return /^[0-7]L$/.test(value) ? `${Number(value[0]) % 7}L` : value;
}

function unionOfItems(position: number, items: readonly string[]): string {
  const numbers = new Set<number>();
  const specials = new Set<string>();
  for (const item of new Set(items)) {
    for (const raw of itemValues(position, item)) {
      const value = position === DAY_OF_WEEK ? canonicalDayOfWeek(raw) : raw;
      if (typeof value === 'number') numbers.add(value);
      else specials.add(value);
    }
  }
  return [...[...numbers].sort((a, b) => a - b), ...[...specials].sort()].join(',');
}

/**
 * The six fields with every list field replaced by the distinct values of its items. Fields without
 * a comma are returned as given (so `*` stays a wildcard); a list cron-parser would refuse for
 * another reason than repeated values (an empty item, `#` in a list) is left for it to refuse with
 * its own message. Throws cron-parser's error for an invalid item.
 */
export function unionListItems(fields: readonly string[]): string[] {
  return fields.map((field, position) => {
    if (!field.includes(',')) return field;
    const items = field.split(',');
    if (items.some((item) => item === '') || field.includes('#')) return field;
    return unionOfItems(position, items);
  });
}
