/**
 * Waiting for job results with one watch per node instead of one per waiting caller: `runJob` for
 * 2,000 jobs must not open 2,000 watchers (on NATS each is a consumer on the server). The watch is
 * opened on first use; every change wakes the waiters of that key, which then read the result
 * through the repository (so expiry and corrupt records are handled in one place). A slow poll
 * covers a watch that missed something across a reconnect, and reads that fail for lack of an
 * answer from the store are simply asked again by it.
 */
import type { JobResult } from '../records.js';
import { CorruptRecordError, encodeKeyToken, tryDecodeKeyToken, type StoreBackend } from '../store/index.js';

interface Waiter {
  resolve: (result: JobResult | null) => void;
  reject: (error: unknown) => void;
}

const REPOLL_MS = 2_000;

export class ResultWaiters {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private stopWatch: Promise<() => void> | null = null;
  private repoll: NodeJS.Timeout | null = null;

  constructor(private readonly backend: StoreBackend) {}

  /** Resolves with the result once it exists, or null after `timeoutMs` (undefined = wait forever). */
  async wait(jobId: string, timeoutMs?: number): Promise<JobResult | null> {
    await this.ensureWatching();
    return new Promise<JobResult | null>((resolve, reject) => {
      const key = encodeKeyToken(jobId);
      let timer: NodeJS.Timeout | null = null;
      const waiter: Waiter = {
        resolve: (r) => {
          if (timer) clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          if (timer) clearTimeout(timer);
          reject(e);
        },
      };
      let set = this.waiters.get(key);
      if (!set) this.waiters.set(key, (set = new Set()));
      set.add(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.remove(key, waiter);
          resolve(null);
        }, timeoutMs);
      }
      // The result may have been written before the watch saw anything.
      this.check(key, jobId);
    });
  }

  /** Ends every wait with null and closes the watch. */
  async close(): Promise<void> {
    if (this.repoll) clearInterval(this.repoll);
    this.repoll = null;
    for (const set of this.waiters.values()) for (const w of set) w.resolve(null);
    this.waiters.clear();
    const stop = this.stopWatch;
    this.stopWatch = null;
    if (stop) (await stop.catch(() => () => undefined))();
  }

  private ensureWatching(): Promise<() => void> {
    if (!this.stopWatch) {
      this.stopWatch = this.backend.buckets.results.watch('>', (change) => {
        if (change.operation === 'put' && this.waiters.has(change.key)) this.check(change.key);
      });
      this.stopWatch.catch(() => {
        this.stopWatch = null;
      });
      this.repoll = setInterval(() => {
        for (const key of this.waiters.keys()) this.check(key);
      }, REPOLL_MS);
      this.repoll.unref();
    }
    return this.stopWatch;
  }

  private check(key: string, jobId?: string): void {
    const id = jobId ?? tryDecodeKeyToken(key) ?? key;
    this.backend.results.get(id).then(
      (stored) => {
        if (!stored) return;
        const set = this.waiters.get(key);
        this.waiters.delete(key);
        for (const w of set ?? []) w.resolve(stored.record);
      },
      (error: unknown) => {
        // A store that does not answer (restart, reconnect) is not an answer: the repoll asks
        // again. Only a result that exists but cannot be read ends the wait.
        if (!(error instanceof CorruptRecordError)) return;
        const set = this.waiters.get(key);
        this.waiters.delete(key);
        for (const w of set ?? []) w.reject(error);
      },
    );
  }

  private remove(key: string, waiter: Waiter): void {
    const set = this.waiters.get(key);
    set?.delete(waiter);
    if (set?.size === 0) this.waiters.delete(key);
  }
}
