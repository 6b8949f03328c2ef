/**
 * The DST rule of the contract, on the 2026 changes of Europe/Berlin and America/New_York. The
 * transition instants are checked against luxon first, so a wrong assumption about the dates fails
 * loudly instead of making the other tests meaningless.
 */
import { IANAZone } from 'luxon';
import { describe, expect, it } from 'vitest';
import { calendarInterval, cron, nextFireTime, upcomingFireTimes, type Trigger } from '../../src/triggers/index.js';

const offsetMinutes = (zone: string, iso: string): number => IANAZone.create(zone).offset(Date.parse(iso));
const list = (t: Trigger, after: string, n: number): string[] =>
  upcomingFireTimes(t, new Date(after), n).map((d) => d.toISOString());

const BERLIN = 'Europe/Berlin';
const NEW_YORK = 'America/New_York';

describe('the 2026 transitions the tests rely on (per luxon)', () => {
  it('Berlin springs forward 2026-03-29 02:00 CET → 03:00 CEST (01:00Z) and falls back 2026-10-25 03:00 CEST → 02:00 CET (01:00Z)', () => {
    expect(offsetMinutes(BERLIN, '2026-03-29T00:59:59Z')).toBe(60);
    expect(offsetMinutes(BERLIN, '2026-03-29T01:00:00Z')).toBe(120);
    expect(offsetMinutes(BERLIN, '2026-10-25T00:59:59Z')).toBe(120);
    expect(offsetMinutes(BERLIN, '2026-10-25T01:00:00Z')).toBe(60);
  });

  it('New York springs forward 2026-03-08 02:00 EST → 03:00 EDT (07:00Z) and falls back 2026-11-01 02:00 EDT → 01:00 EST (06:00Z)', () => {
    expect(offsetMinutes(NEW_YORK, '2026-03-08T06:59:59Z')).toBe(-300);
    expect(offsetMinutes(NEW_YORK, '2026-03-08T07:00:00Z')).toBe(-240);
    expect(offsetMinutes(NEW_YORK, '2026-11-01T05:59:59Z')).toBe(-240);
    expect(offsetMinutes(NEW_YORK, '2026-11-01T06:00:00Z')).toBe(-300);
  });
});

describe('fixed-hour cron: never loses or doubles a day', () => {
  it('Berlin spring: 02:30 does not exist and fires once at 03:00 CEST, the end of the gap', () => {
    expect(list(cron('30 2 * * *', { timezone: BERLIN }), '2026-03-28T00:00:00Z', 3)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  it('Berlin spring: several missing times merge into one fire, also with an existing 03:00', () => {
    expect(list(cron('0,30 2 * * *', { timezone: BERLIN }), '2026-03-28T23:00:00Z', 2)).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:00:00.000Z',
    ]);
    expect(list(cron('0 2,3 * * *', { timezone: BERLIN }), '2026-03-28T23:00:00Z', 2)).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:00:00.000Z',
    ]);
  });

  it('Berlin spring: the gap-end fire is at-or-after inclusive and not repeated', () => {
    const t = cron('30 2 * * *', { timezone: BERLIN });
    expect(nextFireTime(t, new Date('2026-03-29T01:00:00Z'), { inclusive: true })?.toISOString()).toBe('2026-03-29T01:00:00.000Z');
    expect(nextFireTime(t, new Date('2026-03-29T01:00:00Z'))?.toISOString()).toBe('2026-03-30T00:30:00.000Z');
  });

  it('Berlin fall: 02:30 happens twice and fires once, at its first occurrence (CEST)', () => {
    const t = cron('30 2 * * *', { timezone: BERLIN });
    expect(list(t, '2026-10-24T00:00:00Z', 3)).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z', // 02:30 CEST; 02:30 CET (01:30Z) is skipped
      '2026-10-26T01:30:00.000Z',
    ]);
    // Asked from inside the repeated hour, after the first 02:30: nothing more that day.
    expect(nextFireTime(t, new Date('2026-10-25T01:15:00Z'))?.toISOString()).toBe('2026-10-26T01:30:00.000Z');
  });

  it('New York spring: 02:30 fires at 03:00 EDT; fall: 01:30 fires once, at EDT', () => {
    expect(list(cron('30 2 * * *', { timezone: NEW_YORK }), '2026-03-07T00:00:00Z', 3)).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-08T07:00:00.000Z',
      '2026-03-09T06:30:00.000Z',
    ]);
    expect(list(cron('30 1 * * *', { timezone: NEW_YORK }), '2026-10-31T00:00:00Z', 3)).toEqual([
      '2026-10-31T05:30:00.000Z',
      '2026-11-01T05:30:00.000Z', // 01:30 EDT; 01:30 EST (06:30Z) is skipped
      '2026-11-02T06:30:00.000Z',
    ]);
  });

  it('6-field fixed-hour expressions follow the same rule', () => {
    expect(list(cron('15 30 2 * * *', { timezone: BERLIN }), '2026-03-28T12:00:00Z', 1)).toEqual(['2026-03-29T01:00:00.000Z']);
  });
});

