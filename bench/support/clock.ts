/**
 * Wall-clock milliseconds with sub-millisecond resolution. `performance.timeOrigin` is the process's
 * start on the system clock, so two processes on one machine agree to well under a millisecond: the
 * bench stamps a job in one process and the worker reads the stamp in another.
 */
export const wallNow = (): number => performance.timeOrigin + performance.now();

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`, or a rejection naming `what` after `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
