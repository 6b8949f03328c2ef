/**
 * Turns records into bytes and back with msgpack. Every value is wrapped in an envelope
 * `{ v: CODEC_VERSION, k: kind, d: data }` so that a reader can tell a corrupt, foreign or
 * future record from a valid one and raise `DeserializationError` instead of passing garbage on.
 */
import { Packr } from 'msgpackr';
import type { JobRecord, JobResult, JobState, LeaseRecord, ScheduleRecord } from '../records.js';
import { DeserializationError } from './deserialization-error.js';

/** Bumped when a record's shape changes incompatibly; readers refuse records from a newer version. */
export const CODEC_VERSION = 1;

export interface RecordKinds {
  schedule: ScheduleRecord;
  job: JobRecord;
  result: JobResult;
  lease: LeaseRecord;
  jobState: JobState;
}
export type RecordKind = keyof RecordKinds;

// Records as plain maps (no msgpackr record extension) so other msgpack readers can read them;
// Dates use the msgpack timestamp extension and come back as Dates.
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

type Check = (data: Record<string, unknown>) => string | null;

const isDate = (v: unknown): v is Date => v instanceof Date && !Number.isNaN(v.getTime());
const need =
  (field: string, ok: (v: unknown) => boolean, what: string): Check =>
  (d) =>
    ok(d[field]) ? null : `field "${field}" must be ${what}`;
const str = (v: unknown): boolean => typeof v === 'string' && v.length > 0;
const num = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);
const optional = (ok: (v: unknown) => boolean) => (v: unknown) => v === undefined || ok(v);
const dateOrNull = (v: unknown): boolean => v === null || isDate(v);

const checks: { [K in RecordKind]: Check[] } = {
  schedule: [
    need('id', str, 'a non-empty string'),
    need('task', str, 'a non-empty string'),
    need('trigger', (v) => typeof v === 'object' && v !== null && str((v as { kind?: unknown }).kind), 'a trigger object'),
    need('paused', (v) => typeof v === 'boolean', 'a boolean'),
    need('coalesce', (v) => v === 'earliest' || v === 'latest' || v === 'all', "'earliest' | 'latest' | 'all'"),
    need('nextFireTime', dateOrNull, 'a Date or null'),
    need('createdAt', isDate, 'a Date'),
  ],
  job: [
    need('id', str, 'a non-empty string'),
    need('task', str, 'a non-empty string'),
    need('attempt', num, 'a number'),
    need('createdAt', isDate, 'a Date'),
    need('scheduledFireTime', optional(isDate), 'a Date'),
    need('startDeadline', optional(isDate), 'a Date'),
    need('notBefore', optional(isDate), 'a Date'),
  ],
  result: [
    need('jobId', str, 'a non-empty string'),
    need('outcome', str, 'an outcome string'),
    need('finishedAt', isDate, 'a Date'),
    need('attempt', num, 'a number'),
  ],
  lease: [need('nodeId', str, 'a non-empty string'), need('acquiredAt', isDate, 'a Date')],
  jobState: [
    need('phase', (v) => v === 'queued' || v === 'running' || v === 'done', "'queued' | 'running' | 'done'"),
    (d) =>
      d['phase'] === 'done'
        ? typeof d['job'] === 'object' && d['job'] !== null && str((d['job'] as { id?: unknown }).id) && typeof d['result'] === 'object' && d['result'] !== null && dateOrNull(d['expiresAt'] ?? null)
          ? null
          : 'a done state needs a job record, a result and expiresAt'
        : str(d['task']) && num(d['attempt'])
          ? null
          : 'a queued or running state needs task and attempt',
    (d) => (d['phase'] !== 'running' || (str(d['nodeId']) && str(d['leaseId']) && num(d['seq']) && isDate(d['renewedAt'])) ? null : 'a running state needs nodeId, leaseId, seq and renewedAt'),
    need('attempts', optional(Array.isArray), 'an array of attempts'),
    need('logs', optional(Array.isArray), 'an array of log lines'),
  ],
};

/** Encodes a record of `kind` into bytes. Throws a TypeError naming the value when it cannot be encoded. */
export function encodeRecord<K extends RecordKind>(kind: K, data: RecordKinds[K]): Uint8Array {
  try {
    return packr.pack({ v: CODEC_VERSION, k: kind, d: data });
  } catch (cause) {
    throw new TypeError(`cannot encode ${kind} record: ${(cause as Error).message}`, { cause });
  }
}

/** Decodes bytes written by `encodeRecord(kind, …)`; throws `DeserializationError` for anything else. */
export function decodeRecord<K extends RecordKind>(kind: K, bytes: Uint8Array): RecordKinds[K] {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new DeserializationError(kind, 'empty value');
  }
  let envelope: unknown;
  try {
    envelope = packr.unpack(bytes);
  } catch (cause) {
    throw new DeserializationError(kind, `not msgpack (${(cause as Error).message})`, { cause });
  }
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) {
    throw new DeserializationError(kind, 'not a jobchart record envelope');
  }
  const { v, k, d } = envelope as { v?: unknown; k?: unknown; d?: unknown };
  if (typeof v !== 'number') throw new DeserializationError(kind, 'not a jobchart record envelope (no version)');
  if (v > CODEC_VERSION) {
    throw new DeserializationError(kind, `written by codec version ${v}, this node reads up to ${CODEC_VERSION}`);
  }
  if (k !== kind) throw new DeserializationError(kind, `holds a ${String(k)} record`);
  if (typeof d !== 'object' || d === null || Array.isArray(d)) {
    throw new DeserializationError(kind, 'record data is not an object');
  }
  for (const check of checks[kind]) {
    const problem = check(d as Record<string, unknown>);
    if (problem) throw new DeserializationError(kind, problem);
  }
  return d as RecordKinds[K];
}
