/**
 * Waiting for job results with one listener per node instead of one per waiting caller: the
 * node listens to the store's completion signal (one subscription, opened while anyone waits)
 * and a commit's signal carries the result itself, so a wait costs no read. Signals are at most
 * once: a slow re-read of every waited-for job covers a lost one (across a reconnect, say), and
 * reads that fail for lack of an answer from the store are simply asked again by it.
 *
 * `register` is synchronous and listening starts before it returns, so a caller that registers
 * before publishing its job (runJob) cannot miss the completion: on NATS the subscription reaches
 * the server before the job does (same connection, in order).
 */
import type { JobResult } from '../records.js';
import type { StoreBackend } from '../store/index.js';

interface Waiter {
  resolve: (result: JobResult | null) => void;
}

/** A registered wait: `result` settles with the result, or null on timeout or close. */
export interface Wait {
  readonly result: Promise<JobResult | null>;
  /** Stops waiting (resolves `result` with null). */
  cancel(): void;
}

const REPOLL_MS = 2_000;
/** Listening stays on this long after the last wait ends: a caller waiting job after job does not resubscribe each time. */
const LINGER_MS = 5_000;

export class ResultWaiters {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private stopListening: (() => void) | null = null;
  private repoll: NodeJS.Timeout | null = null;
  private linger: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly backend: StoreBackend) {}

  /** Starts waiting for `jobId` (without reading the store); null after `timeoutMs` (undefined = forever). */
  register(jobId: string, timeoutMs?: number): Wait {
    let waiter!: Waiter;
    let timer: NodeJS.Timeout | null = null;
    const result = new Promise<JobResult | null>((resolve) => {
      waiter = {
        resolve: (r) => {
          if (timer) clearTimeout(timer);
          this.remove(jobId, waiter);
          resolve(r);
        },
      };
    });
    if (this.closed) {
      waiter.resolve(null);
      return { result, cancel: () => undefined };
    }
    let set = this.waiters.get(jobId);
    if (!set) this.waiters.set(jobId, (set = new Set()));
    set.add(waiter);
    this.ensureListening();
    if (timeoutMs !== undefined) timer = setTimeout(() => waiter.resolve(null), timeoutMs);
    return { result, cancel: () => waiter.resolve(null) };
  }

  /** Resolves with the result once it exists (checking the store once now), or null after `timeoutMs`. */
  wait(jobId: string, timeoutMs?: number): Promise<JobResult | null> {
    const wait = this.register(jobId, timeoutMs);
    this.check(jobId);
    return wait.result;
  }

  /** Ends every wait with null and stops listening. */
  async close(): Promise<void> {
    this.closed = true;
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w.resolve(null);
    this.waiters.clear();
    this.stop();
  }

  private ensureListening(): void {
    if (this.linger) clearTimeout(this.linger);
    this.linger = null;
    if (this.stopListening) return;
    this.stopListening = this.backend.jobs.onDone((jobId, state) => {
      const set = this.waiters.get(jobId);
      if (!set) return;
      for (const w of [...set]) w.resolve(state.result);
    });
    this.repoll = setInterval(() => {
      for (const jobId of this.waiters.keys()) this.check(jobId);
    }, REPOLL_MS);
    this.repoll.unref();
  }

  private check(jobId: string): void {
    this.backend.jobs.result(jobId).then(
      (result) => {
        if (!result) return;
        for (const w of [...(this.waiters.get(jobId) ?? [])]) w.resolve(result);
      },
      () => {
        // A store that does not answer (restart, reconnect) is not an answer: the repoll asks
        // again. An unreadable state is not one either: the worker that takes the job replaces it
        // with a `deserialization_failed` result, whose completion ends the wait.
      },
    );
  }

  private remove(jobId: string, waiter: Waiter): void {
    const set = this.waiters.get(jobId);
    set?.delete(waiter);
    if (set?.size === 0) this.waiters.delete(jobId);
    this.stopIfIdle();
  }

  private stopIfIdle(): void {
    if (this.waiters.size > 0 || this.linger || !this.stopListening) return;
    this.linger = setTimeout(() => {
      this.linger = null;
      if (this.waiters.size === 0) this.stop();
    }, LINGER_MS);
    this.linger.unref();
  }

  private stop(): void {
    if (this.linger) clearTimeout(this.linger);
    this.linger = null;
    this.stopListening?.();
    this.stopListening = null;
    if (this.repoll) clearInterval(this.repoll);
    this.repoll = null;
  }
}
