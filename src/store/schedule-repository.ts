/**
 * Schedule records, keyed by partition: `p<NN>.<id token>`, NN = the schedule's partition
 * (`schedulePartition`). A scheduler node loads and watches only the partitions it holds
 * (`p<NN>.>`). Advancing a schedule is `update(record, expectedRevision)`, so two schedulers cannot
 * both advance it.
 */
import { decodeRecord, encodeRecord } from '../codec/index.js';
import type { ScheduleRecord } from '../records.js';
import type { KvBucket } from './kv-bucket.js';
import { RecordRepository } from './record-repository.js';
import type { CorruptRecordError } from './store-errors.js';
import { encodeKeyToken, schedulePartition, tryDecodeKeyToken } from './store-keys.js';

/** The key filter of one partition's schedules. */
export const partitionFilter = (partition: number): string => `p${String(partition).padStart(2, '0')}.>`;

export class ScheduleRepository extends RecordRepository<ScheduleRecord> {
  constructor(bucket: KvBucket, onCorrupt: (error: CorruptRecordError) => void, reportError?: (error: unknown, where: string) => void) {
    super(
      bucket,
      'schedules',
      {
        encode: (record) => encodeRecord('schedule', record),
        decode: (bytes) => decodeRecord('schedule', bytes),
        idOf: (record) => record.id,
        keyOf: (id) => `p${String(schedulePartition(id)).padStart(2, '0')}.${encodeKeyToken(id)}`,
        idOfKey: (key) => {
          const match = /^p\d{2}\.(.+)$/.exec(key);
          return match ? tryDecodeKeyToken(match[1] as string) : null;
        },
      },
      onCorrupt,
      reportError,
    );
  }
}
