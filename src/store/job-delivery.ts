/** A delivery of a job from the dispatch queue, with its record decoded or the reason it could not be. */
import { decodeRecord, DeserializationError } from '../codec/index.js';
import type { JobRecord } from '../records.js';
import type { QueueDelivery } from './job-queue.js';
import { reportCorrupt } from './job-key.js';
import { CorruptRecordError } from './store-errors.js';

/** A delivery of a job, with its record decoded (or the reason it could not be) in place of its bytes. */
export interface JobDelivery extends Omit<QueueDelivery, 'data'> {
  /** The record as published; null when the message is corrupt (see `corrupt`). */
  readonly job: JobRecord | null;
  readonly corrupt: CorruptRecordError | null;
}

/** `d` with its record decoded; a corrupt record (or one naming another job) is reported to `onCorrupt`. */
export function decodeDelivery(d: QueueDelivery, onCorrupt: (error: CorruptRecordError) => void): JobDelivery {
  let job: JobRecord | null = null;
  let corrupt: CorruptRecordError | null = null;
  try {
    job = decodeRecord('job', d.data);
    if (job.id !== d.jobId) throw new DeserializationError('job', `record id "${job.id}" does not match its message's job id "${d.jobId}"`);
  } catch (error) {
    const cause = error instanceof DeserializationError ? error : new DeserializationError('job', String(error), { cause: error });
    corrupt = new CorruptRecordError('jobs', d.jobId, d.seq, cause);
    job = null;
    reportCorrupt(onCorrupt, corrupt);
  }
  return {
    jobId: d.jobId,
    job,
    corrupt,
    seq: d.seq,
    deliveryCount: d.deliveryCount,
    ack: d.ack,
    nak: d.nak,
    working: d.working,
    term: d.term,
  };
}
