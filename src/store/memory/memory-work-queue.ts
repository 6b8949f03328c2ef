/**
 * The in-process work queue behind the memory backend's dispatch, with the semantics of a JetStream
 * work-queue stream and one durable pull consumer (explicit ack) as observed on nats-server 2.9.10:
 * - a delivery not acked within `ackWaitMs` is delivered again (deliveryCount + 1);
 * - `working()` restarts the ack wait, `nak(delay)` makes it deliverable after `delay`;
 * - `ack()` from any delivery of the message removes it (the server acks by stream sequence), while
 *   `nak`/`working` from a superseded delivery are ignored.
 * - a fetch returns at once with what is available, else waits for the first message.
 */
import type { StoreClock, TimerHandle } from '../clock.js';
import type { FetchOptions, JobDelivery } from '../job-dispatch.js';

interface QueuedJob {
  seq: number;
  jobId: string;
  deliveryCount: number;
  /** ready: can be delivered; inflight: awaiting ack; delayed: nak'd with a delay. */
  state: 'ready' | 'inflight' | 'delayed';
  timer: TimerHandle | null;
}

interface Waiter {
  max: number;
  resolve: (deliveries: JobDelivery[]) => void;
}

export class MemoryWorkQueue {
  #lastSeq = 0;
  readonly #jobs = new Map<number, QueuedJob>();
  /** Sequences that can be delivered, in delivery order (redeliveries go to the front, like NATS). */
  #ready: number[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #listeners = new Set<() => void>();

  constructor(
    private readonly clock: StoreClock,
    readonly ackWaitMs: number,
  ) {}

  enqueue(jobId: string): void {
    const seq = ++this.#lastSeq;
    this.#jobs.set(seq, { seq, jobId, deliveryCount: 0, state: 'ready', timer: null });
    this.#ready.push(seq);
    this.#serveWaiters();
    for (const listener of this.#listeners) queueMicrotask(listener);
  }

  onJobAvailable(listener: () => void): () => void {
    const wrapped = (): void => listener();
    this.#listeners.add(wrapped);
    return () => this.#listeners.delete(wrapped);
  }

  /** Jobs in the queue, delivered or not (what NATS reports as messages in the stream). */
  get size(): number {
    return this.#jobs.size;
  }

  fetch(max: number, opts: FetchOptions = {}): Promise<JobDelivery[]> {
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

  #serveWaiters(): void {
    while (this.#waiters.length > 0 && this.#ready.length > 0) {
      const waiter = this.#waiters.shift() as Waiter;
      waiter.resolve(this.#take(waiter.max));
    }
  }

  #take(max: number): JobDelivery[] {
    const out: JobDelivery[] = [];
    while (out.length < max && this.#ready.length > 0) {
      const job = this.#jobs.get(this.#ready.shift() as number);
      if (!job || job.state !== 'ready') continue;
      out.push(this.#deliver(job));
    }
    return out;
  }

  #deliver(job: QueuedJob): JobDelivery {
    job.state = 'inflight';
    job.deliveryCount++;
    const delivered = job.deliveryCount;
    this.#arm(job, this.ackWaitMs, () => this.#makeReady(job, true));
    const current = (): boolean => this.#jobs.get(job.seq) === job && job.state === 'inflight' && job.deliveryCount === delivered;
    return {
      jobId: job.jobId,
      deliveryCount: delivered,
      ack: async () => {
        if (this.#jobs.get(job.seq) !== job) return;
        this.#disarm(job);
        this.#jobs.delete(job.seq);
      },
      nak: (delayMs = 0) => {
        if (!current()) return;
        if (delayMs > 0) {
          job.state = 'delayed';
          this.#arm(job, delayMs, () => this.#makeReady(job, true));
        } else {
          this.#makeReady(job, true);
        }
      },
      working: () => {
        if (current()) this.#arm(job, this.ackWaitMs, () => this.#makeReady(job, true));
      },
      term: () => {
        if (!current()) return;
        this.#disarm(job);
        this.#jobs.delete(job.seq);
      },
    };
  }

  #makeReady(job: QueuedJob, front: boolean): void {
    if (this.#jobs.get(job.seq) !== job) return;
    this.#disarm(job);
    job.state = 'ready';
    if (front) this.#ready.unshift(job.seq);
    else this.#ready.push(job.seq);
    this.#serveWaiters();
  }

  #arm(job: QueuedJob, ms: number, fn: () => void): void {
    this.#disarm(job);
    job.timer = this.clock.setTimeout(fn, ms);
  }

  #disarm(job: QueuedJob): void {
    if (job.timer !== null) this.clock.clearTimeout(job.timer);
    job.timer = null;
  }
}
