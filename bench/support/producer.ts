/**
 * The producer's two loads, shared by the bench process (NATS and BullMQ producers) and the
 * memory-store process: pre-filling N jobs in chunks, and a steady trickle of single adds.
 */
import { ownCpuMicros } from './process-cpu.js';
import { sleep, wallNow } from './clock.js';
import type { BenchJobArgs, PrefillReport, TrickleReport } from './protocol.js';

export interface JobSink {
  /** Adds `count` no-op jobs in one call (`rt.addJobs`, `queue.addBulk`). */
  addBatch(count: number): Promise<void>;
  /** Adds one no-op job with these args. */
  addOne(args: BenchJobArgs): Promise<void>;
}

/** Adds `total` jobs, `chunk` per call, one call at a time; a call that hangs for `stallMs` ends it. */
export async function prefill(sink: JobSink, total: number, chunk: number, stallMs: number): Promise<PrefillReport> {
  const cpu0 = ownCpuMicros();
  const t0 = wallNow();
  let added = 0;
  let failure: string | undefined;
  while (added < total) {
    const count = Math.min(chunk, total - added);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        sink.addBatch(count),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`an add of ${count} jobs did not resolve within ${stallMs / 1000} s`)), stallMs);
        }),
      ]);
      added += count;
    } catch (error) {
      failure = `pre-fill stopped after ${added} of ${total}: ${describeError(error)}`;
      break;
    } finally {
      clearTimeout(timer);
    }
  }
  const report: PrefillReport = { added, seconds: (wallNow() - t0) / 1000, cpuMicros: ownCpuMicros() - cpu0 };
  if (failure !== undefined) report.failure = failure;
  return report;
}

/**
 * Adds single jobs at `rate` per second for `seconds`, each stamped with `addedAt` just before its
 * add. Adds are not awaited one by one (a producer does not wait for its previous add); a timer
 * checks every millisecond how many are due, so jobs leave one every 1000/rate ms on average.
 */
export async function trickle(sink: JobSink, rate: number, seconds: number): Promise<TrickleReport> {
  const total = Math.round(rate * seconds);
  let issued = 0;
  let added = 0;
  let failed = 0;
  let firstError: string | undefined;
  const t0 = wallNow();
  while (issued < total) {
    const due = Math.min(total, Math.floor(((wallNow() - t0) * rate) / 1000) + 1);
    while (issued < due) {
      issued++;
      sink.addOne({ addedAt: wallNow() }).then(
        () => void added++,
        (error: unknown) => {
          failed++;
          firstError ??= describeError(error);
        },
      );
    }
    await sleep(1);
  }
  const seconds_ = (wallNow() - t0) / 1000;
  // Give the last adds a moment to resolve before counting them.
  for (let i = 0; i < 500 && added + failed < issued; i++) await sleep(10);
  const report: TrickleReport = { issued, added, failed, seconds: seconds_, pending: issued - added - failed };
  if (firstError !== undefined) report.firstError = firstError;
  return report;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
