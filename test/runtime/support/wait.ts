/** Polling and timing helpers for the runtime suites (real time: keep the numbers small). */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  probe: () => T | Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    await sleep(intervalMs);
  }
}

/** Tracks how many things run at once and the largest number seen. */
export class ConcurrencyProbe {
  current = 0;
  max = 0;
  /** Every change, as [time, running after the change]. */
  readonly timeline: [number, number][] = [];

  enter(): void {
    this.current++;
    this.max = Math.max(this.max, this.current);
    this.timeline.push([Date.now(), this.current]);
  }

  leave(): void {
    this.current--;
    this.timeline.push([Date.now(), this.current]);
  }

  /** Largest number running at once at or after `since`. */
  maxSince(since: number): number {
    let max = 0;
    let running = 0;
    for (const [t, n] of this.timeline) {
      if (t < since) running = n;
      else max = Math.max(max, n);
    }
    return Math.max(max, running);
  }
}

/** Resolves when `signal` aborts; rejects never. */
export function aborted(signal: AbortSignal, maxMs = 30_000): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(true);
    const timer = setTimeout(() => resolve(false), maxMs);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      { once: true },
    );
  });
}
