import { afterEach, describe, expect, it, vi } from 'vitest';
import { date, interval, nextFireTime, upcomingFireTimes } from '../../src/triggers/index.js';

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

describe('interval', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires at start + k·every', () => {
    const t = interval('90s', { start: '2026-01-01T00:00:00Z' });
    expect(upcomingFireTimes(t, new Date('2026-01-01T00:02:00Z'), 3).map((d) => d.toISOString())).toEqual([
      '2026-01-01T00:03:00.000Z',
      '2026-01-01T00:04:30.000Z',
      '2026-01-01T00:06:00.000Z',
    ]);
  });

  it('starts at start when asked before it, inclusive of start', () => {
    const t = interval(1000, { start: '2026-01-01T00:00:00Z' });
    expect(iso(nextFireTime(t, new Date('2025-06-01T00:00:00Z')))).toBe('2026-01-01T00:00:00.000Z');
    expect(iso(nextFireTime(t, new Date('2025-12-31T23:59:59.999Z')))).toBe('2026-01-01T00:00:00.000Z');
    expect(iso(nextFireTime(t, new Date('2026-01-01T00:00:00Z')))).toBe('2026-01-01T00:00:01.000Z');
    expect(iso(nextFireTime(t, new Date('2026-01-01T00:00:00Z'), { inclusive: true }))).toBe('2026-01-01T00:00:00.000Z');
  });

  it('defaults start to the moment the trigger is created', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-05-05T12:00:00.123Z'));
    const t = interval({ minutes: 5 });
    expect(t.start).toBe(Date.parse('2026-05-05T12:00:00.123Z'));
    expect(iso(nextFireTime(t, new Date('2026-05-05T12:01:00Z')))).toBe('2026-05-05T12:05:00.123Z');
  });

  it('includes a fire exactly at end, then is exhausted', () => {
    const t = interval('1h', { start: '2026-01-01T00:00:00Z', end: '2026-01-01T02:00:00Z' });
    expect(upcomingFireTimes(t, new Date('2025-01-01T00:00:00Z'), 10).map((d) => d.toISOString())).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2026-01-01T01:00:00.000Z',
      '2026-01-01T02:00:00.000Z',
    ]);
    expect(nextFireTime(t, new Date('2026-01-01T02:00:00Z'))).toBeNull();
  });

  it('counts elapsed time: DST does not bend it', () => {
    // Berlin springs forward at 2026-03-29T01:00Z; an hourly interval stays one real hour apart.
    const t = interval('1h', { start: '2026-03-28T22:30:00Z' });
    const times = upcomingFireTimes(t, new Date('2026-03-28T22:00:00Z'), 6).map((d) => d.getTime());
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(3_600_000);
  });
});

describe('date', () => {
  const t = date('2026-01-01T12:00:00Z');

  it('fires once at its instant', () => {
    expect(iso(nextFireTime(t, new Date('2025-01-01T00:00:00Z')))).toBe('2026-01-01T12:00:00.000Z');
    expect(nextFireTime(t, new Date('2026-01-01T12:00:00Z'))).toBeNull();
    expect(iso(nextFireTime(t, new Date('2026-01-01T12:00:00Z'), { inclusive: true }))).toBe('2026-01-01T12:00:00.000Z');
    expect(nextFireTime(t, new Date('2026-01-02T00:00:00Z'))).toBeNull();
  });

  it('accepts a Date and stores epoch milliseconds', () => {
    expect(date(new Date(1_767_268_800_000))).toEqual({ kind: 'date', at: 1_767_268_800_000 });
  });
});
