import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { delayUntil, MAX_DUE_FIRE_TIMES, MAX_TIMER_DELAY_MS, planFires } from '../../src/machines/schedule-fires.js';
import { intervalNextFireTime, intervalTrigger, sequenceRandom, testSchedule } from '../support/fakes/schedule-fakes.js';

const T0 = Date.UTC(2025, 0, 1);
const at = (ms: number) => new Date(T0 + ms);
const deps = (random: () => number = () => 0) => ({ nextFireTime: intervalNextFireTime, random });

describe('planFires', () => {
  // Fire times every 1 s from T0; the schedule last fired before T0 and `now` is T0 + 3.5 s.
  const base = testSchedule({ trigger: intervalTrigger(T0, 1000), nextFireTime: at(0) });

  it('coalesces missed fire times: latest, earliest, all', () => {
    const now = at(3500);
    expect(planFires({ ...base, coalesce: 'latest' }, now, deps()).fires.map((f) => f.fireTime)).toEqual([at(3000)]);
    expect(planFires({ ...base, coalesce: 'earliest' }, now, deps()).fires.map((f) => f.fireTime)).toEqual([at(0)]);
    expect(planFires({ ...base, coalesce: 'all' }, now, deps()).fires.map((f) => f.fireTime)).toEqual([at(0), at(1000), at(2000), at(3000)]);
    const plan = planFires(base, now, deps());
    expect(plan.nextFireTime).toEqual(at(4000));
    expect(plan.lastFireTime).toEqual(at(3000));
  });

  it('a fire time equal to now is due; nothing is due before it', () => {
    expect(planFires(base, at(0), deps()).fires).toHaveLength(1);
    const early = planFires(base, at(-1), deps());
    expect(early.fires).toEqual([]);
    expect(early.nextFireTime).toEqual(at(0));
  });

  it('an exhausted trigger plans the last fire time and no next', () => {
    const ending = testSchedule({ trigger: intervalTrigger(T0, 1000, T0 + 2000), nextFireTime: at(2000) });
    const plan = planFires(ending, at(5000), deps());
    expect(plan.fires.map((f) => f.fireTime)).toEqual([at(2000)]);
    expect(plan.nextFireTime).toBeNull();
  });

  it('jitter is bounded by min(maxJitter, next − fire); start deadline = fire + jitter + grace', () => {
    const jittery = { ...base, maxJitterMs: 5000, misfireGraceTimeMs: 200 };
    const [fire] = planFires(jittery, at(0), deps(() => 0.999_999)).fires;
    // The next fire time is 1 s away, so 1 s (exclusive) bounds the jitter, not maxJitter.
    expect(fire).toEqual({ fireTime: at(0), jitterMs: 999, runAt: at(999), startDeadline: at(1199) });
    const [small] = planFires({ ...jittery, maxJitterMs: 100 }, at(0), deps(() => 0.5)).fires;
    expect(small!.jitterMs).toBe(50);
    const [none] = planFires({ ...base, maxJitterMs: 0 }, at(0), deps(() => 0.9)).fires;
    expect(none).toMatchObject({ jitterMs: 0, startDeadline: null });
  });

  it('property: jitter ∈ [0, min(maxJitter, next − fire)) and fires are in order for every policy', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 10_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 50_000 }),
        fc.constantFrom('earliest' as const, 'latest' as const, 'all' as const),
        fc.array(fc.double({ min: 0, max: 0.999_999_9, noNaN: true }), { minLength: 1, maxLength: 5 }),
        (everyMs, maxJitterMs, elapsed, coalesce, randoms) => {
          const schedule = testSchedule({ trigger: intervalTrigger(T0, everyMs), nextFireTime: at(0), maxJitterMs, coalesce });
          const plan = planFires(schedule, at(elapsed), deps(sequenceRandom(randoms)));
          const bound = Math.min(maxJitterMs, everyMs);
          for (const fire of plan.fires) {
            expect(fire.jitterMs).toBeGreaterThanOrEqual(0);
            if (bound > 0) expect(fire.jitterMs).toBeLessThan(bound);
            else expect(fire.jitterMs).toBe(0);
            expect(fire.runAt.getTime()).toBe(fire.fireTime.getTime() + fire.jitterMs);
            expect(fire.fireTime.getTime()).toBeLessThanOrEqual(T0 + elapsed);
          }
          expect(plan.fires.length).toBe(coalesce === 'all' ? Math.floor(elapsed / everyMs) + 1 : 1);
          expect(plan.nextFireTime!.getTime()).toBeGreaterThan(T0 + elapsed);
        },
      ),
    );
  });

  it(`collects at most ${MAX_DUE_FIRE_TIMES} missed fire times, then skips to the first after now`, () => {
    const dense = testSchedule({ trigger: intervalTrigger(T0, 1), nextFireTime: at(0), coalesce: 'all' });
    const plan = planFires(dense, at(50_000), deps());
    expect(plan.fires).toHaveLength(MAX_DUE_FIRE_TIMES);
    expect(plan.nextFireTime).toEqual(at(50_001));
  });

  it('delays are clamped to what setTimeout honours', () => {
    expect(delayUntil(at(5), T0)).toBe(5);
    expect(delayUntil(at(-5), T0)).toBe(0);
    expect(delayUntil(at(60 * 86_400_000), T0)).toBe(MAX_TIMER_DELAY_MS);
  });
});
