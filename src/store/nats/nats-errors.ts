/** The one place that turns JetStream error codes into the store's typed errors. */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { RevisionConflictError, StoreConfigError } from '../store-errors.js';

/** The `error` member of a JetStream API reply. */
export interface JetStreamApiErrorBody {
  /** HTTP-like status, e.g. 400, 404, 503. */
  code: number;
  /** JetStream's own error code, e.g. 10071 (wrong last sequence). */
  err_code?: number;
  description?: string;
}

/**
 * A JetStream API request answered with an error other than those the store has a class for
 * (e.g. 10059 stream not found, 10037 no message found), keeping what the server said.
 */
export class JetStreamRequestError extends Error {
  override readonly name = 'JetStreamRequestError';
  /** HTTP-like status (400, 404, 503…). */
  readonly status: number;
  /** JetStream error code (10059…); 0 when the server sent only a status. */
  readonly errCode: number;
  readonly description: string;
  constructor(
    /** The subject the request was published to. */
    readonly subject: string,
    error: JetStreamApiErrorBody,
  ) {
    const description = error.description ?? '';
    super(
      `JetStream refused the request on "${subject}": ${description || 'no description'} ` +
        `(status ${error.code}, err_code ${error.err_code ?? 0})`,
    );
    this.status = error.code;
    this.errCode = error.err_code ?? 0;
    this.description = description;
  }
}

/** Names a conditional write in the `RevisionConflictError` it may end in. */
export interface ConflictTarget {
  bucket: string;
  key: string;
  /** The revision the writer expected (0 for a create), as the caller will report it. */
  expectedRevision: number;
}

const wrongLastSequence = /wrong last sequence: (\d+)/;

/**
 * The typed error for a JetStream API error reply to a request on `subject`: "wrong last sequence"
 * becomes `RevisionConflictError` (named by `conflict`, else by the subject and
 * `expectedLastSubjectSequence`; carrying the subject's current last sequence from the
 * description), anything else `JetStreamRequestError`.
 */
export function jetStreamRequestError(
  subject: string,
  error: JetStreamApiErrorBody,
  conflict?: ConflictTarget,
  expectedLastSubjectSequence = 0,
): Error {
  if (
    error.err_code === JetStreamApiCodes.StreamWrongLastSequence ||
    error.err_code === JetStreamApiCodes.StreamWrongLastSequenceUnknown
  ) {
    const apiError = new JetStreamRequestError(subject, error);
    const current = wrongLastSequence.exec(error.description ?? '')?.[1];
    const target = conflict ?? { bucket: 'JetStream stream', key: subject, expectedRevision: expectedLastSubjectSequence };
    return new RevisionConflictError(target.bucket, target.key, target.expectedRevision, {
      cause: apiError,
      ...(current === undefined ? {} : { currentRevision: Number(current) }),
    });
  }
  return new JetStreamRequestError(subject, error);
}

function apiErrorCode(err: unknown): number | undefined {
  if (err instanceof JetStreamApiError) return err.code;
  if (err instanceof JetStreamRequestError) return err.errCode;
  return undefined;
}

/** True for "wrong last sequence": a create on a live key or an update/delete at a stale revision. */
export function isWrongLastSequence(err: unknown): boolean {
  const code = apiErrorCode(err);
  return code === JetStreamApiCodes.StreamWrongLastSequence || code === JetStreamApiCodes.StreamWrongLastSequenceUnknown;
}

export function isStreamNotFound(err: unknown): boolean {
  return apiErrorCode(err) === JetStreamApiCodes.StreamNotFound;
}

export function isConsumerNotFound(err: unknown): boolean {
  return apiErrorCode(err) === JetStreamApiCodes.ConsumerNotFound;
}

/** JetStream's refusals of a replica count: "replicas > 1 not supported in non-clustered mode". */
const REPLICAS_NOT_CLUSTERED = 10074;
/** "no suitable peers for placement" (more replicas than servers) and "insufficient resources". */
const NO_SUITABLE_PEERS = 10005;
const INSUFFICIENT_RESOURCES = 10023;

/**
 * The StoreConfigError for a create of `what` (a bucket or the dispatch stream) with `replicas`
 * that the server refused because it cannot place that many replicas; null for any other error.
 */
export function replicationRefusal(err: unknown, what: string, replicas: number): StoreConfigError | null {
  const code = apiErrorCode(err);
  const reason = err instanceof Error ? err.message : String(err);
  if (code === REPLICAS_NOT_CLUSTERED) {
    return new StoreConfigError(
      `${what} cannot be created with replicas ${replicas}: the server is not part of a JetStream cluster (${reason}); ` +
        'use replicas 1 on a single nats-server, or connect to a cluster of at least that many servers',
    );
  }
  if (code === INSUFFICIENT_RESOURCES || code === NO_SUITABLE_PEERS) {
    return new StoreConfigError(
      `${what} cannot be created with replicas ${replicas}: the JetStream cluster has too few servers with room for it (${reason}); ` +
        `use a replica count no larger than the cluster's servers (replicas ${replicas} needs ${replicas} servers)`,
    );
  }
  return null;
}
