/**
 * How workers learn that there is a job: a work queue of job ids with one shared consumer, so the
 * queue (not a race between workers) splits jobs among them. A worker fetches at most as many
 * deliveries as it has free slots; a delivery stays "in flight" until acked, and comes back to the
 * queue if it is not acked within the ack wait (its worker vanished), after `nak(delay)`, or never
 * if acked. The job lease, not the queue, guarantees a single runner: a redelivered job whose lease
 * is still held is nak'd with a delay by whoever fetched it.
 */

/** One delivery of a job id to a worker. */
export interface JobDelivery {
  readonly jobId: string;
  /** 1 on first delivery; +1 on each redelivery (after ack wait or nak). */
  readonly deliveryCount: number;
  /** Removes the job from the queue; resolves once the queue confirmed it. */
  ack(): Promise<void>;
  /** Returns the job to the queue, deliverable again after `delayMs` (default 0). */
  nak(delayMs?: number): void;
  /** Restarts the ack wait: call it while a long job runs (e.g. on each lease renewal). */
  working(): void;
  /** Removes the job from the queue for good without success semantics (poison message). */
  term(): void;
}

export interface FetchOptions {
  /**
   * How long to wait for a first job when the queue is empty; 0 = return at once. Once one job
   * arrives the fetch returns with it plus whatever else is immediately available (up to `max`).
   * @defaultValue 0
   */
  expiresMs?: number;
  /** Ends the wait early with whatever was fetched (nothing); late deliveries are returned to the queue. */
  signal?: AbortSignal;
}

export interface JobDispatch {
  /** Puts a job id on the queue and notifies idle workers. */
  enqueue(jobId: string): Promise<void>;
  /** Fetches up to `max` deliveries (max >= 1). */
  fetch(max: number, opts?: FetchOptions): Promise<JobDelivery[]>;
  /** Calls `listener` whenever a job is enqueued anywhere in the cluster (best effort, no payload). */
  onJobAvailable(listener: () => void): () => void;
}
