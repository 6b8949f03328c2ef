/**
 * The store refuses a record over the server's max payload with its own RecordTooLargeError; the
 * public API reports it as PayloadTooLargeError (exported from the package), naming what was too big.
 */
import { PayloadTooLargeError } from '../errors.js';
import { RecordTooLargeError } from '../store/index.js';

/** Runs a store write; a too-large record becomes PayloadTooLargeError about `what`. */
export async function withinPayloadLimit<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (error instanceof RecordTooLargeError) throw new PayloadTooLargeError(what, error.bytes, error.maxBytes);
    throw error;
  }
}
