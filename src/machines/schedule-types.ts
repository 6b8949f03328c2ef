/**
 * The schedule machine's contract: one actor per firing of a schedule. The node's schedule host
 * keeps every schedule of the partitions it holds in memory with ONE timer heap, and when a
 * schedule's next fire time comes it runs this machine for it: plan the due fire times (coalesce,
 * jitter, start deadlines), publish their jobs under deterministic ids (G4), advance the record with
 * a revision check, and end with where the schedule stands. Effects are named actions that
 * src/actors provides; each answers later with one of the events below.
 */
import type { ScheduleRecord } from '../records.js';
import type { Trigger } from '../triggers/index.js';

/** `nextFireTime` of src/triggers: earliest fire time after `after` (or at it, with inclusive). */
export type NextFireTimeFn = (trigger: Trigger, after: Date, opts?: { inclusive?: boolean }) => Date | null;

/**
 * Pure functions the schedule machine computes with, passed to createScheduleMachine (a factory
 * parameter, not input: functions do not survive snapshot persistence, and every schedule actor of
 * a node shares them).
 */
export interface ScheduleMachineDeps {
  nextFireTime: NextFireTimeFn;
  /** Uniform in [0, 1): the jitter source (Math.random in production, seeded in tests). */
  random: () => number;
}

export interface ScheduleInput {
  /** The record as the host knows it. */
  schedule: ScheduleRecord;
  /** KV revision of `schedule`, for the revision-checked advance. */
  recordRevision: number;
  /** The host's clock when the firing starts (ms since epoch): what is due is planned against it. */
  now: number;
}

/** One job to publish for a fire time (G4: its id comes from schedule id + fireTime). */
export interface PlannedFire {
  fireTime: Date;
  /** Uniform in [0, min(maxJitter, next fire time − fireTime)). */
  jitterMs: number;
  /** fireTime + jitter: the job's `notBefore`. */
  runAt: Date;
  /** runAt + misfireGraceTime, or null without a grace time. */
  startDeadline: Date | null;
}

/** How a firing ended. */
export const FiringEnd = {
  /** Jobs published (if any were due) and the record advanced. */
  advanced: 'advanced',
  /** Nothing due (an early wake-up, or the record moved on meanwhile). */
  notDue: 'not_due',
  /** The record is paused: nothing fired. */
  paused: 'paused',
  /** The record is gone. */
  removed: 'removed',
  /** The node lost the schedule's partition: it stopped where it was (the new holder goes on). */
  partitionLost: 'partition_lost',
  /** A store call failed: the host tries again later (deterministic ids make a redo harmless). */
  failed: 'failed',
} as const;
export type FiringEnd = (typeof FiringEnd)[keyof typeof FiringEnd];

/** The actor's output: where the schedule stands for the host's timer heap. */
export interface ScheduleOutput {
  scheduleId: string;
  end: FiringEnd;
  /** The record as last read or written (null when removed). */
  schedule: ScheduleRecord | null;
  recordRevision: number;
  /** The jobs published by this firing. */
  jobIds: string[];
  /** The error of a failed store call. */
  error?: string;
}

/** Sent to the parent (the scheduler) exactly once, when the firing ends. */
export interface FiringEndedEvent {
  type: 'FIRING_ENDED';
  output: ScheduleOutput;
}

export type ScheduleEvent =
  /** publishJobs: every fire's job is queued (or was already: a duplicate id). */
  | { type: 'JOBS_PUBLISHED'; jobIds: string[] }
  /** advanceSchedule: the record is at nextFireTime/lastFireTime now, at `recordRevision`. */
  | { type: 'SCHEDULE_ADVANCED'; recordRevision: number }
  /** advanceSchedule: the record was changed by someone else (API, another node): read it again. */
  | { type: 'ADVANCE_CONFLICT' }
  /** loadSchedule: the record as it is now. */
  | { type: 'SCHEDULE_LOADED'; schedule: ScheduleRecord; recordRevision: number; now: number }
  /** loadSchedule: the record is gone. */
  | { type: 'SCHEDULE_GONE' }
  /** Any effect: the store call failed. */
  | { type: 'EFFECT_FAILED'; error: string }
  /** The host: this node no longer holds the schedule's partition. */
  | { type: 'PARTITION_LOST' };

// ---- effect params ------------------------------------------------------------------------

/** publishJobs: one job per fire, deterministic id, queued with `create` semantics (duplicates are fine). */
export interface PublishJobsParams {
  schedule: ScheduleRecord;
  fires: PlannedFire[];
}

/** advanceSchedule: write nextFireTime/lastFireTime if the record is still at `recordRevision`. */
export interface AdvanceScheduleParams {
  schedule: ScheduleRecord;
  recordRevision: number;
  nextFireTime: Date | null;
  lastFireTime: Date | null;
}

/** loadSchedule: read the record again (after a conflict). */
export interface LoadScheduleParams {
  scheduleId: string;
}
