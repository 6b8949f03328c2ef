/**
 * The schedule machine's vocabulary: context, effects (setup.actors placeholders that src/actors
 * provides), guards, actions and delays. Built per ScheduleMachineDeps because fire planning uses
 * the injected `nextFireTime` and `random`. The chart is in schedule-machine.ts.
 */
import { assertEvent, assign, enqueueActions, fromPromise, setup } from 'xstate';
import type { ScheduleRecord } from '../records.js';
import { EffectNotProvidedError, InvalidMachineInputError } from './errors.js';
import type { LeaseGrant, LeaseTiming } from './lease-timing.js';
import { leaseTiming } from './lease-timing.js';
import { delayUntil, planFires } from './schedule-fires.js';
import type {
  AcquireScheduleLeaseInput,
  AcquireScheduleLeaseOutput,
  AdvanceScheduleInput,
  AdvanceScheduleOutput,
  CreateJobsInput,
  CreateJobsOutput,
  LoadScheduleInput,
  LoadScheduleOutput,
  PlannedFire,
  ReleaseScheduleLeaseInput,
  RenewScheduleLeaseInput,
  RenewScheduleLeaseOutput,
  ScheduleEnd,
  ScheduleEvent,
  ScheduleInput,
  ScheduleMachineDeps,
  ScheduleOutput,
} from './schedule-types.js';

/** Effect answers turned into domain events, so the inspector shows them by name. */
export type ScheduleInternalEvent =
  | { type: 'LEASE_ACQUIRED'; lease: LeaseGrant; now: number; schedule: ScheduleRecord; recordRevision: number }
  | { type: 'LEASE_HELD_ELSEWHERE' }
  | { type: 'SCHEDULE_GONE' }
  | { type: 'SCHEDULE_ADVANCED'; recordRevision: number; now: number }
  | { type: 'ADVANCE_CONFLICT' }
  | { type: 'SCHEDULE_LOADED'; schedule: ScheduleRecord; recordRevision: number; now: number }
  | { type: 'PROVE_LEASE' };

export type ScheduleMachineEvent = ScheduleEvent | ScheduleInternalEvent;

export interface ScheduleContext {
  schedule: ScheduleRecord;
  recordRevision: number;
  timing: LeaseTiming;
  standbyRetryMs: number;
  lease: LeaseGrant | null;
  /** Clock reading (ms since epoch) of the latest store answer: the machine's only "now". */
  now: number;
  /** Renewal requests started so far (numbers them for proofs). */
  renewalsStarted: number;
  /** A firing waits for a renewal numbered at least this (started after it asked); null = none. */
  proofFromSeq: number | null;
  /** The firing in progress: jobs to create and where the record advances to. */
  firing: { fires: PlannedFire[]; nextFireTime: Date | null; lastFireTime: Date | null } | null;
  end: ScheduleEnd | null;
}

export function initialScheduleContext(input: ScheduleInput): ScheduleContext {
  const timing = leaseTiming('schedule', input.leaseDurationMs);
  const standbyRetryMs = input.standbyRetryMs ?? input.leaseDurationMs;
  if (!(Number.isFinite(standbyRetryMs) && standbyRetryMs > 0)) {
    throw new InvalidMachineInputError('schedule', 'standbyRetryMs', standbyRetryMs, 'use a positive ms value (default: the lease duration)');
  }
  return {
    schedule: input.schedule,
    recordRevision: input.recordRevision ?? 0,
    timing,
    standbyRetryMs,
    lease: null,
    now: 0,
    renewalsStarted: 0,
    proofFromSeq: null,
    firing: null,
    end: null,
  };
}

function notProvided(effect: string): () => Promise<never> {
  return () => Promise.reject(new EffectNotProvidedError('schedule', effect));
}

export function heldScheduleLease(context: ScheduleContext): LeaseGrant {
  if (context.lease === null) throw new Error(`schedule ${context.schedule.id}: no lease while holding (machine bug)`);
  return context.lease;
}

export function acquisitionEvent(output: AcquireScheduleLeaseOutput): ScheduleMachineEvent {
  switch (output.status) {
    case 'acquired':
      return { type: 'LEASE_ACQUIRED', ...output };
    case 'held_elsewhere':
      return { type: 'LEASE_HELD_ELSEWHERE' };
    case 'removed':
      return { type: 'SCHEDULE_GONE' };
  }
}

export function renewalEvent(output: RenewScheduleLeaseOutput, seq: number): ScheduleMachineEvent {
  return output.status === 'renewed'
    ? { type: 'LEASE_RENEWED', lease: output.lease, now: output.now, seq }
    : { type: 'LEASE_LOST', reason: output.reason };
}

export function advanceEvent(output: AdvanceScheduleOutput): ScheduleMachineEvent {
  return output.status === 'advanced'
    ? { type: 'SCHEDULE_ADVANCED', recordRevision: output.recordRevision, now: output.now }
    : { type: 'ADVANCE_CONFLICT' };
}

export function loadEvent(output: LoadScheduleOutput): ScheduleMachineEvent {
  return output.status === 'loaded' ? { type: 'SCHEDULE_LOADED', ...output } : { type: 'SCHEDULE_GONE' };
}

