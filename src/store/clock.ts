/**
 * The time source of a store. The memory backend counts TTLs and redelivery timers on it, so a test
 * can inject a simulated clock; the NATS backend's TTLs run on the server, and it only uses the clock
 * for client-side timers (renewals, sweeps, waits).
 */

/** Opaque handle returned by `StoreClock.setTimeout`. */
export type TimerHandle = unknown;

export interface StoreClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * Real time. Timers are unref'd: a store's housekeeping (sweeps, renewals, redelivery) must never
 * be the only thing keeping a process alive.
 */
export const systemClock: StoreClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, Math.max(0, ms));
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
