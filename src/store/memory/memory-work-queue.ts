/**
 * The in-process work queue behind the memory backend's dispatch, with the semantics of a JetStream
 * work-queue stream and one durable pull consumer (explicit ack) as observed on nats-server 2.9.10
 * (see `job-queue.ts`): dedup by job id within a window, redelivery after the ack wait, `working()`
 * restarts it, `nak(delay)` defers it, ack/nak/working/term from a superseded delivery still act on
 * the message, and a fetch answers at once or waits for the first message.
 */
import type { StoreClock, TimerHandle } from '../clock.js';
import { levelOrder, PRIORITY_LEVELS, type PriorityLevel, type PublishOutcome, type QueueDelivery, type QueueFetchOptions, type QueueMessage } from '../job-queue.js';

interface QueuedJob {
  seq: number;
  jobId: string;
  level: PriorityLevel;
  data: Uint8Array;
  deliveryCount: number;
  /** ready: can be delivered; inflight: awaiting ack; delayed: nak'd with a delay. */
  state: 'ready' | 'inflight' | 'delayed';
  timer: TimerHandle | null;
}

interface Waiter {
  max: number;
  resolve: (deliveries: QueueDelivery[]) => void;
}

export class MemoryWorkQueue {
  #lastSeq = 0;
  readonly #jobs = new Map<number, QueuedJob>();
  /** The queued message of each job id (for `peek`). */
  readonly #byJob = new Map<string, number>();
  /** Message ids seen within the duplicate window, oldest first, with when they were published. */
  readonly #recentIds = new Map<string, number>();
  /** Per priority level, sequences that can be delivered, in delivery order (redeliveries go to the front, like NATS). */
  readonly #ready = new Map<PriorityLevel, ReadyList>(PRIORITY_LEVELS.map((level) => [level, new ReadyList()]));
  #fetches = 0;
  readonly #waiters: Waiter[] = [];

  constructor(
    private readonly clock: StoreClock,
    readonly ackWaitMs: number,
    readonly duplicateWindowMs: number,
  ) {}

  publish(messages: readonly QueueMessage[]): PublishOutcome[] {
    const now = this.clock.now();
    this.#forgetOldIds(now);
    const out: PublishOutcome[] = [];
    for (const { jobId, data, level = 'normal' } of messages) {
      if (this.#recentIds.has(jobId)) {
        out.push('duplicate');
        continue;
      }
      this.#recentIds.set(jobId, now);
      const seq = ++this.#lastSeq;
      this.#jobs.set(seq, { seq, jobId, level, data: data.slice(), deliveryCount: 0, state: 'ready', timer: null });
      this.#byJob.set(jobId, seq);
      this.#readyList(level).push(seq);
      out.push('queued');
    }
    this.#serveWaiters();
    return out;
  }

  /** Jobs in the queue, delivered or not (what NATS reports as messages in the stream). */
  get size(): number {
    return this.#jobs.size;
  }

  peek(jobId: string): { data: Uint8Array; seq: number } | null {
    const seq = this.#byJob.get(jobId);
    const job = seq === undefined ? undefined : this.#jobs.get(seq);
    return job ? { data: job.data.slice(), seq: job.seq } : null;
  }

  /** Up to `limit` messages in the queue, oldest first. */
  messages(limit: number): { jobId: string; data: Uint8Array; seq: number }[] {
    const out: { jobId: string; data: Uint8Array; seq: number }[] = [];
    for (const job of this.#jobs.values()) {
      if (out.length >= limit) break;
      out.push({ jobId: job.jobId, data: job.data.slice(), seq: job.seq });
    }
    return out;
  }

