/** The memoised transition tables must agree with luxon, which they exist to avoid calling. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ZoneTimeline } from '../../src/triggers/zone-timeline.js';
import { gapEnd, instantsOfWall, luxonOffsetMs, transitionsBetween } from './support/reference.js';

const ZONES = [
  'UTC',
  'Etc/GMT-14',
  'Europe/Berlin',
  'America/New_York',
  'America/St_Johns',
  'Asia/Kolkata',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'Africa/Casablanca',
  'America/Santiago',
];
const instant = fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2100, 0, 1) });

describe('ZoneTimeline', () => {
  it('gives the same offset as luxon at any instant', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ZONES), instant, (zone, t) => {
        expect(ZoneTimeline.for(zone).offsetAt(t)).toBe(luxonOffsetMs(zone, t));
      }),
      { numRuns: 400 },
    );
  });

  it('finds the same transitions as an independent 6-hourly scan', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ZONES), fc.integer({ min: 1970, max: 2060 }), (zone, year) => {
        const from = Date.UTC(year, 0, 1);
        const to = Date.UTC(year + 1, 0, 1);
        const expected = transitionsBetween(zone, from, to, 6 * 3_600_000).filter((tr) => tr.at > from && tr.at <= to);
        const timeline = ZoneTimeline.for(zone);
        const found = [];
        for (let cursor = from, tr = timeline.firstTransitionIn(cursor, to); tr; tr = timeline.firstTransitionIn(cursor, to)) {
          found.push(tr);
          cursor = tr.at;
        }
        expect(found).toEqual(expected);
        expect(timeline.lastTransitionIn(from, to) ?? null).toEqual(expected.at(-1) ?? null);
      }),
      { numRuns: 40 },
    );
  });

  it('maps a wall time to its first instant, or to the end of the gap that swallows it', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ZONES), fc.integer({ min: Date.UTC(1990, 0, 1) / 1000, max: Date.UTC(2040, 0, 1) / 1000 }), (zone, s) => {
        const wall = s * 1000;
        const instants = instantsOfWall(zone, wall);
        const expected = instants.length > 0 ? instants[0] : gapEnd(zone, wall);
        expect(ZoneTimeline.for(zone).firstInstantOfWall(wall)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  const DST_ZONES = ZONES.filter((z) => !['UTC', 'Etc/GMT-14', 'Asia/Kolkata'].includes(z));
  const transitions = new Map(
    DST_ZONES.map((zone) => [zone, transitionsBetween(zone, Date.UTC(2020, 0, 1), Date.UTC(2030, 0, 1), 86_400_000)]),
  );

  it('maps wall times near transitions (in gaps, in repeated hours) like the reference', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...DST_ZONES),
        fc.nat(),
        fc.integer({ min: -7200, max: 7200 }),
        (zone, pick, deltaSeconds) => {
          const list = transitions.get(zone)!;
          const tr = list[pick % list.length]!;
          const wall = tr.at + Math.min(tr.before, tr.after) + deltaSeconds * 1000;
          const instants = instantsOfWall(zone, wall);
          const expected = instants.length > 0 ? instants[0] : gapEnd(zone, wall);
          expect(ZoneTimeline.for(zone).firstInstantOfWall(wall)).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('maps the Berlin spring gap and fall repeat by the fixed-hour rule', () => {
    const berlin = ZoneTimeline.for('Europe/Berlin');
    expect(berlin.firstInstantOfWall(Date.UTC(2026, 2, 29, 2, 30))).toBe(Date.UTC(2026, 2, 29, 1, 0));
    expect(berlin.firstInstantOfWall(Date.UTC(2026, 9, 25, 2, 30))).toBe(Date.UTC(2026, 9, 25, 0, 30));
  });
});