export function scheduleSetup(deps: ScheduleMachineDeps) {
  return setup({
    types: {} as {
      context: ScheduleContext;
      events: ScheduleMachineEvent;
      input: ScheduleInput;
      output: ScheduleOutput;
    },
    actors: {
      acquireScheduleLease: fromPromise<AcquireScheduleLeaseOutput, AcquireScheduleLeaseInput>(notProvided('acquireScheduleLease')),
      renewScheduleLease: fromPromise<RenewScheduleLeaseOutput, RenewScheduleLeaseInput>(notProvided('renewScheduleLease')),
      createJobs: fromPromise<CreateJobsOutput, CreateJobsInput>(notProvided('createJobs')),
      advanceSchedule: fromPromise<AdvanceScheduleOutput, AdvanceScheduleInput>(notProvided('advanceSchedule')),
      loadSchedule: fromPromise<LoadScheduleOutput, LoadScheduleInput>(notProvided('loadSchedule')),
      releaseScheduleLease: fromPromise<void, ReleaseScheduleLeaseInput>(notProvided('releaseScheduleLease')),
    },
    delays: {
      effectRetry: ({ context }) => context.timing.effectRetryMs,
      standbyRetry: ({ context }) => context.standbyRetryMs,
    },
    guards: {
      isPaused: ({ context }) => context.schedule.paused,
      isExhausted: ({ context }) => context.schedule.nextFireTime === null,
      nothingDue: ({ context }) => context.firing === null || context.firing.fires.length === 0,
      isNewerRecord: ({ context, event }) => event.type === 'SCHEDULE_UPDATED' && event.recordRevision > context.recordRevision,
      provesLease: ({ context, event }) =>
        event.type === 'LEASE_RENEWED' && context.proofFromSeq !== null && event.seq >= context.proofFromSeq,
      proofStillOwed: ({ context, event }) =>
        event.type === 'LEASE_RENEWED' && context.proofFromSeq !== null && event.seq < context.proofFromSeq,
      endedFinished: ({ context }) => context.end === 'finished',
      endedRemoved: ({ context }) => context.end === 'removed',
    },
    actions: {
      // Each arm cancels its timer first, so re-arming (RESTORED) never leaves a stale duplicate.
      armRenewal: enqueueActions(({ context, enqueue }) => {
        enqueue.cancel('renewDue');
        enqueue.raise({ type: 'RENEW_DUE' }, { delay: context.timing.renewIntervalMs, id: 'renewDue' });
      }),
      armRenewalDeadline: enqueueActions(({ context, enqueue }) => {
        enqueue.cancel('renewalDeadline');
        enqueue.raise({ type: 'LEASE_LOST', reason: 'renewal_deadline' }, { delay: context.timing.renewalDeadlineMs, id: 'renewalDeadline' });
      }),
      armFireTimer: enqueueActions(({ context, enqueue }) => {
        enqueue.cancel('fireDue');
        const next = context.schedule.nextFireTime;
        if (next !== null) enqueue.raise({ type: 'FIRE_DUE' }, { delay: delayUntil(next, context.now), id: 'fireDue' });
      }),
      countRenewalRequest: assign(({ context }) => ({ renewalsStarted: context.renewalsStarted + 1 })),
      recordAcquisition: assign(({ context, event }) => {
        assertEvent(event, 'LEASE_ACQUIRED');
        // Keep whichever record is newer: the read at acquisition or an update the watch delivered.
        const fresher = event.recordRevision >= context.recordRevision;
        return {
          lease: event.lease,
          now: event.now,
          schedule: fresher ? event.schedule : context.schedule,
          recordRevision: fresher ? event.recordRevision : context.recordRevision,
        };
      }),
      recordRenewal: assign(({ event }) => {
        assertEvent(event, 'LEASE_RENEWED');
        return { lease: event.lease, now: event.now };
      }),
      recordUpdate: assign(({ event }) => {
        assertEvent(event, 'SCHEDULE_UPDATED');
        return { schedule: event.schedule, recordRevision: event.recordRevision, now: event.now };
      }),
      recordLoad: assign(({ event }) => {
        assertEvent(event, 'SCHEDULE_LOADED');
        return { schedule: event.schedule, recordRevision: event.recordRevision, now: event.now };
      }),
      recordAdvance: assign(({ context, event }) => {
        assertEvent(event, 'SCHEDULE_ADVANCED');
        const firing = context.firing;
        if (firing === null) throw new Error(`schedule ${context.schedule.id}: advanced without a firing (machine bug)`);
        return {
          schedule: { ...context.schedule, nextFireTime: firing.nextFireTime, lastFireTime: firing.lastFireTime },
          recordRevision: event.recordRevision,
          now: event.now,
          firing: null,
        };
      }),
      requestProof: assign(({ context }) => ({ proofFromSeq: context.renewalsStarted + 1 })),
      clearProof: assign({ proofFromSeq: null }),
      planFiring: assign(({ context }) => ({ firing: planFires(context.schedule, new Date(context.now), deps) })),
      forgetLease: assign({ lease: null }),
      endWith: assign((_, params: { end: ScheduleEnd }) => ({ end: params.end })),
    },
  });
}

export type ScheduleSetup = ReturnType<typeof scheduleSetup>;
