/**
 * interval over the whole Date range (issue 12, point 3): `after − start` may exceed 2^53 ms, where a
 * double no longer holds every integer. The oracle is BigInt arithmetic, independent of the code.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { interval, nextFireTime, type IntervalTrigger } from '../../src/triggers/index.js';

const MAX_INSTANT = 8.64e15;

/** The first grid point `start + k·every` (k >= 0) that is > after (>= with inclusive), in BigInt, or null past end / the Date range. */
function expectedNext(t: IntervalTrigger, after: number, inclusive: boolean): number | null {
  const start = BigInt(t.start);
  const every = BigInt(t.everyMs);
  const lower = BigInt(after) + (inclusive ? 0n : 1n);
  let at = start;
  if (lower > start) {
    const k = (lower - start + every - 1n) / every;
    at = start + k * every;
  }
  const limit = BigInt(t.end ?? MAX_INSTANT);
  return at <= limit && at <= BigInt(MAX_INSTANT) ? Number(at) : null;
}

const instant = fc.oneof(
  fc.integer({ min: -MAX_INSTANT, max: MAX_INSTANT }),
  // The edges, where the distances beyond 2^53 are.
  fc.integer({ min: -MAX_INSTANT, max: -MAX_INSTANT + 10_000 }),
  fc.integer({ min: MAX_INSTANT - 10_000, max: MAX_INSTANT }),
);
const every = fc.oneof(
  fc.integer({ min: 1, max: 10 }),
  fc.integer({ min: 1, max: 86_400_000 }),
  fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
);

describe('interval across the whole Date range (property)', () => {
  it('the next fire time is the exact next grid point: on the grid, after `after`, none skipped', () => {
    fc.assert(
      fc.property(instant, every, instant, fc.boolean(), fc.option(instant), (start, everyMs, after, inclusive, endPick) => {
        const end = endPick === null || endPick < start ? null : endPick;
        const t = interval(everyMs, { start: new Date(start), ...(end === null ? {} : { end: new Date(end) }) });
        const next = nextFireTime(t, new Date(after), { inclusive });
        expect(next?.getTime() ?? null).toBe(expectedNext(t, after, inclusive));
        if (next !== null) {
          if (inclusive) expect(next.getTime()).toBeGreaterThanOrEqual(after);
          else expect(next.getTime()).toBeGreaterThan(after);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('a chain of fire times from the far past to the far future is strictly increasing, one step apart', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 0, max: 10_000 }), (everyMs, back) => {
        const t = interval(everyMs, { start: new Date(-MAX_INSTANT) });
        let cursor = new Date(MAX_INSTANT - back - 3 * everyMs);
        let previous: number | null = null;
        for (let i = 0; i < 5; i++) {
          const next = nextFireTime(t, cursor);
          if (next === null) break;
          expect(next.getTime()).toBeGreaterThan(cursor.getTime());
          expect((BigInt(next.getTime()) - BigInt(-MAX_INSTANT)) % BigInt(everyMs)).toBe(0n);
          if (previous !== null) expect(next.getTime() - previous).toBe(everyMs);
          previous = next.getTime();
          cursor = next;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('interval precision: the issue’s case', () => {
  it('every 1 ms from the first instant of the Date range: each call moves forward by one', () => {
    const t = interval(1, { start: '-271821-04-20T00:00:00Z' });
    const after = new Date('+275760-09-12T23:59:59.998Z');
    expect(nextFireTime(t, after)?.toISOString()).toBe('+275760-09-12T23:59:59.999Z');
    expect(nextFireTime(t, new Date('+275760-09-12T23:59:59.999Z'))?.toISOString()).toBe('+275760-09-13T00:00:00.000Z');
    expect(nextFireTime(t, new Date(MAX_INSTANT))).toBeNull();
  });

  it('every 3 ms from the first instant: the grid is kept, not rounded away', () => {
    const t = interval(3, { start: new Date(-MAX_INSTANT) });
    // 2·8.64e15 is divisible by 3, so the last instant is on the grid and 1 ms before it is not.
    expect(nextFireTime(t, new Date(MAX_INSTANT - 2))?.getTime()).toBe(MAX_INSTANT);
    expect(nextFireTime(t, new Date(MAX_INSTANT - 3), { inclusive: true })?.getTime()).toBe(MAX_INSTANT - 3);
    expect(nextFireTime(t, new Date(MAX_INSTANT - 4))?.getTime()).toBe(MAX_INSTANT - 3);
  });
});
