/**
 * The schedule machine's vocabulary: context, guards, actions and effect placeholders. Built per
 * ScheduleMachineDeps because fire planning uses the injected `nextFireTime` and `random`. The chart
 * is in schedule-machine.ts.
 */
import { assertEvent, assign, sendParent, setup } from 'xstate';
import type { ScheduleRecord } from '../records.js';
import { InvalidMachineInputError } from './errors.js';
import { planFires, type FirePlan } from './schedule-fires.js';
import type {
  AdvanceScheduleParams,
  FiringEnd,
  FiringEndedEvent,
  LoadScheduleParams,
  PublishJobsParams,
  ScheduleEvent,
  ScheduleInput,
  ScheduleMachineDeps,
  ScheduleOutput,
} from './schedule-types.js';

export type ScheduleMachineEvent = ScheduleEvent;

/** Reads of a changed record before a firing gives up for now (the host fires it again later). */
export const MAX_RELOADS = 3;

export interface ScheduleContext {
  scheduleId: string;
  /** The record as last read or written; null once it is gone. */
  schedule: ScheduleRecord | null;
  recordRevision: number;
  /** The host's clock when this firing (or the last reload) started. */
  now: number;
  /** The plan of this round: jobs to publish and where the record advances to. */
  plan: FirePlan | null;
  jobIds: string[];
  reloads: number;
  end: FiringEnd | null;
  error: string | null;
}

export function initialScheduleContext(input: ScheduleInput): ScheduleContext {
  if (!input.schedule || typeof input.schedule.id !== 'string') {
    throw new InvalidMachineInputError('schedule', 'schedule', input.schedule, 'pass the schedule record');
  }
  if (!Number.isFinite(input.now)) throw new InvalidMachineInputError('schedule', 'now', input.now, 'pass the clock reading in ms');
  return {
    scheduleId: input.schedule.id,
    schedule: input.schedule,
    recordRevision: input.recordRevision,
    now: input.now,
    plan: null,
    jobIds: [],
    reloads: 0,
    end: null,
    error: null,
  };
}

function recordOf(context: ScheduleContext): ScheduleRecord {
  if (context.schedule === null) throw new Error('schedule machine: no record (machine bug)');
  return context.schedule;
}

function planOf(context: ScheduleContext): FirePlan {
  if (context.plan === null) throw new Error(`schedule ${context.schedule?.id}: no plan (machine bug)`);
  return context.plan;
}

/** The machine's output from its context. */
export function scheduleOutput(context: ScheduleContext): ScheduleOutput {
  const output: ScheduleOutput = {
    scheduleId: context.scheduleId,
    end: context.end ?? 'failed',
    schedule: context.schedule,
    recordRevision: context.recordRevision,
    jobIds: context.jobIds,
  };
  if (context.error !== null) output.error = context.error;
  return output;
}

const sameTime = (a: Date | null, b: Date | null): boolean => (a === null ? b === null : b !== null && a.getTime() === b.getTime());

export function scheduleSetup(deps: ScheduleMachineDeps) {
  return setup({
    types: {} as { context: ScheduleContext; events: ScheduleMachineEvent; input: ScheduleInput; output: ScheduleOutput },
    guards: {
      isPaused: ({ context }) => recordOf(context).paused,
      hasFires: ({ context }) => planOf(context).fires.length > 0,
      /** Nothing to publish, but the record's next fire time must move (e.g. all due times skipped). */
      mustAdvance: ({ context }) => !sameTime(planOf(context).nextFireTime, recordOf(context).nextFireTime),
      canReload: ({ context }) => context.reloads < MAX_RELOADS,
    },
    actions: {
      // ---- effects (provided by src/actors; each answers with an event) ----
      /** Effect: queue one job per fire; answers JOBS_PUBLISHED or EFFECT_FAILED. */
      publishJobs: (_, _params: PublishJobsParams) => {},
      /** Effect: revision-checked advance; answers SCHEDULE_ADVANCED, ADVANCE_CONFLICT or EFFECT_FAILED. */
      advanceSchedule: (_, _params: AdvanceScheduleParams) => {},
      /** Effect: read the record; answers SCHEDULE_LOADED, SCHEDULE_GONE or EFFECT_FAILED. */
      loadSchedule: (_, _params: LoadScheduleParams) => {},

      makePlan: assign(({ context }) => ({ plan: planFires(recordOf(context), new Date(context.now), deps) })),
      recordPublished: assign(({ event }) => {
        assertEvent(event, 'JOBS_PUBLISHED');
        return { jobIds: event.jobIds };
      }),
      recordAdvance: assign(({ context, event }) => {
        assertEvent(event, 'SCHEDULE_ADVANCED');
        const plan = planOf(context);
        return {
          schedule: { ...recordOf(context), nextFireTime: plan.nextFireTime, lastFireTime: plan.lastFireTime },
          recordRevision: event.recordRevision,
        };
      }),
      recordReload: assign(({ context, event }) => {
        assertEvent(event, 'SCHEDULE_LOADED');
        return { schedule: event.schedule, recordRevision: event.recordRevision, now: event.now, plan: null, reloads: context.reloads + 1 };
      }),
      recordFailure: assign(({ event }) => {
        assertEvent(event, 'EFFECT_FAILED');
        return { end: 'failed' as const, error: event.error };
      }),
      end: assign((_, params: { end: FiringEnd }) => ({ end: params.end })),
      endRemoved: assign({ end: 'removed' as const, schedule: null }),
      /** Tells the scheduler the firing is over (once: a final state is entered once). */
      reportEnd: sendParent(({ context }): FiringEndedEvent => ({ type: 'FIRING_ENDED', output: scheduleOutput(context) })),
    },
  });
}

/** Params of the publish effect. */
export const publishParams = ({ context }: { context: ScheduleContext }): PublishJobsParams => ({
  schedule: recordOf(context),
  fires: planOf(context).fires,
});

/** Params of the advance effect. */
export const advanceParams = ({ context }: { context: ScheduleContext }): AdvanceScheduleParams => {
  const plan = planOf(context);
  return { schedule: recordOf(context), recordRevision: context.recordRevision, nextFireTime: plan.nextFireTime, lastFireTime: plan.lastFireTime };
};

/** Params of the load effect. */
export const loadParams = ({ context }: { context: ScheduleContext }): LoadScheduleParams => ({ scheduleId: context.scheduleId });
