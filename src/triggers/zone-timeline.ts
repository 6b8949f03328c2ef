/**
 * A time zone's UTC offsets as a table of transitions, built lazily one UTC year at a time from
 * luxon and memoised. Asking luxon for an offset costs ~5 µs (it goes through
 * `Intl.DateTimeFormat#formatToParts`); the triggers need several per `nextFireTime`, for thousands of
 * schedules, so they read this table instead (a few array lookups).
 *
 * A year's table is found by sampling the offset every 7 days and bisecting (to the second) where it
 * changes. Two transitions that cancel each other within one 7-day sample window would be missed;
 * the tz database has no such pair in the years schedules live in, and a missed pair could only
 * shift fire times, never make `nextFireTime` non-monotonic.
 */
import { IANAZone } from 'luxon';
import { civilFromDays, MS_PER_DAY, MS_PER_MINUTE, MS_PER_SECOND, wallMs } from './civil.js';

/** An instant where the zone's offset changes; offsets in milliseconds east of UTC. */
export interface Transition {
  at: number;
  before: number;
  after: number;
}

interface YearTable {
  /** Offset in force just before the year starts. */
  startOffset: number;
  /** Transitions with `at` in [year start, next year start), ascending. */
  transitions: Transition[];
}

const SAMPLE_STEP = 7 * MS_PER_DAY;
/** Instants luxon can give an offset for (a JS Date reaches ±8.64e15 ms). */
const OFFSET_QUERY_LIMIT = 8.64e15 - 2 * MS_PER_DAY;
const UTC_NAMES = /^(?:etc\/)?(?:utc|uct|gmt|gmt0|gmt[+-]0|zulu|universal|greenwich)$/i;

function yearOf(t: number): number {
  return civilFromDays(Math.floor(t / MS_PER_DAY)).year;
}

/** Offsets and transitions of one IANA zone. Get instances with {@link ZoneTimeline.for}. */
export class ZoneTimeline {
  private static readonly cache = new Map<string, ZoneTimeline>();

  /** The (memoised) timeline of `zone`; the name must already be validated with {@link isValidTimeZone}. */
  static for(zone: string): ZoneTimeline {
    let timeline = ZoneTimeline.cache.get(zone);
    if (!timeline) {
      timeline = new ZoneTimeline(zone);
      ZoneTimeline.cache.set(zone, timeline);
    }
    return timeline;
  }

  private readonly iana: IANAZone | null;
  private readonly years = new Map<number, YearTable>();

  private constructor(readonly zone: string) {
    // UTC and its aliases never change offset: skip the tables entirely for the default zone.
    this.iana = UTC_NAMES.test(zone) ? null : IANAZone.create(zone);
  }

  /** The offset (ms east of UTC) in force at instant `t`. */
  offsetAt(t: number): number {
    if (!this.iana) return 0;
    const table = this.table(yearOf(t));
    let offset = table.startOffset;
    for (const tr of table.transitions) {
      if (tr.at > t) break;
      offset = tr.after;
    }
    return offset;
  }

  /** The first transition with `from < at <= to`, or null. */
  firstTransitionIn(from: number, to: number): Transition | null {
    if (!this.iana || to <= from) return null;
    for (let year = yearOf(from), last = yearOf(to); year <= last; year++) {
      for (const tr of this.table(year).transitions) {
        if (tr.at > to) return null;
        if (tr.at > from) return tr;
      }
    }
    return null;
  }

  /** The last transition with `from < at <= to`, or null. */
  lastTransitionIn(from: number, to: number): Transition | null {
    if (!this.iana || to <= from) return null;
    for (let year = yearOf(to), first = yearOf(from); year >= first; year--) {
      const transitions = this.table(year).transitions;
      for (let i = transitions.length - 1; i >= 0; i--) {
        const tr = transitions[i]!;
        if (tr.at <= from) return null;
        if (tr.at <= to) return tr;
      }
    }
    return null;
  }

  /**
   * The instant a fixed wall-clock time fires at under the DST rule for fixed hours: its first
   * occurrence when it exists (once or twice), otherwise the first instant after the gap.
   */
  firstInstantOfWall(wall: number): number {
    // Offsets stay within ±1 day, so every instant whose wall clock reads `wall` lies in this window.
    let segmentStart = wall - MS_PER_DAY;
    let offset = this.offsetAt(segmentStart);
    const windowEnd = wall + MS_PER_DAY;
    for (;;) {
      const tr = this.firstTransitionIn(segmentStart, windowEnd);
      const segmentEnd = tr ? tr.at : Infinity;
      const candidate = wall - offset;
      if (candidate >= segmentStart && candidate < segmentEnd) return candidate;
      if (!tr) break;
      // Spring forward over `wall`: the first instant after the gap is the transition itself.
      if (tr.after > tr.before && wall >= tr.at + tr.before && wall < tr.at + tr.after) return tr.at;
      segmentStart = tr.at;
      offset = tr.after;
    }
    // Unreachable for real zones; keep a sane answer rather than throw from a pure function.
    return wall - this.offsetAt(wall);
  }

  private rawOffset(t: number): number {
    // luxon answers NaN at the very edge of the Date range; a NaN here would never compare equal
    // and keep the bisection below from ending, so ask about the nearest instant it can answer.
    const minutes = this.iana!.offset(Math.min(Math.max(t, -OFFSET_QUERY_LIMIT), OFFSET_QUERY_LIMIT));
    return Number.isFinite(minutes) ? Math.round(minutes * MS_PER_MINUTE) : 0;
  }

  private table(year: number): YearTable {
    let table = this.years.get(year);
    if (!table) {
      table = this.buildTable(year);
      this.years.set(year, table);
    }
    return table;
  }

  private buildTable(year: number): YearTable {
    const yearStart = wallMs(year, 1, 1);
    const nextYearStart = wallMs(year + 1, 1, 1);
    // Sample points are whole seconds; a transition at exactly `yearStart` is found in (p0, p1].
    let previous = yearStart - MS_PER_SECOND;
    let previousOffset = this.rawOffset(previous);
    const table: YearTable = { startOffset: previousOffset, transitions: [] };
    while (previous < nextYearStart - MS_PER_SECOND) {
      const next = Math.min(previous + SAMPLE_STEP, nextYearStart - MS_PER_SECOND);
      const nextOffset = this.rawOffset(next);
      let lo = previous;
      let loOffset = previousOffset;
      // Several transitions may share a window (rare); find them one after the other.
      while (loOffset !== nextOffset) {
        let hi = next;
        while (hi - lo > MS_PER_SECOND) {
          const mid = lo + Math.floor((hi - lo) / 2 / MS_PER_SECOND) * MS_PER_SECOND;
          if (this.rawOffset(mid) === loOffset) lo = mid;
          else hi = mid;
        }
        const after = this.rawOffset(hi);
        table.transitions.push({ at: hi, before: loOffset, after });
        lo = hi;
        loOffset = after;
      }
      previous = next;
      previousOffset = nextOffset;
    }
    return table;
  }
}

/** True when `zone` is an IANA zone name this runtime knows (luxon/Intl). */
export function isValidTimeZone(zone: string): boolean {
  return typeof zone === 'string' && zone.length > 0 && IANAZone.isValidZone(zone);
}
