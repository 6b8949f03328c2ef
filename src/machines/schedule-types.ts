/** The schedule machine's contract: dependencies, input, events, output and effects. */
import type { ScheduleRecord } from '../records.js';
import type { Trigger } from '../triggers/index.js';
import type { LeaseGrant, LeaseLostReason } from './lease-timing.js';

/** `nextFireTime` of src/triggers: earliest fire time after `after` (or at it, with inclusive). */
export type NextFireTimeFn = (trigger: Trigger, after: Date, opts?: { inclusive?: boolean }) => Date | null;

/**
 * Pure functions the schedule machine computes with, passed to createScheduleMachine (a factory
 * parameter, not input: functions do not survive snapshot persistence, and every schedule actor
 * of a node shares them).
 */
export interface ScheduleMachineDeps {
  nextFireTime: NextFireTimeFn;
  /** Uniform in [0, 1): the jitter source (Math.random in production, seeded in tests). */
  random: () => number;
}

export interface ScheduleInput {
  /** The record as last seen; the machine re-reads it when it takes the lease. */
  schedule: ScheduleRecord;
  /** KV revision of `schedule`, for revision-checked advancement. @defaultValue 0 */
  recordRevision?: number;
  /** TTL of the schedule's lease key; renewed every third of it. */
  leaseDurationMs: number;
  /** Wait before trying the lease again while another node holds it. @defaultValue leaseDurationMs */
  standbyRetryMs?: number;
}

/** One job to create for a fire time (G4: the runtime derives its id from schedule id + fireTime). */
export interface PlannedFire {
  fireTime: Date;
  /** Uniform in [0, min(maxJitter, next fire time − fireTime)). */
  jitterMs: number;
  /** fireTime + jitter: the job's `notBefore`. */
  runAt: Date;
  /** runAt + misfireGraceTime, or null without a grace time. */
  startDeadline: Date | null;
}

/** How a schedule actor ended. */
export type ScheduleEnd = 'finished' | 'removed' | 'stopped';
export interface ScheduleOutput {
  scheduleId: string;
  end: ScheduleEnd;
}

export type ScheduleEvent =
  /** The record changed in the store (watch): pause, resume, replace. Older revisions are ignored. */
  | { type: 'SCHEDULE_UPDATED'; schedule: ScheduleRecord; recordRevision: number; now: number }
  /** The record was deleted: release the lease and end. */
  | { type: 'SCHEDULE_REMOVED' }
  /** The node is stopping: release the lease and end. */
  | { type: 'STOP' }
  /** Timer: the next fire time has come (per the clock reading of the last store answer). */
  | { type: 'FIRE_DUE' }
  /** Timer: time to renew the schedule lease. */
  | { type: 'RENEW_DUE' }
  /** Renewal succeeded (raised from renewScheduleLease's answer); `seq` numbers the request. */
  | { type: 'LEASE_RENEWED'; lease: LeaseGrant; now: number; seq: number }
  /** The lease is gone: stop firing at once. Also raised by the renewal deadline. */
  | { type: 'LEASE_LOST'; reason: LeaseLostReason }
  /** Just restored from a persisted snapshot: re-arm timers (not persisted by XState), renew now. */
  | { type: 'RESTORED' };

// ---- effects --------------------------------------------------------------------------------

export interface AcquireScheduleLeaseInput {
  scheduleId: string;
}
/** On success the effect re-reads the record: the previous holder may have advanced it. */
export type AcquireScheduleLeaseOutput =
  | { status: 'acquired'; lease: LeaseGrant; now: number; schedule: ScheduleRecord; recordRevision: number }
  | { status: 'held_elsewhere' }
  | { status: 'removed' };

export interface RenewScheduleLeaseInput {
  scheduleId: string;
  lease: LeaseGrant;
}
export type RenewScheduleLeaseOutput =
  | { status: 'renewed'; lease: LeaseGrant; now: number }
  | { status: 'lost'; reason: LeaseLostReason };

/** createJobs: create one job per fire with `create` semantics (an existing id is not an error). */
export interface CreateJobsInput {
  schedule: ScheduleRecord;
  lease: LeaseGrant;
  fires: PlannedFire[];
}
export interface CreateJobsOutput {
  jobIds: string[];
}

/** advanceSchedule: write nextFireTime/lastFireTime if the record is still at `recordRevision`. */
export interface AdvanceScheduleInput {
  scheduleId: string;
  lease: LeaseGrant;
  recordRevision: number;
  nextFireTime: Date | null;
  lastFireTime: Date | null;
}
export type AdvanceScheduleOutput = { status: 'advanced'; recordRevision: number; now: number } | { status: 'conflict' };

/** loadSchedule: read the record again (after a conflict). */
export interface LoadScheduleInput {
  scheduleId: string;
}
export type LoadScheduleOutput =
  | { status: 'loaded'; schedule: ScheduleRecord; recordRevision: number; now: number }
  | { status: 'removed' };

export interface ReleaseScheduleLeaseInput {
  scheduleId: string;
  lease: LeaseGrant;
}
