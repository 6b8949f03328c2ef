/**
 * The schedule host's one timer heap, under vitest's fake timers (Date and setTimeout faked, so
 * the heap's `now` and its one Node timer run on the same simulated time).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { vi } from 'vitest';
import { MAX_TIMER_DELAY_MS } from '../../src/machines/schedule-fires.js';
import { TimerHeap } from '../../src/actors/timer-heap.js';

const T0 = Date.UTC(2025, 0, 1);

function heap() {
  const due: { key: string; at: number }[] = [];
  const timers = new TimerHeap(() => Date.now(), (key) => void due.push({ key, at: Date.now() - T0 }));
  return { timers, due, keys: () => due.map((d) => d.key) };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('TimerHeap', () => {
  it('calls each key at its time, in due order, whatever the arming order', () => {
    const { timers, due } = heap();
    timers.arm('c', T0 + 300);
    timers.arm('a', T0 + 100);
    timers.arm('b', T0 + 200);
    expect(timers.size).toBe(3);
    vi.advanceTimersByTime(99);
    expect(due).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(due).toEqual([{ key: 'a', at: 100 }]);
    vi.advanceTimersByTime(300);
    expect(due).toEqual([
      { key: 'a', at: 100 },
      { key: 'b', at: 200 },
      { key: 'c', at: 300 },
    ]);
    expect(timers.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keys due at the same instant all fire in one wake-up; a time already past fires at once', () => {
    const { timers, keys } = heap();
    timers.arm('x', T0 + 50);
    timers.arm('y', T0 + 50);
    timers.arm('past', T0 - 10_000);
    vi.advanceTimersByTime(0);
    expect(keys()).toEqual(['past']);
    vi.advanceTimersByTime(50);
    expect(keys().slice(1).sort()).toEqual(['x', 'y']);
  });

  it('re-arming a key replaces its time, later or earlier; it fires once', () => {
    const { timers, due } = heap();
    timers.arm('later', T0 + 100);
    timers.arm('later', T0 + 500);
    timers.arm('earlier', T0 + 400);
    timers.arm('earlier', T0 + 50);
    expect(timers.size).toBe(2);
    vi.advanceTimersByTime(1000);
    expect(due).toEqual([
      { key: 'earlier', at: 50 },
      { key: 'later', at: 500 },
    ]);
  });

  it('a disarmed key never fires; the others still do', () => {
    const { timers, keys } = heap();
    timers.arm('a', T0 + 100);
    timers.arm('b', T0 + 200);
    timers.disarm('a');
    timers.disarm('never-armed');
    expect(timers.size).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(keys()).toEqual(['b']);
    // Disarmed then armed again: the new arming counts.
    timers.arm('a', Date.now() + 10);
    timers.disarm('a');
    timers.arm('a', Date.now() + 20);
    vi.advanceTimersByTime(100);
    expect(keys()).toEqual(['b', 'a']);
  });

  it('a key armed from inside its own call fires again at its new time', () => {
    const due: number[] = [];
    const timers: TimerHeap = new TimerHeap(
      () => Date.now(),
      (key) => {
        due.push(Date.now() - T0);
        if (due.length < 3) timers.arm(key, Date.now() + 1000);
      },
    );
    timers.arm('every-second', T0 + 1000);
    vi.advanceTimersByTime(10_000);
    expect(due).toEqual([1000, 2000, 3000]);
  });

  it('many keys: each fires once, at its time, in due order, on one Node timer', () => {
    const { timers, due } = heap();
    const times = new Map<string, number>();
    // A deterministic shuffle of 10,000 due times over 100 s (many share an instant).
    for (let i = 0; i < 10_000; i++) {
      const at = ((i * 7919) % 10_000) * 10;
      times.set(`k${i}`, at);
      timers.arm(`k${i}`, T0 + at);
    }
    // Re-arm a tenth of them later, disarm another tenth.
    for (let i = 0; i < 10_000; i += 10) {
      times.set(`k${i}`, times.get(`k${i}`)! + 5);
      timers.arm(`k${i}`, T0 + times.get(`k${i}`)!);
      timers.disarm(`k${i + 1}`);
      times.delete(`k${i + 1}`);
    }
    expect(timers.size).toBe(9000);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(200_000);
    expect(due).toHaveLength(9000);
    expect(new Set(due.map((d) => d.key)).size).toBe(9000);
    expect(due.filter(({ key, at }) => at !== times.get(key))).toEqual([]);
    expect(due.filter((d, i) => i > 0 && d.at < due[i - 1]!.at)).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a time beyond what setTimeout honours wakes early without firing, re-arms, and fires on time', () => {
    const { timers, due } = heap();
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const far = 3 * MAX_TIMER_DELAY_MS + 12_345; // ~75 days
    timers.arm('far', T0 + far);
    expect(vi.getTimerCount()).toBe(1);
    // Checked before time moves: an unclamped delay would fire after 1 ms, over and over.
    expect(setTimeoutSpy.mock.calls.at(-1)?.[1]).toBe(MAX_TIMER_DELAY_MS);
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS);
    expect(due).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(2 * MAX_TIMER_DELAY_MS);
    expect(due).toEqual([]);
    vi.advanceTimersByTime(12_344);
    expect(due).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(due).toEqual([{ key: 'far', at: far }]);
    // Never a delay above the clamp (Node would fire a larger one after 1 ms).
    const delays = setTimeoutSpy.mock.calls.map((call) => call[1] ?? 0);
    expect(delays.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...delays)).toBe(MAX_TIMER_DELAY_MS);
    setTimeoutSpy.mockRestore();
  });

  it('a nearer key armed while a clamped wait is pending fires at its own time', () => {
    const { timers, due } = heap();
    timers.arm('far', T0 + 10 * MAX_TIMER_DELAY_MS);
    timers.arm('near', T0 + 500);
    vi.advanceTimersByTime(500);
    expect(due).toEqual([{ key: 'near', at: 500 }]);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('stop: nothing fires after, arming is ignored, no timer is left', () => {
    const { timers, due } = heap();
    timers.arm('a', T0 + 100);
    timers.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(timers.size).toBe(0);
    timers.arm('b', T0 + 100);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(due).toEqual([]);
  });

  it('stop from inside a call: the keys due at the same instant after it do not fire', () => {
    const due: string[] = [];
    const timers: TimerHeap = new TimerHeap(
      () => Date.now(),
      (key) => {
        due.push(key);
        timers.stop();
      },
    );
    timers.arm('a', T0 + 10);
    timers.arm('b', T0 + 10);
    vi.advanceTimersByTime(100);
    expect(due).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the Node timer does not keep the process alive (unref)', () => {
    vi.useRealTimers();
    const timers = new TimerHeap(() => Date.now(), () => {});
    const spy = vi.spyOn(globalThis, 'setTimeout');
    timers.arm('a', Date.now() + 60_000);
    const handle = spy.mock.results[0]?.value as NodeJS.Timeout;
    expect(handle.hasRef()).toBe(false);
    timers.stop();
    spy.mockRestore();
  });
});
