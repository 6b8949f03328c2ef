import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord } from '../../src/codec/index.js';
import type { ScheduleRecord } from '../../src/records.js';
import {
  and,
  assertTrigger,
  calendarInterval,
  cron,
  date,
  describeTrigger,
  interval,
  InvalidFireTimeArgumentError,
  InvalidTriggerError,
  isTrigger,
  nextFireTime,
  or,
  upcomingFireTimes,
  type Trigger,
} from '../../src/triggers/index.js';

/** Runs `make`, expects an InvalidTriggerError naming `field`, and returns it. */
function expectInvalid(make: () => unknown, field: string): InvalidTriggerError {
  let caught: unknown;
  try {
    make();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InvalidTriggerError);
  const error = caught as InvalidTriggerError;
  expect(error.field).toBe(field);
  expect(error.message).toContain(field);
  return error;
}

const ok = date('2026-01-01T00:00:00Z');

describe('InvalidTriggerError at construction', () => {
  it.each([
    ['61 * * * *', /61/],
    ['* * * *', /4 fields/],
    ['0 0 0 * * * *', /7 fields/],
    ['', /0 fields/],
    ['@reboot', /@reboot/],
    ['H * * * *', /hashed/],
    ['0 0 30 2 *', /30 2/],
    ['0 0 * * 1#6', /1#6/],
    ['bogus', /bogus/],
  ])('cron(%j) names expression', (expression, detail) => {
    const error = expectInvalid(() => cron(expression), 'expression');
    expect(error.message).toMatch(detail);
    expect(error.message).toMatch(/5 fields/);
  });

  it('cron: non-string expression, unknown zone, bad bounds', () => {
    expectInvalid(() => cron(42 as unknown as string), 'expression');
    expect(expectInvalid(() => cron('* * * * *', { timezone: 'Mars/Olympus_Mons' }), 'timezone').message).toMatch(/Mars\/Olympus_Mons/);
    expect(expectInvalid(() => cron('* * * * *', { start: 'yesterday' }), 'start').message).toMatch(/"yesterday"/);
    expectInvalid(() => cron('* * * * *', { end: new Date(Number.NaN) }), 'end');
    const error = expectInvalid(() => cron('* * * * *', { start: '2026-02-01T00:00:00Z', end: '2026-01-01T00:00:00Z' }), 'end');
    expect(error.message).toMatch(/before start/);
  });

  it.each<[unknown, RegExp]>([
    [0, /whole number of milliseconds >= 1/],
    ['0s', /whole number of milliseconds >= 1/],
    [-5, /negative/],
    ['-5s', /not a valid duration/],
    ['soon', /"soon"/],
    [Number.NaN, /NaN/],
    [Number.POSITIVE_INFINITY, /not finite/],
    [0.5, /whole number/],
  ])('interval(%j) names every', (every, detail) => {
    expect(expectInvalid(() => interval(every as number), 'every').message).toMatch(detail);
  });

  it('interval: bad start, end before start', () => {
    expectInvalid(() => interval('1s', { start: 'garbage' }), 'start');
    expectInvalid(() => interval('1s', { start: '2026-02-01T00:00:00Z', end: '2026-01-01T00:00:00Z' }), 'end');
  });

  it('date: bad instant', () => {
    expectInvalid(() => date('not a date'), 'at');
    expectInvalid(() => date(new Date(Number.NaN)), 'at');
    expectInvalid(() => date(undefined as unknown as string), 'at');
  });

  it.each<[Record<string, unknown>, string]>([
    [{ start: '2026-01-01' }, 'years/months/weeks/days'],
    [{ years: 0, months: 0, weeks: 0, days: 0, start: '2026-01-01' }, 'years/months/weeks/days'],
    [{ months: -1, start: '2026-01-01' }, 'months'],
    [{ days: 1.5, start: '2026-01-01' }, 'days'],
    [{ weeks: Number.NaN, start: '2026-01-01' }, 'weeks'],
    [{ years: '1', start: '2026-01-01' }, 'years'],
    [{ days: 1, start: '2026-02-30' }, 'start'],
    [{ days: 1, start: '2026-1-5' }, 'start'],
    [{ days: 1, start: '2026-01-05T00:00:00Z' }, 'start'],
    [{ days: 1 }, 'start'],
    [{ days: 1, start: '2026-01-05', end: '2026-01-04' }, 'end'],
    [{ days: 1, start: '2026-01-05', end: '2026-13-01' }, 'end'],
    [{ days: 1, start: '2026-01-05', hour: 24 }, 'hour'],
    [{ days: 1, start: '2026-01-05', hour: -1 }, 'hour'],
    [{ days: 1, start: '2026-01-05', minute: 60 }, 'minute'],
    [{ days: 1, start: '2026-01-05', second: 60 }, 'second'],
    [{ days: 1, start: '2026-01-05', second: 1.5 }, 'second'],
    [{ days: 1, start: '2026-01-05', timezone: 'Nowhere/Land' }, 'timezone'],
  ])('calendarInterval(%j) names %s', (opts, field) => {
    expectInvalid(() => calendarInterval(opts as never), field);
  });

  it('and / or: empty list, bad options, bad child', () => {
    expect(expectInvalid(() => and([]), 'triggers').message).toMatch(/empty/);
    expect(expectInvalid(() => or([]), 'triggers').message).toMatch(/empty/);
    expectInvalid(() => or('nope' as unknown as Trigger[]), 'triggers');
    expectInvalid(() => and([ok], { threshold: -1 }), 'threshold');
    expectInvalid(() => and([ok], { threshold: 'a while' }), 'threshold');
    expectInvalid(() => and([ok], { maxIterations: 0 }), 'maxIterations');
    expectInvalid(() => and([ok], { maxIterations: 2.5 }), 'maxIterations');
    expectInvalid(() => or([ok, { kind: 'sometimes' } as unknown as Trigger]), 'triggers[1].kind');
    expectInvalid(() => and([ok, { ...cron('* * * * *'), timezone: 'X/Y' }]), 'triggers[1].timezone');
  });
});

describe('bounded error messages', () => {
  it('an over-long cron expression is refused quoting a bounded prefix, not the whole input', () => {
    const expression = `${'1,'.repeat(50_000)}2 * * * *`;
    const error = expectInvalid(() => cron(expression), 'expression');
    expect(error.message.length).toBeLessThan(600);
    expect(error.message).toContain(`"${expression.slice(0, 80)}"… (${expression.length} characters)`);
    expect(error.message).toMatch(/at most 1024/);
    // The same for a stored trigger read back.
    expect(expectInvalid(() => assertTrigger({ ...cron('* * * * *'), expression }), 'expression').message.length).toBeLessThan(600);
  });

  it('a long expression within the limit is still parsed (every value of every field listed)', () => {
    const all = (from: number, to: number): string => Array.from({ length: to - from + 1 }, (_, i) => from + i).join(',');
    const expression = [all(0, 59), all(0, 59), all(0, 23), all(1, 31), all(1, 12), all(0, 7)].join(' ');
    expect(expression.length).toBeLessThanOrEqual(1024);
    expect(nextFireTime(cron(expression), new Date('2026-01-01T00:00:00Z'))?.toISOString()).toBe('2026-01-01T00:00:01.000Z');
  });

  it('other long values are quoted bounded too', () => {
    const zone = 'Europe/'.repeat(10_000);
    expect(expectInvalid(() => cron('* * * * *', { timezone: zone }), 'timezone').message.length).toBeLessThan(400);
    expect(expectInvalid(() => interval('1s', { start: 'x'.repeat(100_000) }), 'start').message.length).toBeLessThan(400);
  });
});

describe('nextFireTime arguments', () => {
  const daily = cron('@daily');

  it.each<[string, unknown]>([
    ['Invalid Date', new Date(Number.NaN)],
    ['a string', '2026-01-01T00:00:00Z'],
    ['a number', 1_767_225_600_000],
    ['undefined', undefined],
  ])('after as %s throws InvalidFireTimeArgumentError naming after', (_what, after) => {
    for (const call of [() => nextFireTime(daily, after as Date), () => upcomingFireTimes(daily, after as Date, 3)]) {
      let caught: unknown;
      try {
        call();
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidFireTimeArgumentError);
      expect(caught).toBeInstanceOf(TypeError);
      expect((caught as InvalidFireTimeArgumentError).argument).toBe('after');
      expect((caught as Error).message).toMatch(/^invalid after: .* is not a valid Date; pass a Date/);
    }
  });

  it('names Invalid Date in the message', () => {
    expect(() => nextFireTime(daily, new Date(Number.NaN))).toThrow('invalid after: Invalid Date is not a valid Date');
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('upcomingFireTimes count %s throws naming count', (count) => {
    expect(() => upcomingFireTimes(daily, new Date(), count)).toThrow(InvalidFireTimeArgumentError);
    expect(() => upcomingFireTimes(daily, new Date(), count)).toThrow(/^invalid count: /);
  });

  it('count 0 lists nothing', () => {
    expect(upcomingFireTimes(daily, new Date(), 0)).toEqual([]);
  });
});

const samples: Trigger[] = [
  cron('0 9 * * MON-FRI', { timezone: 'Europe/Berlin', start: '2026-01-01T00:00:00Z', end: '2027-01-01T00:00:00Z' }),
  cron('@daily'),
  interval('90s', { start: '2026-01-01T00:00:00Z' }),
  interval({ hours: 1 }, { start: '2026-01-01T00:00:00Z', end: '2026-02-01T00:00:00Z' }),
  date('2026-06-01T12:00:00Z'),
  calendarInterval({ months: 1, hour: 9, timezone: 'America/New_York', start: '2026-01-31', end: '2027-01-31' }),
  and([cron('0 * * * *'), interval('30m', { start: '2026-01-01T00:00:00Z' })], { threshold: '2s', maxIterations: 500 }),
  or([date('2026-01-01T00:00:00Z'), and([cron('0 12 * * *'), cron('0 * * * MON')])]),
];

describe('serialisation and read-back', () => {
  it.each(samples.map((t) => [t.kind, t] as const))('%s survives JSON and msgpack and still validates', (_kind, trigger) => {
    const viaJson = JSON.parse(JSON.stringify(trigger)) as unknown;
    expect(viaJson).toEqual(trigger);
    expect(isTrigger(viaJson)).toBe(true);

    const record: ScheduleRecord = {
      id: 's1',
      task: 't',
      trigger,
      args: null,
      paused: false,
      coalesce: 'latest',
      misfireGraceTimeMs: null,
      maxJitterMs: 0,
      nextFireTime: null,
      lastFireTime: null,
      createdAt: new Date('2026-01-01T00:00:00Z'),
    };
    const back = decodeRecord('schedule', encodeRecord('schedule', record)).trigger;
    expect(back).toEqual(trigger);
    assertTrigger(back);
    const after = new Date('2026-03-01T00:00:00Z');
    expect(nextFireTime(back, after)).toEqual(nextFireTime(trigger, after));
  });

  it('contains only plain data (no functions, no class instances)', () => {
    const plain = (v: unknown): boolean =>
      v === null ||
      ['string', 'number', 'boolean'].includes(typeof v) ||
      (Array.isArray(v) && v.every(plain)) ||
      (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype && Object.values(v as object).every(plain));
    for (const t of samples) expect(plain(t)).toBe(true);
  });

  it.each<[unknown, string]>([
    [null, 'trigger'],
    ['cron', 'trigger'],
    [{}, 'kind'],
    [{ kind: 'sometimes' }, 'kind'],
    [{ ...cron('* * * * *'), expression: 'nope' }, 'expression'],
    [{ ...cron('* * * * *'), expression: 5 }, 'expression'],
    [{ ...cron('* * * * *'), timezone: 'Atlantis/Capital' }, 'timezone'],
    [{ ...cron('* * * * *'), start: '2026-01-01' }, 'start'],
    [{ ...cron('* * * * *'), start: 2000, end: 1000 }, 'end'],
    [{ kind: 'interval', everyMs: 0, start: 0, end: null }, 'every'],
    [{ kind: 'interval', everyMs: 1000, end: null }, 'start'],
    [{ kind: 'date', at: 'tomorrow' }, 'at'],
    [{ ...calendarInterval({ days: 1, start: '2026-01-01' }), days: 0 }, 'years/months/weeks/days'],
    [{ ...calendarInterval({ days: 1, start: '2026-01-01' }), start: '2026-02-31' }, 'start'],
    [{ kind: 'and', triggers: [], thresholdMs: 1000, maxIterations: 10 }, 'triggers'],
    [{ kind: 'and', triggers: [date('2026-01-01T00:00:00Z')], thresholdMs: -1, maxIterations: 10 }, 'threshold'],
    [{ kind: 'or', triggers: [date('2026-01-01T00:00:00Z'), { kind: 'date', at: null }] }, 'triggers[1].at'],
    [{ kind: 'or', triggers: [{ kind: 'or', triggers: [null] }] }, 'triggers[0].triggers[0]'],
  ])('a corrupt stored trigger %j is refused naming %s', (value, field) => {
    expect(isTrigger(value)).toBe(false);
    expectInvalid(() => assertTrigger(value), field);
  });

  it('refuses deep or cyclic nesting with a typed error, not a stack overflow', () => {
    let deep: Record<string, unknown> = { kind: 'date', at: 0 };
    for (let i = 0; i < 100; i++) deep = { kind: 'or', triggers: [deep] };
    expect(() => assertTrigger(deep)).toThrow(InvalidTriggerError);
    const cyclic: { kind: string; triggers: unknown[] } = { kind: 'or', triggers: [] };
    cyclic.triggers.push(cyclic);
    expect(() => assertTrigger(cyclic)).toThrow(InvalidTriggerError);
  });
});

describe('describeTrigger', () => {
  it('says what each kind does', () => {
    expect(describeTrigger(cron('0 9 * * MON-FRI', { timezone: 'Europe/Berlin' }))).toBe('cron "0 9 * * MON-FRI" in Europe/Berlin');
    expect(describeTrigger(interval('1h30m', { start: '2026-01-01T00:00:00Z' }))).toBe('every 1h30m from 2026-01-01T00:00:00.000Z');
    expect(describeTrigger(date('2026-01-01T00:00:00Z'))).toBe('once at 2026-01-01T00:00:00.000Z');
    expect(describeTrigger(calendarInterval({ months: 1, hour: 9, start: '2026-01-31', end: '2026-12-31' }))).toBe(
      'every 1 month at 09:00:00 UTC from 2026-01-31 until 2026-12-31',
    );
    expect(describeTrigger(or([date('2026-01-01T00:00:00Z'), and([cron('@daily'), cron('@hourly')])]))).toBe(
      'any of (once at 2026-01-01T00:00:00.000Z; all of (cron "@daily" in UTC; cron "@hourly" in UTC) within 1s)',
    );
  });
});
