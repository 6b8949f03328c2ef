/**
 * Simulated time for machine tests: XState's SimulatedClock, plus helpers that let promise-based
 * fakes settle between timer firings, so a test walks through hours of simulated time in ms.
 */
import { SimulatedClock } from 'xstate';

interface PendingTimeout {
  start: number;
  timeout: number;
}

/** Lets every queued promise continuation (fake effects resolving, actors reacting) run. */
export async function settle(rounds = 1): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Due instant of the earliest pending timer, if any. Reads SimulatedClock's private table: the
 * class offers no public query, and stepping timer by timer is what makes simulated time faithful
 * (a timer set while others fire starts at the new `now`, as it would in real time).
 */
export function nextTimerDue(clock: SimulatedClock): number | undefined {
  const timeouts = (clock as unknown as { timeouts: Map<number, PendingTimeout> }).timeouts;
  let next: number | undefined;
  for (const { start, timeout } of timeouts.values()) {
    const due = start + timeout;
    if (next === undefined || due < next) next = due;
  }
  return next;
}

/** Advances the clock to `target`, firing timers one due instant at a time and settling between. */
export async function advanceTo(clock: SimulatedClock, target: number): Promise<void> {
  await settle();
  for (;;) {
    const due = nextTimerDue(clock);
    if (due === undefined || due > target) break;
    clock.set(Math.max(due, clock.now()));
    await settle();
  }
  if (target > clock.now()) clock.set(target);
  await settle();
}

/** Advances the clock by `ms` (see advanceTo). */
export function advanceBy(clock: SimulatedClock, ms: number): Promise<void> {
  return advanceTo(clock, clock.now() + ms);
}

/**
 * Runs simulated time until `done()` holds, firing timers in order; fails after `limitMs` of
 * simulated time so a stalled machine fails the test instead of hanging it.
 */
export async function runUntil(
  clock: SimulatedClock,
  done: () => boolean,
  { limitMs, stepMs }: { limitMs: number; stepMs?: number },
): Promise<number> {
  const start = clock.now();
  await settle();
  while (!done()) {
    if (clock.now() - start > limitMs) throw new Error(`condition not reached within ${limitMs} ms of simulated time`);
    const due = nextTimerDue(clock);
    const step = stepMs ?? Number.POSITIVE_INFINITY;
    const target = Math.min(due ?? clock.now() + (stepMs ?? limitMs + 1), clock.now() + step);
    clock.set(Math.max(target, clock.now()));
    await settle();
  }
  return clock.now() - start;
}

/** A SimulatedClock starting at `startMs` (ms since epoch), so effect `now` values look real. */
export function createSimClock(startMs = Date.UTC(2025, 0, 1)): SimulatedClock {
  const clock = new SimulatedClock();
  clock.set(startMs);
  return clock;
}
