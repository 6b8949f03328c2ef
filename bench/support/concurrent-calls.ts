/**
 * N calls with at most `concurrency` in flight (how the bench creates thousands of schedules: one
 * `addSchedule` / `upsertJobScheduler` per schedule, many at once). A failed call, or no call
 * finishing for `stallMs`, ends the lot; the report says how far it got.
 */
import { wallNow } from './clock.js';
import { describeError } from './producer.js';

export interface CallsReport {
  done: number;
  seconds: number;
  /** "stalled after N of M …" or the first error. */
  failure?: string;
}

export async function runConcurrently(
  count: number,
  concurrency: number,
  call: (i: number) => Promise<unknown>,
  opts: { stallMs: number; what: string },
): Promise<CallsReport> {
  const t0 = wallNow();
  let next = 0;
  let done = 0;
  let failure: string | undefined;
  let lastDoneAt = Date.now();
  let watchdog: NodeJS.Timeout | undefined;
  const stalled = new Promise<void>((resolve) => {
    watchdog = setInterval(() => {
      if (Date.now() - lastDoneAt >= opts.stallMs) {
        failure ??= `${opts.what}: stalled after ${done} of ${count} (no call finished for ${Math.round(opts.stallMs / 1000)} s)`;
        resolve();
      }
    }, 250);
  });
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < count) {
      const i = next++;
      try {
        await call(i);
        done++;
        lastDoneAt = Date.now();
      } catch (error) {
        failure ??= `${opts.what}: failed after ${done} of ${count}: ${describeError(error)}`;
      }
    }
  };
  try {
    await Promise.race([Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, lane)), stalled]);
  } finally {
    clearInterval(watchdog);
  }
  const report: CallsReport = { done, seconds: (wallNow() - t0) / 1000 };
  if (failure !== undefined) report.failure = failure;
  return report;
}
