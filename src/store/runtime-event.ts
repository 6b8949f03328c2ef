/**
 * Cluster-wide runtime events (names as in APScheduler 4). Each travels as msgpack on the core NATS
 * subject `<prefix>.events.<type>`; the memory backend delivers the same shapes in process.
 */
import type { Outcome } from '../outcome.js';
import type { LeaseLostReason } from './lease.js';

export const RuntimeEventType = {
  TaskAdded: 'TaskAdded',
  ScheduleAdded: 'ScheduleAdded',
  ScheduleUpdated: 'ScheduleUpdated',
  ScheduleRemoved: 'ScheduleRemoved',
  JobAdded: 'JobAdded',
  JobAcquired: 'JobAcquired',
  JobReleased: 'JobReleased',
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
  JobReleased: EventBase<'JobReleased'> & { jobId: string; task: string; outcome: Outcome; attempt: number; scheduleId?: string };
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
