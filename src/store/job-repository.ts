/**
 * Job records. A schedule's fire writes its job with `create` under `jobIdForFire(...)`, so the
 * same fire time yields one job however many schedulers try (G4).
 */
import { decodeRecord, encodeRecord } from '../codec/index.js';
import type { JobRecord } from '../records.js';
import type { KvBucket } from './kv-bucket.js';
import { RecordRepository } from './record-repository.js';
import type { CorruptRecordError } from './store-errors.js';

export class JobRepository extends RecordRepository<JobRecord> {
  constructor(bucket: KvBucket, onCorrupt: (error: CorruptRecordError) => void) {
    super(
      bucket,
      'jobs',
      {
        encode: (record) => encodeRecord('job', record),
        decode: (bytes) => decodeRecord('job', bytes),
        idOf: (record) => record.id,
      },
      onCorrupt,
    );
  }
}
