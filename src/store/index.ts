/** jobchart's storage layer: KV leases, records, dispatch and events on memory or NATS JetStream. */
export { systemClock } from './clock.js';
export type { StoreClock, TimerHandle } from './clock.js';
export { encodeEvents, decodeEvents, SignalEventBus } from './event-bus.js';
export type { EventBus } from './event-bus.js';
export { levelOrder, PRIORITY_LEVELS, priorityLevel } from './job-queue.js';
export type { JobQueue, PriorityLevel, PublishOutcome, QueueDelivery, QueueFetchOptions, QueueMessage } from './job-queue.js';
export type { JobDelivery } from './job-delivery.js';
export type { StoredJobState } from './job-key.js';
export { FAILED_OUTCOMES } from './job-listing.js';
export type { JobLookup, ListedJob, ListJobsQuery } from './job-listing.js';
export type { CancelOutcome } from './job-settling.js';
export type { AttemptNotes } from './job-states.js';
export { JobStore } from './job-store.js';
export type { AcquireOutcome, JobLease } from './job-store.js';
export { keyMatches } from './kv-bucket.js';
export type { BucketSpec, KvBucket, KvChange, KvEntry, KvWatchOptions } from './kv-bucket.js';
export { isLeaseLost, LeaseLostReason } from './lease.js';
export type { Lease, LeaseLost, LeaseReleased } from './lease.js';
export { LeaseRenewer } from './lease-renewer.js';
export type { HoldOptions, LeaseRenewerOptions } from './lease-renewer.js';
export { LeaseStore } from './lease-store.js';
export type { LeaseHolder } from './lease-store.js';
export { NodeRegistry } from './node-registry.js';
export type { NodeInfo } from './node-registry.js';
export { RecordRepository } from './record-repository.js';
export type { Listing, RecordFormat, Stored } from './record-repository.js';
export { RuntimeEventType } from './runtime-event.js';
export type { EventError, RuntimeEvent, RuntimeEventListener, RuntimeEventMap } from './runtime-event.js';
export { partitionFilter, ScheduleRepository } from './schedule-repository.js';
export { SignalChannel } from './signals.js';
export type { SignalTransport } from './signals.js';
export { BucketName, INTERNAL_LEASE_KEYS, resolveStoreOptions } from './store-backend.js';
export type {
  ConnectionState,
  OpenStoreOptions,
  StoreBackend,
  StoreFactory,
  StoreKind,
} from './store-backend.js';
export {
  CorruptRecordError,
  ListingUnsettledError,
  InvalidStoreKeyError,
  RecordTooLargeError,
  RevisionConflictError,
  StoreClosedError,
  StoreConfigError,
} from './store-errors.js';
export type { RecordBucket } from './store-errors.js';
export {
  decodeKeyToken,
  tryDecodeKeyToken,
  encodeKeyToken,
  jobIdForFire,
  jobLeaseKey,
  partitionLeaseKey,
  SCHEDULE_PARTITIONS,
  schedulePartition,
  scheduleLeaseKey,
  slotLeaseKey,
  validatePrefix,
} from './store-keys.js';
export { memoryStore } from './memory/memory-store.js';
export type { MemoryStoreOptions } from './memory/memory-store.js';
export { isNatsReplicas, natsStore } from './nats/nats-store.js';
export type { NatsStoreOptions, NatsTlsOptions } from './nats/nats-store.js';
export { AttemptLog, appendAttempt, attemptError, ATTEMPT_STACK_MAX_CHARS, ATTEMPTS_WITH_LOGS, LOG_LINE_MAX_CHARS, LOG_LINES_PER_ATTEMPT, MAX_ATTEMPTS_KEPT } from './job-attempts.js';
