/** Schedule records. Advancing a schedule is `update(record, expectedRevision)`, so two schedulers cannot both advance it. */
import { decodeRecord, encodeRecord } from '../codec/index.js';
import type { ScheduleRecord } from '../records.js';
import type { KvBucket } from './kv-bucket.js';
import { RecordRepository } from './record-repository.js';
import type { CorruptRecordError } from './store-errors.js';

export class ScheduleRepository extends RecordRepository<ScheduleRecord> {
  constructor(bucket: KvBucket, onCorrupt: (error: CorruptRecordError) => void, reportError?: (error: unknown, where: string) => void) {
    super(
      bucket,
      'schedules',
      {
        encode: (record) => encodeRecord('schedule', record),
        decode: (bytes) => decodeRecord('schedule', bytes),
        idOf: (record) => record.id,
      },
      onCorrupt,
      reportError,
    );
  }
}
