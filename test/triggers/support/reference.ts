/**
 * An independent, slow reference for cron fire times, used as the oracle of the trigger tests. It
 * shares no code with src/triggers: wall-clock matches come from cron-parser's own iteration in UTC
 * (wall clock = UTC clock), offsets straight from luxon, and the DST rule is applied per wall time.
 */
import { CronExpressionParser } from 'cron-parser';
import { IANAZone } from 'luxon';

const DAY = 86_400_000;

export function luxonOffsetMs(zone: string, t: number): number {
  return Math.round(IANAZone.create(zone).offset(t) * 60_000);
}

/** The wall clock (as a UTC-epoch number) at instant `t` in `zone`. */
export function wallAt(zone: string, t: number): number {
  return t + luxonOffsetMs(zone, t);
}

/** All instants whose wall clock in `zone` reads `wall` (0, 1 or 2), ascending. */
export function instantsOfWall(zone: string, wall: number): number[] {
  const offsets = new Set([luxonOffsetMs(zone, wall - DAY), luxonOffsetMs(zone, wall), luxonOffsetMs(zone, wall + DAY)]);
  const out = new Set<number>();
  for (const o of offsets) if (luxonOffsetMs(zone, wall - o) === o) out.add(wall - o);
  return [...out].sort((a, b) => a - b);
}

/** Transitions (offset changes) of `zone` in [from, to], found by sampling every `step` ms and bisection. */
export function transitionsBetween(
  zone: string,
  from: number,
  to: number,
  step = 3_600_000,
): { at: number; before: number; after: number }[] {
  const out: { at: number; before: number; after: number }[] = [];
  let lo = Math.floor(from / 1000) * 1000;
  let loOffset = luxonOffsetMs(zone, lo);
  while (lo < to) {
    const next = Math.min(lo + step, Math.ceil(to / 1000) * 1000);
    const nextOffset = luxonOffsetMs(zone, next);
    if (nextOffset !== loOffset) {
      let a = lo;
      let b = next;
      while (b - a > 1000) {
        const mid = a + Math.floor((b - a) / 2000) * 1000;
        if (luxonOffsetMs(zone, mid) === loOffset) a = mid;
        else b = mid;
      }
      out.push({ at: b, before: loOffset, after: luxonOffsetMs(zone, b) });
    }
    lo = next;
    loOffset = nextOffset;
  }
  return out;
}

/** The first instant after the spring-forward gap that swallows `wall`. */
export function gapEnd(zone: string, wall: number): number {
  const tr = transitionsBetween(zone, wall - 2 * DAY, wall + 2 * DAY).find(
    (x) => x.after > x.before && wall >= x.at + x.before && wall < x.at + x.after,
  );
  if (!tr) throw new Error(`reference: ${new Date(wall).toISOString()} is not in a gap of ${zone}`);
  return tr.at;
}

/** The six fields of an expression as cron-parser reads them (aliases as cron-parser lists them). */
export function sixFields(expression: string): string[] {
  const aliases: Record<string, string> = {
    '@yearly': '0 0 0 1 1 *',
    '@annually': '0 0 0 1 1 *',
    '@monthly': '0 0 0 1 * *',
    '@weekly': '0 0 0 * * 0',
    '@daily': '0 0 0 * * *',
    '@midnight': '0 0 0 * * *',
    '@hourly': '0 0 * * * *',
  };
  const alias = aliases[expression.trim().toLowerCase()];
  if (alias) return alias.split(' ');
  const fields = expression.trim().split(/\s+/);
  return fields.length === 5 ? ['0', ...fields] : fields;
}

export function hourFollowsRealTime(expression: string): boolean {
  return sixFields(expression)[2]!.startsWith('*');
}

/** Matching wall times in [fromWall, toWall], by cron-parser in UTC. */
export function wallMatches(expression: string, fromWall: number, toWall: number, limit = 200_000): number[] {
  const it = CronExpressionParser.parse(sixFields(expression).join(' '), {
    tz: 'UTC',
    currentDate: new Date(fromWall - 1),
    endDate: new Date(toWall + 1),
  });
  const out: number[] = [];
  while (it.hasNext() && out.length < limit) {
    const w = it.next().getTime();
    if (w > toWall) break;
    out.push(w);
  }
  return out;
}

/** Whether wall time `wall` matches `expression` (per cron-parser). */
export function wallMatchesExpression(expression: string, wall: number): boolean {
  return wallMatches(expression, wall, wall, 1).length === 1;
}

/**
 * Reference fire instants of a cron expression in `zone` within (from, to], ascending, merged.
 * Looks at wall times up to 3 hours around the window: enough for any DST shift of real zones.
 */
export function referenceCronFireTimes(expression: string, zone: string, from: number, to: number): number[] {
  const realTime = hourFollowsRealTime(expression);
  const fires = new Set<number>();
  const margin = 3 * 3_600_000;
  for (const wall of wallMatches(expression, wallAt(zone, from) - margin, wallAt(zone, to) + margin)) {
    const instants = instantsOfWall(zone, wall);
    if (realTime) instants.forEach((t) => fires.add(t));
    else fires.add(instants.length > 0 ? instants[0]! : gapEnd(zone, wall));
  }
  return [...fires].filter((t) => t > from && t <= to).sort((a, b) => a - b);
}
