/** jobchart's public entry. */
export * from './triggers/index.js';
export { Outcome } from './outcome.js';
export type { JobResult, JobError, ScheduleRecord, JobRecord, LeaseRecord } from './records.js';
export { CoalescePolicy } from './records.js';
export { DeserializationError, decodeRecord, encodeRecord, CODEC_VERSION } from './codec/index.js';
