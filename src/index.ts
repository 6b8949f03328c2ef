/** jobchart's public entry. */
export * from './triggers/index.js';
export { Outcome } from './outcome.js';
export type { JobResult, JobError, ScheduleRecord, JobRecord, LeaseRecord, JobState } from './records.js';
export { CoalescePolicy } from './records.js';
export { DeserializationError, decodeRecord, encodeRecord, CODEC_VERSION } from './codec/index.js';
export { parseDuration, formatDuration, InvalidDurationError, type DurationLike } from './duration.js';
export { createRuntime, Runtime } from './runtime/runtime.js';
export type { AddJobOptions, GetJobResultOptions, StopOptions } from './runtime/runtime.js';
export type { JobInfo, JobPhase } from './runtime/job-info.js';
export type { ListJobsQuery } from './store/index.js';
export type { RuntimeOptions, NodeRole } from './runtime/runtime-options.js';
export type { AddScheduleOptions, ResumeOptions } from './runtime/schedule-operations.js';
export type { TaskOptions, TaskFunction, JobContext } from './runtime/task-registry.js';
export * from './errors.js';
export { memoryStore, natsStore, RuntimeEventType, CorruptRecordError, RecordTooLargeError, StoreConfigError } from './store/index.js';
export type { MemoryStoreOptions, NatsStoreOptions, RuntimeEvent, RuntimeEventMap, StoreFactory } from './store/index.js';
export type { InspectOption } from './actors/inspector.js';
export { inWorkerThread } from './runtime/thread-task.js';