describe("hour field '*': follows real time", () => {
  it('Berlin spring: minute 30 of the missing hour is skipped', () => {
    expect(list(cron('30 * * * *', { timezone: BERLIN }), '2026-03-29T00:00:00Z', 3)).toEqual([
      '2026-03-29T00:30:00.000Z', // 01:30 CET
      '2026-03-29T01:30:00.000Z', // 03:30 CEST (02:30 does not exist)
      '2026-03-29T02:30:00.000Z',
    ]);
  });

  it('Berlin fall: minute 30 of the repeated hour fires in both occurrences', () => {
    expect(list(cron('30 * * * *', { timezone: BERLIN }), '2026-10-24T23:00:00Z', 4)).toEqual([
      '2026-10-24T23:30:00.000Z', // 01:30 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T01:30:00.000Z', // 02:30 CET
      '2026-10-25T02:30:00.000Z', // 03:30 CET
    ]);
  });

  it('New York: skipped in spring, twice in fall', () => {
    expect(list(cron('30 * * * *', { timezone: NEW_YORK }), '2026-03-08T06:00:00Z', 2)).toEqual([
      '2026-03-08T06:30:00.000Z', // 01:30 EST
      '2026-03-08T07:30:00.000Z', // 03:30 EDT
    ]);
    expect(list(cron('30 * * * *', { timezone: NEW_YORK }), '2026-11-01T05:00:00Z', 2)).toEqual([
      '2026-11-01T05:30:00.000Z', // 01:30 EDT
      '2026-11-01T06:30:00.000Z', // 01:30 EST
    ]);
  });

  it.each([
    [BERLIN, '2026-03-28T22:00:00Z'],
    [BERLIN, '2026-10-24T22:00:00Z'],
    [NEW_YORK, '2026-03-08T04:00:00Z'],
    [NEW_YORK, '2026-11-01T03:00:00Z'],
  ])("'*/15 * * * *' in %s keeps its 15-minute rhythm through the change after %s", (zone, after) => {
    const times = upcomingFireTimes(cron('*/15 * * * *', { timezone: zone }), new Date(after), 40).map((d) => d.getTime());
    expect(times).toHaveLength(40);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(15 * 60_000);
  });
});

describe('calendarInterval: the fixed-hour rule', () => {
  it('Berlin: 02:30 daily fires at 03:00 CEST on the spring day and at 02:30 CEST on the fall day', () => {
    const t = calendarInterval({ days: 1, hour: 2, minute: 30, timezone: BERLIN, start: '2026-01-01' });
    expect(list(t, '2026-03-28T00:00:00Z', 3)).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
    expect(list(t, '2026-10-24T12:00:00Z', 2)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('New York: 02:30 daily fires at 03:00 EDT in spring; 01:30 daily fires once (EDT) in fall', () => {
    const spring = calendarInterval({ days: 1, hour: 2, minute: 30, timezone: NEW_YORK, start: '2026-03-01' });
    expect(list(spring, '2026-03-07T12:00:00Z', 2)).toEqual(['2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z']);
    const fall = calendarInterval({ days: 1, hour: 1, minute: 30, timezone: NEW_YORK, start: '2026-10-01' });
    expect(list(fall, '2026-10-31T12:00:00Z', 2)).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
  });
});
