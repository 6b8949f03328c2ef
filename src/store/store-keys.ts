/**
 * Names of things in the store. KV keys allow only `[-/_=.a-zA-Z0-9]` and use `.` as a hierarchy
 * separator, while job, schedule and task ids are arbitrary strings, so every id goes through
 * `encodeKeyToken`: an injective escape (no two ids share a token) that leaves the common
 * `[A-Za-z0-9-]` ids readable.
 */
import { InvalidStoreKeyError } from './store-errors.js';

const LITERAL = /^[A-Za-z0-9-]$/;
const ALL_LITERAL = /^[A-Za-z0-9-]+$/;
const ASCII_TOKEN = /^(?:[A-Za-z0-9-]|_[0-7][0-9A-F])+$/;
const ASCII_ESCAPE = /_[0-7][0-9A-F]/g;
// (String.prototype.isWellFormed is ES2024; the project targets ES2023 typings.)
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Encodes `id` as one KV key token: `[A-Za-z0-9-]` stay as they are, every other UTF-8 byte
 * (including `_` itself and `.`) becomes `_` + two upper-case hex digits. `_` only ever starts an
 * escape, so decoding is unambiguous and the encoding is collision-free.
 */
export function encodeKeyToken(id: string): string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidStoreKeyError(`id ${JSON.stringify(id)} cannot be a store key: ids must be non-empty strings`);
  }
  // The common case (UUIDs, plain names): nothing to escape.
  if (ALL_LITERAL.test(id)) return id;
  // A lone surrogate has no UTF-8 form (it would encode like U+FFFD and collide with it).
  if (LONE_SURROGATE.test(id)) {
    throw new InvalidStoreKeyError(`id ${JSON.stringify(id)} contains a lone UTF-16 surrogate: use well-formed strings as ids`);
  }
  return id.replace(TO_ESCAPE, escapeChar);
}

const TO_ESCAPE = /[^A-Za-z0-9-]/gu;
const hexByte = (byte: number): string => `_${byte.toString(16).toUpperCase().padStart(2, '0')}`;
/** The escapes of the ASCII characters, made once (fire job ids escape `@`, `:` and `.` on every fire). */
const ASCII_ESCAPES = Array.from({ length: 128 }, (_, code) => hexByte(code));

function escapeChar(ch: string): string {
  const code = ch.charCodeAt(0);
  if (code < 128) return ASCII_ESCAPES[code] as string;
  let out = '';
  for (const byte of utf8.encode(ch)) out += hexByte(byte);
  return out;
}

/** Inverse of `encodeKeyToken`; throws `InvalidStoreKeyError` for a token it did not produce. */
export function decodeKeyToken(token: string): string {
  if (ALL_LITERAL.test(token)) return token;
  // Escapes of ASCII characters only (fire job ids): no UTF-8 decoding needed.
  if (ASCII_TOKEN.test(token)) return token.replace(ASCII_ESCAPE, (escape) => String.fromCharCode(parseInt(escape.slice(1), 16)));
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const ch = token[i] as string;
    if (ch === '_') {
      const hex = token.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) throw new InvalidStoreKeyError(`key token "${token}" has a bad escape at ${i}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (LITERAL.test(ch)) {
      bytes.push(ch.charCodeAt(0));
    } else {
      throw new InvalidStoreKeyError(`key token "${token}" contains "${ch}", which encodeKeyToken never writes`);
    }
  }
  try {
    return utf8Decoder.decode(new Uint8Array(bytes));
  } catch {
    throw new InvalidStoreKeyError(`key token "${token}" does not decode to UTF-8`);
  }
}

/** `decodeKeyToken`, or null for a key this store did not write (foreign or damaged keys are normal input). */
export function tryDecodeKeyToken(token: string): string | null {
  try {
    return decodeKeyToken(token);
  } catch {
    return null;
  }
}

/** Lease key of a job: `job.<id>`. */
export const jobLeaseKey = (jobId: string): string => `job.${encodeKeyToken(jobId)}`;
/** Lease key of a schedule (held by the scheduler that advances it): `schedule.<id>`. */
export const scheduleLeaseKey = (scheduleId: string): string => `schedule.${encodeKeyToken(scheduleId)}`;
/** Lease key of one of a task's `maxRunning` cluster-wide slots: `slot.<task>.<k>`. */
export function slotLeaseKey(task: string, slot: number): string {
  if (!Number.isInteger(slot) || slot < 0) {
    throw new InvalidStoreKeyError(`slot ${slot} of task "${task}" must be an integer >= 0`);
  }
  return `slot.${encodeKeyToken(task)}.${slot}`;
}

/**
 * The job id of a schedule's fire: `<scheduleId>@<fireTime ISO-8601>`. The same fire time gives the
 * same id on every node (G4: written with `create`, so a second scheduler's attempt fails). An ISO
 * timestamp never contains `@`, so the last `@` separates the parts and distinct (schedule, time)
 * pairs never share an id; the KV key is `encodeKeyToken(id)`.
 */
export function jobIdForFire(scheduleId: string, fireTime: Date): string {
  if (typeof scheduleId !== 'string' || scheduleId.length === 0) {
    throw new InvalidStoreKeyError(`schedule id ${JSON.stringify(scheduleId)} must be a non-empty string`);
  }
  if (!(fireTime instanceof Date) || Number.isNaN(fireTime.getTime())) {
    throw new InvalidStoreKeyError(`fire time of schedule "${scheduleId}" must be a valid Date`);
  }
  return `${scheduleId}@${fireTime.toISOString()}`;
}

/**
 * How many partitions schedules hash into. Fixed: it is part of the stored key layout (`p<NN>.…`)
 * and every node must agree on it. 64 lets up to 64 scheduler nodes share the work, while a node's
 * housekeeping (one lease renewal per held partition) stays small.
 */
export const SCHEDULE_PARTITIONS = 64;

/** The partition of a schedule id: FNV-1a over its UTF-16 code units, mod SCHEDULE_PARTITIONS. */
export function schedulePartition(scheduleId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < scheduleId.length; i++) {
    hash ^= scheduleId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % SCHEDULE_PARTITIONS;
}

/** Lease key of a schedule partition: `partition.<NN>`. */
export const partitionLeaseKey = (partition: number): string => `partition.${String(partition).padStart(2, '0')}`;

const PREFIX_RE = /^[A-Za-z0-9_-]+$/;

/** Checks a store prefix: it becomes part of bucket names and subjects, so `[A-Za-z0-9_-]+`. */
export function validatePrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) {
    throw new InvalidStoreKeyError(
      `store prefix "${prefix}" is not valid: use letters, digits, "_" or "-" (it names buckets like "${'jobchart'}_leases")`,
    );
  }
  return prefix;
}
