/**
 * The dispatch queue both backends provide: a work queue of job messages (the encoded job record
 * travels in the message, so a worker needs no read to learn what to run) with one shared consumer,
 * so the queue — not a race between workers — splits jobs among them.
 *
 * Semantics (JetStream work-queue stream + durable pull consumer, explicit ack, as observed on
 * nats-server 2.9.10; the memory backend emulates them):
 * - `publish` is deduplicated by message id within the duplicate window: a second message with the
 *   same id answers `duplicate` and is not queued (a job id is its message id, so re-adding the same
 *   job or re-firing the same fire time queues it once).
 * - a delivery not acked within the ack wait comes back (deliveryCount + 1); `working()` restarts the
 *   ack wait; `nak(delay)` makes it deliverable again after `delay`; `ack()` removes it for good.
 * - ack, nak, working and term from a superseded delivery still act on the message (the server
 *   acts by stream sequence): the queue is no fence, the job's key is.
 * - ack, nak, working and term are one-way messages: the job's key, not the queue, says whether a job
 *   is finished, so a lost ack only costs a redelivery that finds the job done.
 */

/** Priority levels of the queue, highest first; a job's `priority` maps to one (see `priorityLevel`). */
export const PRIORITY_LEVELS = ['high', 'normal', 'low'] as const;
export type PriorityLevel = (typeof PRIORITY_LEVELS)[number];

/** > 0 → high, 0 (or none) → normal, < 0 → low. */
export function priorityLevel(priority: number | undefined): PriorityLevel {
  if (priority === undefined || priority === 0) return 'normal';
  return priority > 0 ? 'high' : 'low';
}

/**
 * The order a worker's fetch visits the levels in: highest first, except that every
 * `LOWER_FIRST_EVERY`-th fetch starts from the lowest — so with the higher levels always busy, the
 * lower ones still get a share (they never starve), and with them idle a fetch costs nothing extra.
 */
export const LOWER_FIRST_EVERY = 8;
export function levelOrder(fetchNumber: number): readonly PriorityLevel[] {
  return fetchNumber % LOWER_FIRST_EVERY === LOWER_FIRST_EVERY - 1 ? ['low', 'normal', 'high'] : PRIORITY_LEVELS;
}

/** One job message to publish. */
export interface QueueMessage {
  jobId: string;
  /** The encoded job record. */
  data: Uint8Array;
  /** @defaultValue 'normal' */
  level?: PriorityLevel;
}

/** What the queue did with a published message. */
export type PublishOutcome = 'queued' | 'duplicate';

/** One delivery of a job message to a worker. */
export interface QueueDelivery {
  /** The job id the message was published for (from its subject). */
  readonly jobId: string;
  readonly data: Uint8Array;
  /** Stream sequence of the message: the same for every redelivery of it. */
  readonly seq: number;
  /** 1 on first delivery; +1 on each redelivery (after ack wait or nak). */
  readonly deliveryCount: number;
  // Functions, not methods: a delivery's answers are closures over its reply subject, passed on unbound.
  /** Removes the message from the queue (one-way). */
  readonly ack: () => void;
  /** Returns the message to the queue, deliverable again after `delayMs` (default 0). */
  readonly nak: (delayMs?: number) => void;
  /** Restarts the ack wait: sent with each lease renewal of a long job. */
  readonly working: () => void;
  /** Removes the message for good without success semantics (poison message). */
  readonly term: () => void;
}

export interface QueueFetchOptions {
  /**
   * How long to wait for a first message when none is available; 0 = answer at once. Once one
   * arrives the fetch returns with it plus whatever else is available at once (up to `max`).
   * @defaultValue 0
   */
  expiresMs?: number;
  /** Ends the wait early with nothing; late deliveries are handed back to the queue. */
  signal?: AbortSignal;
}

export interface JobQueue {
  /** Queues each message (pipelined; one round trip of latency for the lot). */
  publish(messages: readonly QueueMessage[]): Promise<PublishOutcome[]>;
  /** Up to `max` deliveries (max >= 1). */
  fetch(max: number, opts?: QueueFetchOptions): Promise<QueueDelivery[]>;
  /** The message of `jobId` still in the queue (delivered or not), or null. */
  peek(jobId: string): Promise<{ data: Uint8Array; seq: number } | null>;
  /** Messages in the queue (delivered and unacked ones included). */
  depth(): Promise<number>;
  /** Up to `limit` messages in the queue, oldest first (for listings; reads one by one on NATS). */
  messages(limit: number): Promise<{ jobId: string; data: Uint8Array; seq: number }[]>;
}