  fetch(max: number, opts: QueueFetchOptions = {}): Promise<QueueDelivery[]> {
    if (!Number.isInteger(max) || max < 1) return Promise.reject(new RangeError(`fetch max must be an integer >= 1, got ${max}`));
    const now = this.#take(max);
    const expiresMs = opts.expiresMs ?? 0;
    if (now.length > 0 || expiresMs <= 0 || opts.signal?.aborted) return Promise.resolve(now);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        max,
        resolve: (deliveries) => {
          this.clock.clearTimeout(timer);
          opts.signal?.removeEventListener('abort', cancel);
          resolve(deliveries);
        },
      };
      const cancel = (): void => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        waiter.resolve([]);
      };
      const timer = this.clock.setTimeout(cancel, expiresMs);
      opts.signal?.addEventListener('abort', cancel, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #forgetOldIds(now: number): void {
    for (const [id, at] of this.#recentIds) {
      if (now - at < this.duplicateWindowMs) break;
      this.#recentIds.delete(id);
    }
  }

  #readyList(level: PriorityLevel): ReadyList {
    return this.#ready.get(level) as ReadyList;
  }

  #anyReady(): boolean {
    for (const list of this.#ready.values()) if (list.size > 0) return true;
    return false;
  }

  #serveWaiters(): void {
    while (this.#waiters.length > 0 && this.#anyReady()) {
      const waiter = this.#waiters.shift() as Waiter;
      waiter.resolve(this.#take(waiter.max));
    }
  }

  /** Up to `max` deliveries, levels visited in the order of `levelOrder` (no level starves). */
  #take(max: number): QueueDelivery[] {
    const out: QueueDelivery[] = [];
    for (const level of levelOrder(this.#fetches++)) {
      const list = this.#readyList(level);
      while (out.length < max && list.size > 0) {
        const job = this.#jobs.get(list.shift());
        if (!job || job.state !== 'ready') continue;
        out.push(this.#deliver(job));
      }
      if (out.length >= max) break;
    }
    return out;
  }

  #deliver(job: QueuedJob): QueueDelivery {
    job.state = 'inflight';
    job.deliveryCount++;
    const delivered = job.deliveryCount;
    this.#arm(job, this.ackWaitMs);
    // As on nats-server 2.9.10: nak, working and term act on the message whichever of its deliveries
    // sends them (a superseded one included), as long as it is in the queue.
    const current = (): boolean => this.#jobs.get(job.seq) === job;
    return {
      jobId: job.jobId,
      data: job.data.slice(),
      seq: job.seq,
      deliveryCount: delivered,
      ack: () => {
        if (this.#jobs.get(job.seq) === job) this.#remove(job);
      },
      nak: (delayMs = 0) => {
        if (!current()) return;
        if (delayMs > 0) {
          job.state = 'delayed';
          this.#arm(job, delayMs);
        } else {
          this.#makeReady(job);
        }
      },
      working: () => {
        if (current() && job.state === 'inflight') this.#arm(job, this.ackWaitMs);
      },
      term: () => {
        if (current()) this.#remove(job);
      },
    };
  }

  #remove(job: QueuedJob): void {
    this.#disarm(job);
    this.#jobs.delete(job.seq);
    if (this.#byJob.get(job.jobId) === job.seq) this.#byJob.delete(job.jobId);
  }

  /** Back to the queue, at the front (NATS redelivers before new messages). */
  #makeReady(job: QueuedJob): void {
    if (this.#jobs.get(job.seq) !== job) return;
    this.#disarm(job);
    job.state = 'ready';
    this.#readyList(job.level).unshift(job.seq);
    this.#serveWaiters();
  }

  #arm(job: QueuedJob, ms: number): void {
    this.#disarm(job);
    job.timer = this.clock.setTimeout(() => this.#makeReady(job), ms);
  }

  #disarm(job: QueuedJob): void {
    if (job.timer !== null) this.clock.clearTimeout(job.timer);
    job.timer = null;
  }
}

/** A FIFO of sequences with O(1) shift and unshift (a head index into an array, compacted now and then). */
class ReadyList {
  #items: number[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(seq: number): void {
    this.#items.push(seq);
  }

  unshift(seq: number): void {
    if (this.#head > 0) this.#items[--this.#head] = seq;
    else this.#items.unshift(seq);
  }

  shift(): number {
    const seq = this.#items[this.#head++] as number;
    // Compact once the consumed head dominates, so the array does not grow without bound.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return seq;
  }
}
