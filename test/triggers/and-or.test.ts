import { describe, expect, it } from 'vitest';
import {
  and,
  cron,
  date,
  interval,
  MaxIterationsReachedError,
  nextFireTime,
  or,
  upcomingFireTimes,
  type Trigger,
} from '../../src/triggers/index.js';

const T0 = '2026-01-01T00:00:00Z';
const list = (t: Trigger, after: string, n: number, inclusive = false): string[] =>
  upcomingFireTimes(t, new Date(after), n, { inclusive }).map((d) => d.toISOString());

describe('and', () => {
  it('fires when all children coincide', () => {
    const t = and([cron('0 * * * *'), interval('40m', { start: T0 })]);
    // Hourly and every 40 minutes meet every two hours.
    expect(list(t, T0, 3, true)).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-01T02:00:00.000Z', '2026-01-01T04:00:00.000Z']);
  });

  it('fires at the earliest of the children’s times when they are within threshold (default 1 s)', () => {
    const t = and([date('2026-01-01T00:00:00.800Z'), date('2026-01-01T00:00:00.200Z')]);
    expect(nextFireTime(t, new Date(T0))?.toISOString()).toBe('2026-01-01T00:00:00.200Z');
  });

  it('does not fire when the children are further apart than threshold', () => {
    const children = [date('2026-01-01T00:00:00Z'), date('2026-01-01T00:00:00.500Z')];
    expect(nextFireTime(and(children, { threshold: '100ms' }), new Date('2025-01-01T00:00:00Z'))).toBeNull();
    expect(nextFireTime(and(children, { threshold: 500 }), new Date('2025-01-01T00:00:00Z'))?.toISOString()).toBe(
      '2026-01-01T00:00:00.000Z',
    );
  });

  it('is exhausted when a child is', () => {
    // 4 s and 5 s both qualify: each has a fire of every child within [E, E + 1 s] (the date's
    // 5 s serves both — and-fire times are a fixed set, not a consumption of child times).
    const t = and([interval('1s', { start: T0 }), date('2026-01-01T00:00:05Z')]);
    expect(list(t, T0, 5)).toEqual(['2026-01-01T00:00:04.000Z', '2026-01-01T00:00:05.000Z']);
  });

  it('the README example: one child fire serves two consecutive matches (APScheduler 4 would fire once)', () => {
    const t = and([interval('1s', { start: T0 }), date('2026-01-01T00:00:05Z')]);
    expect(list(t, T0, 5)).toEqual(['2026-01-01T00:00:04.000Z', '2026-01-01T00:00:05.000Z']);
    // The set does not depend on where the chain starts: asking from 00:00:04 finds 00:00:05 again.
    expect(nextFireTime(t, new Date('2026-01-01T00:00:04Z'))?.toISOString()).toBe('2026-01-01T00:00:05.000Z');
  });

  it('throws MaxIterationsReachedError when the children never meet', () => {
    const t = and([interval('2s', { start: T0 }), interval('2s', { start: '2026-01-01T00:00:01Z' })], {
      threshold: 0,
      maxIterations: 50,
    });
    let caught: unknown;
    try {
      nextFireTime(t, new Date(T0));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MaxIterationsReachedError);
    expect((caught as MaxIterationsReachedError).maxIterations).toBe(50);
    expect((caught as Error).message).toMatch(/50 search steps/);
  });

  it('defaults maxIterations to 10 000', () => {
    const t = and([interval('2s', { start: T0 }), interval('2s', { start: '2026-01-01T00:00:01Z' })], { threshold: 0 });
    expect(t.maxIterations).toBe(10_000);
    expect(() => nextFireTime(t, new Date(T0))).toThrow(MaxIterationsReachedError);
  });
});

describe('or', () => {
  it('fires at the earliest child time and merges equal times', () => {
    const t = or([interval('2s', { start: T0 }), interval('3s', { start: T0 })]);
    expect(list(t, T0, 6, true)).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2026-01-01T00:00:02.000Z',
      '2026-01-01T00:00:03.000Z',
      '2026-01-01T00:00:04.000Z',
      '2026-01-01T00:00:06.000Z',
      '2026-01-01T00:00:08.000Z',
    ]);
  });

  it('is exhausted when every child is', () => {
    const t = or([date('2026-01-01T00:00:02Z'), date('2026-01-01T00:00:01Z')]);
    expect(list(t, T0, 5)).toEqual(['2026-01-01T00:00:01.000Z', '2026-01-01T00:00:02.000Z']);
    expect(nextFireTime(t, new Date('2026-01-01T00:00:02Z'))).toBeNull();
  });

  it('nests with and', () => {
    const t = or([and([cron('0 12 * * *'), cron('0 * * * MON')]), date('2026-01-03T00:00:00Z')]);
    // 2026-01-05 is the first Monday.
    expect(list(t, T0, 3)).toEqual(['2026-01-03T00:00:00.000Z', '2026-01-05T12:00:00.000Z', '2026-01-12T12:00:00.000Z']);
  });
});
