/**
 * Records of one kind in one bucket, keyed by `encodeKeyToken(id)`, encoded by the codec. The
 * schedule, job and result repositories are thin layers over this. Conditional writes that lose
 * (`create` on an existing id, `update`/`delete` at a stale revision) resolve to null/false rather
 * than throw: for a scheduler or worker that is a normal outcome, not an error.
 */
import { DeserializationError } from '../codec/index.js';
import type { KvBucket, KvEntry } from './kv-bucket.js';
import { CorruptRecordError, RevisionConflictError, type RecordBucket } from './store-errors.js';
import { encodeKeyToken, tryDecodeKeyToken } from './store-keys.js';

/** A record with the revision it was read or written at (pass it back to `update`). */
export interface Stored<T> {
  record: T;
  revision: number;
}

/** The readable records of a bucket plus the ones that failed to decode. */
export interface Listing<T> {
  items: Stored<T>[];
  failures: CorruptRecordError[];
}

/** How a repository turns its records into bytes and back. */
export interface RecordFormat<T> {
  encode(record: T): Uint8Array;
  /** Throws `DeserializationError` for bytes that are not a valid record. */
  decode(bytes: Uint8Array): T;
  idOf(record: T): string;
  /** The KV key of an id. @defaultValue encodeKeyToken(id) */
  keyOf?(id: string): string;
  /** The id of a KV key, or null for a key this repository did not write. @defaultValue tryDecodeKeyToken(key) */
  idOfKey?(key: string): string | null;
}

export class RecordRepository<T> {
  constructor(
    protected readonly bucket: KvBucket,
    protected readonly label: RecordBucket,
    protected readonly format: RecordFormat<T>,
    private readonly onCorrupt: (error: CorruptRecordError) => void,
    /** Where an exception of `onCorrupt` goes (the read goes on). @defaultValue ignored */
    private readonly reportError: (error: unknown, where: string) => void = () => undefined,
  ) {}

  /** The record `id`, or null. Throws `CorruptRecordError` (after reporting it) for undecodable bytes. */
  async get(id: string): Promise<Stored<T> | null> {
    const entry = await this.bucket.get(this.keyOf(id));
    if (!entry) return null;
    const decoded = this.#decode(entry);
    if (decoded instanceof CorruptRecordError) throw decoded;
    return decoded;
  }

  /** Writes a new record; null when one with this id exists already. */
  async create(record: T): Promise<Stored<T> | null> {
    const bytes = this.format.encode(record);
    try {
      const revision = await this.bucket.create(this.#key(record), bytes);
      return { record, revision };
    } catch (err) {
      if (err instanceof RevisionConflictError) return null;
      throw err;
    }
  }

  /** Writes `record` only if its stored revision is `expectedRevision`; null when it moved or vanished. */
  async update(record: T, expectedRevision: number): Promise<Stored<T> | null> {
    const bytes = this.format.encode(record);
    try {
      const revision = await this.bucket.update(this.#key(record), bytes, expectedRevision);
      return { record, revision };
    } catch (err) {
      if (err instanceof RevisionConflictError) return null;
      throw err;
    }
  }

  /** Writes `record` unconditionally (replace). */
  async put(record: T): Promise<Stored<T>> {
    const revision = await this.bucket.put(this.#key(record), this.format.encode(record));
    return { record, revision };
  }

  /** Deletes `id` (only at `expectedRevision` when given); false when that revision is stale. */
  async delete(id: string, expectedRevision?: number): Promise<boolean> {
    try {
      await this.bucket.delete(this.keyOf(id), expectedRevision === undefined ? {} : { revision: expectedRevision });
      return true;
    } catch (err) {
      if (err instanceof RevisionConflictError) return false;
      throw err;
    }
  }

  /** Every record (under the key filter, default all); corrupt ones are reported and returned as failures, never thrown. */
  async list(filter = '>'): Promise<Listing<T>> {
    const listing: Listing<T> = { items: [], failures: [] };
    for (const entry of await this.bucket.entries(filter)) {
      const decoded = this.#decode(entry);
      if (decoded instanceof CorruptRecordError) listing.failures.push(decoded);
      else listing.items.push(decoded);
    }
    return listing;
  }

  /** Decodes an entry read elsewhere (a watch): the record, or the corrupt-record error (reported). */
  decodeEntry(entry: KvEntry): Stored<T> | CorruptRecordError {
    return this.#decode(entry);
  }

  /** The KV key of `id`. */
  keyOf(id: string): string {
    return this.format.keyOf ? this.format.keyOf(id) : encodeKeyToken(id);
  }

  /** The id of a KV key, or null for a key this repository did not write. */
  idOfKey(key: string): string | null {
    return this.format.idOfKey ? this.format.idOfKey(key) : tryDecodeKeyToken(key);
  }

  #key(record: T): string {
    return this.keyOf(this.format.idOf(record));
  }

  #decode(entry: KvEntry): Stored<T> | CorruptRecordError {
    try {
      return { record: this.format.decode(entry.value), revision: entry.revision };
    } catch (err) {
      const cause =
        err instanceof DeserializationError ? err : new DeserializationError(this.label, String(err), { cause: err });
      const id = this.idOfKey(entry.key) ?? entry.key;
      const corrupt = new CorruptRecordError(this.label, id, entry.revision, cause);
      try {
        this.onCorrupt(corrupt);
      } catch (callbackError) {
        try {
          this.reportError(callbackError, 'an onCorrupt callback threw');
        } catch {
          // nowhere left to report it
        }
      }
      return corrupt;
    }
  }
}
