/**
 * jobchart's statecharts: pure definitions (setup + createMachine, no I/O, timers only as XState
 * delayed events). src/actors gives them their effects with `machine.provide({ actors, actions })`.
 */
export { jobMachine } from './job-machine.js';
export type { JobContext, JobMachineEvent } from './job-logic.js';
export type {
  AbortTaskParams,
  CommitResultParams,
  HeldLease,
  JobEvent,
  JobInput,
  JobOutput,
  JobPolicy,
  JobResultDraft,
  RequeueJobParams,
  RetryBackoff,
  RetryPolicy,
  RunTaskParams,
  SlotReleasedEvent,
} from './job-types.js';
export { DiscardReason, RequeueReason, SkipReason } from './job-types.js';
export { hasAttemptsLeft, missedStartDeadline, retryDelayMs, toJobError } from './job-policy.js';

export { workerMachine } from './worker-machine.js';
export type { WorkerContext } from './worker-machine.js';
export type { FetchedJob, FetchJobsParams, ReturnUnstartedJobsParams, StartJobsParams, WorkerEvent, WorkerInput } from './worker-types.js';
export { jobInputFor } from './worker-plan.js';
export { ReturnReason } from './worker-types.js';

export { createScheduleMachine } from './schedule-machine.js';
export type { ScheduleMachine } from './schedule-machine.js';
export type { ScheduleContext, ScheduleMachineEvent } from './schedule-logic.js';
export { MAX_RELOADS } from './schedule-logic.js';
export type {
  AdvanceScheduleParams,
  FiringEndedEvent,
  LoadScheduleParams,
  NextFireTimeFn,
  PlannedFire,
  PublishJobsParams,
  ScheduleEvent,
  ScheduleInput,
  ScheduleMachineDeps,
  ScheduleOutput,
} from './schedule-types.js';
export { FiringEnd } from './schedule-types.js';
export { delayUntil, MAX_DUE_FIRE_TIMES, MAX_TIMER_DELAY_MS, planFires } from './schedule-fires.js';
export type { FirePlan } from './schedule-fires.js';

export { schedulerMachine } from './scheduler-machine.js';
export type { ScheduleCrashedEvent, SchedulerContext, SchedulerEvent, SchedulerInput } from './scheduler-machine.js';

export { nodeMachine, NodeRole } from './node-machine.js';
export type { NodeContext, NodeEvent, NodeInput } from './node-machine.js';

export { latestLossDetection, leaseTiming, LeaseLostReason, MIN_LEASE_DURATION_MS } from './lease-timing.js';
export type { LeaseGrant, LeaseTiming } from './lease-timing.js';
export { EffectNotProvidedError, InvalidMachineInputError } from './errors.js';
