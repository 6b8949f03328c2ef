/**
 * Cluster-wide runtime events (names as in APScheduler 4). Each travels as msgpack on the core NATS
 * subject `<prefix>.events.<type>`; the memory backend delivers the same shapes in process.
 */
import type { Outcome } from '../outcome.js';
import type { LeaseLostReason } from './lease.js';

/** An error as events carry it: its name and message (the stack stays with the job: `jobchart job show`). */
export interface EventError {
  name: string;
  message: string;
}

export const RuntimeEventType = {
  TaskAdded: 'TaskAdded',
  ScheduleAdded: 'ScheduleAdded',
  ScheduleUpdated: 'ScheduleUpdated',
  ScheduleRemoved: 'ScheduleRemoved',
  JobAdded: 'JobAdded',
  JobAcquired: 'JobAcquired',
  JobReleased: 'JobReleased',
  /** A failed attempt (error, timeout, abandoned) will be retried: its error and the next attempt's time. */
  JobRetryScheduled: 'JobRetryScheduled',
  /** A task reported progress with `ctx.progress(value)` (at most a few per second per job). */
  JobProgress: 'JobProgress',
  LeaseLost: 'LeaseLost',
  NodeStarted: 'NodeStarted',
  NodeStopped: 'NodeStopped',
  ScheduleDeserializationFailed: 'ScheduleDeserializationFailed',
  JobDeserializationFailed: 'JobDeserializationFailed',
  /** Control event: asks the node running the job to cancel it (`rt.cancelJob`). */
  JobCancelRequested: 'JobCancelRequested',
} as const;
export type RuntimeEventType = (typeof RuntimeEventType)[keyof typeof RuntimeEventType];

interface EventBase<T extends RuntimeEventType> {
  type: T;
  timestamp: Date;
  /** The node that published the event. */
  nodeId: string;
}

/** Every event by its type. */
export interface RuntimeEventMap {
  TaskAdded: EventBase<'TaskAdded'> & { task: string };
  ScheduleAdded: EventBase<'ScheduleAdded'> & { scheduleId: string; task: string; nextFireTime: Date | null };
  ScheduleUpdated: EventBase<'ScheduleUpdated'> & { scheduleId: string; task: string; nextFireTime: Date | null };
  ScheduleRemoved: EventBase<'ScheduleRemoved'> & { scheduleId: string; task?: string };
  JobAdded: EventBase<'JobAdded'> & { jobId: string; task: string; scheduleId?: string; scheduledFireTime?: Date };
  JobAcquired: EventBase<'JobAcquired'> & { jobId: string; task: string; attempt: number; scheduleId?: string };
  /** `error`: on every outcome with an error (error, timeout, abandoned, …). */
  JobReleased: EventBase<'JobReleased'> & { jobId: string; task: string; outcome: Outcome; attempt: number; scheduleId?: string; error?: EventError };
  /** `attempt` failed with `outcome`/`error`; attempt `nextAttempt` starts at `nextAttemptAt` at the earliest. */
  JobRetryScheduled: EventBase<'JobRetryScheduled'> & {
    jobId: string;
    task: string;
    attempt: number;
    outcome: 'error' | 'timeout' | 'abandoned';
    error?: EventError;
    nextAttempt: number;
    nextAttemptAt: Date;
    scheduleId?: string;
  };
  JobProgress: EventBase<'JobProgress'> & { jobId: string; task: string; attempt: number; progress: unknown };
  LeaseLost: EventBase<'LeaseLost'> & { key: string; reason: LeaseLostReason; jobId?: string; scheduleId?: string; holder?: string };
  NodeStarted: EventBase<'NodeStarted'> & { role: 'both' | 'scheduler' | 'worker' };
  NodeStopped: EventBase<'NodeStopped'> & { reason?: string };
  ScheduleDeserializationFailed: EventBase<'ScheduleDeserializationFailed'> & { scheduleId: string; error: string };
  JobDeserializationFailed: EventBase<'JobDeserializationFailed'> & { jobId: string; error: string };
  JobCancelRequested: EventBase<'JobCancelRequested'> & { jobId: string };
}

export type RuntimeEvent = RuntimeEventMap[RuntimeEventType];

/** A listener for every event, or for one type. */
export type RuntimeEventListener<T extends RuntimeEventType = RuntimeEventType> = (event: RuntimeEventMap[T]) => void;
