/**
 * Job results, write-once: `create` refuses a second result for the same job, so a runner that was
 * fenced off (lost its lease) can never overwrite the result of the runner that replaced it.
 *
 * Retention: nats-server 2.9 has no per-key TTL (it needs >= 2.11) and a bucket TTL would give every
 * result the same lifetime and restart on each write, so each result carries its own `expiresAt`
 * inside the record's data, reads treat an expired result as absent at once, and `sweep()` deletes
 * expired ones (the backend runs it periodically on one node at a time, see `store-backend.ts`).
 */
import { DeserializationError, decodeRecord, encodeRecord } from '../codec/index.js';
import type { JobResult } from '../records.js';
import type { StoreClock, TimerHandle } from './clock.js';
import type { KvBucket } from './kv-bucket.js';
import { RecordRepository, type Listing, type Stored } from './record-repository.js';
import { CorruptRecordError } from './store-errors.js';
import { encodeKeyToken } from './store-keys.js';

/** A result with its retention deadline (null = kept until deleted). */
export interface StoredResult extends Stored<JobResult> {
  expiresAt: Date | null;
}

interface RetainedResult {
  result: JobResult;
  expiresAt: Date | null;
}

export interface WaitForResultOptions {
  /** Give up and resolve null after this long. @defaultValue no timeout */
  timeoutMs?: number;
  /** Rejects with the signal's reason when aborted. */
  signal?: AbortSignal;
  /** Re-read the key this often, covering a watch that missed an update (e.g. during a reconnect). @defaultValue 2000 */
  pollIntervalMs?: number;
}

const resultFormat = {
  encode({ result, expiresAt }: RetainedResult): Uint8Array {
    const data: JobResult & { expiresAt: Date | null } = { ...result, expiresAt };
    return encodeRecord('result', data);
  },
  decode(bytes: Uint8Array): RetainedResult {
    const { expiresAt, ...result } = decodeRecord('result', bytes) as JobResult & { expiresAt?: unknown };
    if (expiresAt !== undefined && expiresAt !== null && !(expiresAt instanceof Date && !Number.isNaN(expiresAt.getTime()))) {
      throw new DeserializationError('result', 'field "expiresAt" must be a Date or null');
    }
    return { result, expiresAt: expiresAt ?? null };
  },
  idOf: ({ result }: RetainedResult) => result.jobId,
};

export class ResultRepository {
  readonly #records: RecordRepository<RetainedResult>;

  constructor(
    private readonly bucket: KvBucket,
    private readonly clock: StoreClock,
    onCorrupt: (error: CorruptRecordError) => void,
  ) {
    this.#records = new RecordRepository(bucket, 'results', resultFormat, onCorrupt);
  }

  /**
   * Writes the result of `result.jobId` if none exists yet (write-once); null when one does.
   * `ttlMs` is how long it is kept (null = until deleted).
   */
  async create(result: JobResult, opts: { ttlMs: number | null }): Promise<StoredResult | null> {
    if (opts.ttlMs !== null && !(opts.ttlMs >= 0)) {
      throw new RangeError(`result TTL of job "${result.jobId}" must be >= 0 ms or null (keep), got ${opts.ttlMs}`);
    }
    const expiresAt = opts.ttlMs === null ? null : new Date(this.clock.now() + opts.ttlMs);
    const stored = await this.#records.create({ result, expiresAt });
    return stored && { record: result, revision: stored.revision, expiresAt };
  }

  /** The result of `jobId`, or null when there is none or it has expired. Throws `CorruptRecordError`. */
  async get(jobId: string): Promise<StoredResult | null> {
    const stored = await this.#records.get(jobId);
    return stored && this.#unlessExpired(stored);
  }

  /** Deletes the result of `jobId` (at `expectedRevision` when given). */
  delete(jobId: string, expectedRevision?: number): Promise<boolean> {
    return this.#records.delete(jobId, expectedRevision);
  }

  /** Unexpired results plus the corrupt ones. */
  async list(): Promise<Listing<JobResult> & { items: StoredResult[] }> {
    const { items, failures } = await this.#records.list();
    return { items: items.flatMap((s) => this.#unlessExpired(s) ?? []), failures };
  }

  /**
   * Deletes every expired result (each at the revision it was read); resolves to how many.
   * `onSwept` runs for each deleted one (the backend deletes the job's record with it).
   */
  async sweep(onSwept?: (jobId: string) => Promise<unknown>): Promise<number> {
    const { items } = await this.#records.list();
    const now = this.clock.now();
    let deleted = 0;
    for (const { record, revision } of items) {
      if (record.expiresAt === null || record.expiresAt.getTime() > now) continue;
      if (await this.#records.delete(record.result.jobId, revision)) {
        deleted++;
        await onSwept?.(record.result.jobId);
      }
    }
    return deleted;
  }

  /**
   * Resolves with the result of `jobId` as soon as it exists (watching its key), or null after
   * `timeoutMs`. Rejects with `CorruptRecordError` if the result written is undecodable.
   */
  waitFor(jobId: string, opts: WaitForResultOptions = {}): Promise<JobResult | null> {
    const { timeoutMs, signal, pollIntervalMs = 2000 } = opts;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<JobResult | null>((resolve, reject) => {
      let settled = false;
      let stopWatch: (() => void) | null = null;
      let timeout: TimerHandle | null = null;
      let poll: TimerHandle | null = null;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        stopWatch?.();
        if (timeout !== null) this.clock.clearTimeout(timeout);
        if (poll !== null) this.clock.clearTimeout(poll);
        signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = (): void => finish(() => reject(signal?.reason));
      const check = (): void => {
        this.get(jobId).then(
          (stored) => stored && finish(() => resolve(stored.record)),
          (err: unknown) => err instanceof CorruptRecordError && finish(() => reject(err)),
        );
      };
      const schedulePoll = (): void => {
        poll = this.clock.setTimeout(() => {
          check();
          if (!settled) schedulePoll();
        }, pollIntervalMs);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) timeout = this.clock.setTimeout(() => finish(() => resolve(null)), timeoutMs);
      schedulePoll();
      this.bucket
        .watch(encodeKeyToken(jobId), (change) => change.operation === 'put' && check(), { includeCurrent: true })
        .then(
          (stop) => (settled ? stop() : (stopWatch = stop)),
          // Without a watch the poll still finds the result; only a closed store ends the wait.
          () => check(),
        );
    });
  }

  #unlessExpired(stored: Stored<RetainedResult>): StoredResult | null {
    const { result, expiresAt } = stored.record;
    if (expiresAt !== null && expiresAt.getTime() <= this.clock.now()) return null;
    return { record: result, revision: stored.revision, expiresAt };
  }
}
