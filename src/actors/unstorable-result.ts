/**
 * Results that cannot be stored: a return value that is not plain data, or a result record the
 * encoder refuses or the server finds too large, ends the job as an error that says why.
 */
import { PayloadTooLargeError, SerializationError } from '../errors.js';
import type { JobResult } from '../records.js';
import { assertPlainData } from '../runtime/plain-data.js';
import { RecordTooLargeError } from '../store/index.js';

/** The result with its return value replaced by the error saying why it could not be stored. */
export function asUnstorable(result: JobResult, error: Error): JobResult {
  const replaced: JobResult = { ...result, outcome: 'error', error: { name: error.name, message: error.message } };
  delete replaced.returnValue;
  return replaced;
}

/** Why `value` is not plain data (a SerializationError), or null when it is. */
export function plainDataProblem(value: unknown, what: string): SerializationError | null {
  try {
    assertPlainData(value, what);
    return null;
  } catch (error) {
    if (error instanceof SerializationError) return error;
    throw error;
  }
}

/** The store's size error as the public PayloadTooLargeError; other errors as they are. */
export function publicPayloadError(error: unknown, what: string): Error {
  if (error instanceof RecordTooLargeError) return new PayloadTooLargeError(what, error.bytes, error.maxBytes);
  return error as Error;
}

/** An encode failure of the result record (a value msgpack cannot hold, or over max payload). */
export function isUnstorableValue(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RecordTooLargeError;
}
