/** Typed errors of the store layer. Messages name the offending value and how to fix it. */
import type { DeserializationError } from '../codec/index.js';

/**
 * A conditional write lost: `create` found a live key, or `update`/`delete` named a revision that is
 * no longer the key's latest (JetStream error 10071, "wrong last sequence").
 */
export class RevisionConflictError extends Error {
  override readonly name = 'RevisionConflictError';
  /**
   * The key's latest revision when the server refused the write (its last sequence on the
   * subject, a delete marker's included; 0 = no message), when the backend reports it.
   */
  readonly currentRevision: number | undefined;
  constructor(
    readonly bucket: string,
    readonly key: string,
    /** The revision the writer expected; 0 for `create`. */
    readonly expectedRevision: number,
    options?: { cause?: unknown; currentRevision?: number },
  ) {
    super(
      expectedRevision === 0
        ? `key "${key}" in bucket "${bucket}" already exists: create only writes absent keys (read it, or update it with its revision)`
        : `key "${key}" in bucket "${bucket}" is no longer at revision ${expectedRevision}: re-read it and retry with its current revision`,
      options && 'cause' in options ? { cause: options.cause } : undefined,
    );
    this.currentRevision = options?.currentRevision;
  }
}

/** Which repository a corrupt record was found in. */
export type RecordBucket = 'schedules' | 'jobs';

/** A stored value that the codec refuses; carries the id (from the key) so callers can report it. */
export class CorruptRecordError extends Error {
  override readonly name = 'CorruptRecordError';
  constructor(
    readonly bucket: RecordBucket,
    /** The record's id, decoded from its key. */
    readonly id: string,
    readonly revision: number,
    override readonly cause: DeserializationError,
  ) {
    super(
      `record "${id}" in ${bucket} (revision ${revision}) is corrupt: ${cause.reason}; delete it or rewrite it with a valid record`,
      { cause },
    );
  }
}

/** A store was opened with options that contradict each other or the buckets already on the server. */
export class StoreConfigError extends Error {
  override readonly name = 'StoreConfigError';
}

/** An id or name that cannot become a KV key or subject token. */
export class InvalidStoreKeyError extends Error {
  override readonly name = 'InvalidStoreKeyError';
}

/** An encoded value larger than the server accepts (NATS max_payload). */
export class RecordTooLargeError extends Error {
  override readonly name = 'RecordTooLargeError';
  constructor(
    readonly key: string,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(
      `value for "${key}" is ${bytes} bytes, over the server's max_payload of ${maxBytes} bytes: ` +
        'pass smaller args/return values (store large data elsewhere and pass a reference), or raise max_payload in nats.conf',
    );
  }
}

/** The store was closed; open a new one. */
export class StoreClosedError extends Error {
  override readonly name = 'StoreClosedError';
  constructor(what: string) {
    super(`${what}: the store is closed; open a new backend with factory.open(...)`);
  }
}

/**
 * A store request got no answer in time. The write it carried may still have been applied (the
 * reply, not the request, may be what was lost): re-read before retrying a conditional write.
 */
export class StoreTimeoutError extends Error {
  override readonly name = 'StoreTimeoutError';
  constructor(
    /** Where the request went (a JetStream subject on NATS). */
    readonly subject: string,
    readonly timeoutMs: number,
  ) {
    super(
      `no reply to the request on "${subject}" within ${timeoutMs} ms: the connection may be down or the server overloaded; ` +
        'the request may still have been applied, so re-read before retrying (raise requestTimeoutMs if the server is just slow)',
    );
  }
}

/**
 * Nothing serves the request: on NATS a 503 "no responders" — JetStream not enabled or not ready
 * yet (after a server restart), or the stream behind the subject does not exist.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(
    readonly subject: string,
    detail: string,
  ) {
    super(`nothing answers requests on "${subject}": ${detail}`);
  }
}

/**
 * A listing of a bucket could not finish with every key: keys kept being rewritten just ahead of
 * it, round after round. Nothing is wrong with the data; list again when writes calm down.
 */
export class ListingUnsettledError extends Error {
  override readonly name = 'ListingUnsettledError';
  constructor(
    readonly bucket: string,
    readonly rounds: number,
  ) {
    super(`listing bucket "${bucket}" did not settle: keys kept moving ahead of it for ${rounds} rounds of reading; list again`);
  }
}
