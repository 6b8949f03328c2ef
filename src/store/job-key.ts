/**
 * One job's key in the `jobs` bucket: the revision-checked write every change of a job's state goes
 * through, and reads that decode the state and report an unreadable one.
 */
import { decodeRecord, DeserializationError } from '../codec/index.js';
import type { JobState } from '../records.js';
import type { KvBucket } from './kv-bucket.js';
import { CorruptRecordError, RevisionConflictError } from './store-errors.js';
import { tryDecodeKeyToken } from './store-keys.js';

/** A job's state with the revision it was read at. */
export interface StoredJobState {
  state: JobState;
  revision: number;
}

/** Revision-checked write (0 = create); null when the key moved (RevisionConflictError). */
export async function writeJobState(bucket: KvBucket, key: string, bytes: Uint8Array, expected: number): Promise<number | null> {
  try {
    return expected === 0 ? await bucket.create(key, bytes) : await bucket.update(key, bytes, expected);
  } catch (error) {
    if (error instanceof RevisionConflictError) return null;
    throw error;
  }
}

/** The state on `key`, or null. Throws CorruptRecordError (after reporting it). */
export async function readJobState(bucket: KvBucket, key: string, onCorrupt: (error: CorruptRecordError) => void): Promise<StoredJobState | null> {
  const entry = await bucket.get(key);
  if (!entry) return null;
  const decoded = decodeJobState(key, entry.value, entry.revision, onCorrupt);
  if (decoded instanceof CorruptRecordError) throw decoded;
  return decoded;
}

/** The state in `value`, or the (reported) error that it is unreadable. */
export function decodeJobState(key: string, value: Uint8Array, revision: number, onCorrupt: (error: CorruptRecordError) => void): StoredJobState | CorruptRecordError {
  try {
    return { state: decodeRecord('jobState', value), revision };
  } catch (error) {
    const cause = error instanceof DeserializationError ? error : new DeserializationError('jobState', String(error), { cause: error });
    const corrupt = new CorruptRecordError('jobs', tryDecodeKeyToken(key) ?? key, revision, cause);
    reportCorrupt(onCorrupt, corrupt);
    return corrupt;
  }
}

export function reportCorrupt(onCorrupt: (error: CorruptRecordError) => void, corrupt: CorruptRecordError): void {
  try {
    onCorrupt(corrupt);
  } catch {
    // a throwing callback must not break the read
  }
}
