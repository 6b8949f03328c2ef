/**
 * The worker machine: capacity, the running set, and when to fetch.
 *
 *            ┌──────────── JOB_AVAILABLE / POLL ───────────┐
 *            ▼                                              │
 *   ──▶ deciding ──(no free slot)──▶ full ──SLOT_RELEASED──▶ deciding
 *        │  │                                               ▲
 *        │  └─(job may be available)─▶ fetching ─JOBS_FETCHED┘   (error → backingOff → deciding)
 *        └─(otherwise)──▶ idle ─────────────────────────────┘   (POLL every pollInterval)
 *   any of idle/fetching/full/backingOff ─CONNECTION_LOST─▶ offline ─CONNECTION_RESTORED─▶ deciding
 *   DRAIN ─▶ draining ─(no jobs)─▶ stopped      STOP ─▶ stopping (SHUTDOWN to jobs) ─(no jobs)─▶ stopped
 *
 * Why it cannot stall (G2): `deciding` is the only way out of every waiting state, and it fetches
 * whenever a slot is free and a job may be available; `full` leaves on SLOT_RELEASED, which the job
 * machine sends from its final state (and which the worker also derives from a job actor's done or
 * error event, should a job logic not send it); `idle` carries a POLL timer, so a lost
 * JOB_AVAILABLE costs at most one poll interval. `jobAvailable` is cleared when a fetch starts, so a
 * notification that arrives during the fetch makes the worker fetch again instead of being lost.
 */
import { assertEvent, assign, cancel, enqueueActions, fromPromise, not, raise, setup } from 'xstate';
import { EffectNotProvidedError, InvalidMachineInputError } from './errors.js';
import { jobMachine } from './job-machine.js';
import { leaseTiming } from './lease-timing.js';
import { jobInputFor, nextFetchRetryDelay, planFetchedJobs } from './worker-plan.js';
import type { FetchedJob, FetchJobsInput, ReturnUnstartedJobsParams, WorkerEvent, WorkerInput } from './worker-types.js';

const CHILD_DONE = 'xstate.done.actor.';
const CHILD_ERROR = 'xstate.error.actor.';

type WorkerMachineEvent =
  | WorkerEvent
  /** Raised from fetchJobs' answer. */
  | { type: 'JOBS_FETCHED'; jobs: FetchedJob[] }
  /** A child actor (a job) finished or crashed. */
  | { type: `xstate.done.actor.${string}`; output?: unknown }
  | { type: `xstate.error.actor.${string}`; error?: unknown };

export interface WorkerContext {
  capacity: number;
  /** Ids of running job actors (sorted). */
  running: string[];
  /** A job may be waiting in the queue for us (notified, polled, or the last fetch came back full). */
  jobAvailable: boolean;
  /** `max` of the fetch in flight. */
  fetchMax: number;
  /** Pause before the next fetch after a failure; 0 while fetches succeed. */
  fetchRetryDelayMs: number;
  pollIntervalMs: number;
  leaseDurationMs: number;
  fetchRetryInitialMs: number;
  fetchRetryMaxMs: number;
  nodeId: string | null;
}

function positive(field: string, value: number, fix: string): number {
  if (!(Number.isFinite(value) && value > 0)) throw new InvalidMachineInputError('worker', field, value, fix);
  return value;
}

function initialWorkerContext(input: WorkerInput): WorkerContext {
  const capacity = input.maxConcurrentJobs ?? 100;
  if (!(Number.isInteger(capacity) && capacity >= 0)) {
    throw new InvalidMachineInputError('worker', 'maxConcurrentJobs', capacity, 'use an integer ≥ 0 (default 100)');
  }
  const leaseDurationMs = input.leaseDurationMs ?? 30_000;
  leaseTiming('worker', leaseDurationMs);
  const fetchRetryInitialMs = positive('fetchRetryInitialMs', input.fetchRetryInitialMs ?? 100, 'use a positive ms value (default 100)');
  return {
    capacity,
    running: [],
    // A fresh worker does not know the queue is empty: look once.
    jobAvailable: true,
    fetchMax: 0,
    fetchRetryDelayMs: 0,
    pollIntervalMs: positive('pollIntervalMs', input.pollIntervalMs ?? 1000, 'use a positive ms value (default 1000)'),
    leaseDurationMs,
    fetchRetryInitialMs,
    fetchRetryMaxMs: Math.max(fetchRetryInitialMs, input.fetchRetryMaxMs ?? 5000),
    nodeId: input.nodeId ?? null,
  };
}

/** The job id in a child actor's done/error event type, if it is one of ours. */
function childJobId(context: WorkerContext, eventType: string): string | undefined {
  const prefix = eventType.startsWith(CHILD_DONE) ? CHILD_DONE : eventType.startsWith(CHILD_ERROR) ? CHILD_ERROR : null;
  if (prefix === null) return undefined;
  const id = eventType.slice(prefix.length);
  return context.running.includes(id) ? id : undefined;
}

export const workerMachine = setup({
  types: {} as { context: WorkerContext; events: WorkerMachineEvent; input: WorkerInput },
  actors: {
    fetchJobs: fromPromise<FetchedJob[], FetchJobsInput>(() => Promise.reject(new EffectNotProvidedError('worker', 'fetchJobs'))),
    job: jobMachine,
  },
  delays: {
    pollInterval: ({ context }) => context.pollIntervalMs,
    fetchRetry: ({ context }) => context.fetchRetryDelayMs,
  },
  guards: {
    hasFreeSlot: ({ context }) => context.running.length < context.capacity,
    jobMayBeAvailable: ({ context }) => context.jobAvailable,
    noJobsRunning: ({ context }) => context.running.length === 0,
    isValidCapacity: ({ event }) => event.type === 'CAPACITY_CHANGED' && Number.isInteger(event.capacity) && event.capacity >= 0,
    isRunningJobEnd: ({ context, event }) => childJobId(context, event.type) !== undefined,
    isRunningJobRelease: ({ context, event }) => event.type === 'SLOT_RELEASED' && context.running.includes(event.jobId),
  },
  actions: {
    /** Effect: hand unstarted deliveries back to the queue. Default: none (redelivery after ack wait). */
    returnUnstartedJobs: (_, _params: ReturnUnstartedJobsParams) => {},
    noteJobAvailable: assign({ jobAvailable: true }),
    armPoll: raise({ type: 'POLL' }, { delay: 'pollInterval', id: 'poll' }),
    beginFetch: assign(({ context }) => ({ jobAvailable: false, fetchMax: context.capacity - context.running.length })),
    startFetchedJobs: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'JOBS_FETCHED');
      const plan = planFetchedJobs(context.running, context.capacity, event.jobs);
      for (const item of plan.start) enqueue.spawnChild('job', { id: item.job.id, input: jobInputFor(item, context) });
      // Cast: setup() cannot type a named action referenced from another named action.
      for (const group of plan.giveBack) enqueue({ type: 'returnUnstartedJobs', params: group } as never);
      enqueue.assign({
        running: plan.running,
        // A full answer means the queue may hold more; a notification during the fetch says so too.
        jobAvailable: context.jobAvailable || event.jobs.length >= context.fetchMax,
        fetchRetryDelayMs: 0,
      });
    }),
    backOffFetching: assign(({ context }) => ({
      jobAvailable: true,
      fetchRetryDelayMs: nextFetchRetryDelay(context.fetchRetryDelayMs, context.fetchRetryInitialMs, context.fetchRetryMaxMs),
    })),
    forgetJob: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'SLOT_RELEASED');
      if (!context.running.includes(event.jobId)) return;
      enqueue.assign({ running: context.running.filter((id) => id !== event.jobId) });
      // Drop the finished actor so snapshots stay small and a redelivered job can run again here.
      enqueue.stopChild(event.jobId);
    }),
    releaseSlotOfEndedJob: raise(({ context, event }) => ({ type: 'SLOT_RELEASED' as const, jobId: childJobId(context, event.type) ?? '' })),
    changeCapacity: assign(({ context, event }) => {
      assertEvent(event, 'CAPACITY_CHANGED');
      return { capacity: event.capacity, running: context.running };
    }),
    shutdownRunningJobs: enqueueActions(({ context, enqueue }) => {
      for (const id of context.running) enqueue.sendTo(id, { type: 'SHUTDOWN' });
    }),
    forwardRestored: enqueueActions(({ context, enqueue }) => {
      for (const id of context.running) enqueue.sendTo(id, { type: 'RESTORED' });
    }),
  },
}).createMachine({
  id: 'worker',
  context: ({ input }) => initialWorkerContext(input),
  initial: 'deciding',
  on: {
    JOB_AVAILABLE: { actions: 'noteJobAvailable' },
    SLOT_RELEASED: { actions: 'forgetJob' },
    CAPACITY_CHANGED: { guard: 'isValidCapacity', actions: 'changeCapacity' },
    'xstate.done.actor.*': { guard: 'isRunningJobEnd', actions: 'releaseSlotOfEndedJob' },
    'xstate.error.actor.*': { guard: 'isRunningJobEnd', actions: 'releaseSlotOfEndedJob' },
    RESTORED: { actions: 'forwardRestored' },
    STOP: '.stopping',
  },
  states: {
    // Transient: the single place that turns "free slot + maybe a job" into a fetch.
    deciding: {
      always: [
        { guard: not('hasFreeSlot'), target: 'full' },
        { guard: 'jobMayBeAvailable', target: 'fetching' },
        { target: 'idle' },
      ],
    },
    idle: {
      entry: 'armPoll',
      exit: cancel('poll'),
      on: {
        JOB_AVAILABLE: { target: 'deciding', actions: 'noteJobAvailable' },
        POLL: { target: 'deciding', actions: 'noteJobAvailable' },
        // Notifications may have been lost while the connection was down, even unnoticed.
        CONNECTION_RESTORED: { target: 'deciding', actions: 'noteJobAvailable' },
        CAPACITY_CHANGED: { guard: 'isValidCapacity', target: 'deciding', actions: 'changeCapacity' },
        RESTORED: { target: 'deciding', actions: ['forwardRestored', 'noteJobAvailable'] },
        DRAIN: 'draining',
        CONNECTION_LOST: 'offline',
      },
    },
    fetching: {
      entry: 'beginFetch',
      invoke: {
        id: 'fetchJobs',
        src: 'fetchJobs',
        input: ({ context }) => ({ max: context.fetchMax }),
        onDone: { actions: raise(({ event }) => ({ type: 'JOBS_FETCHED' as const, jobs: event.output })) },
        onError: { target: 'backingOff', actions: 'backOffFetching' },
      },
      on: {
        JOBS_FETCHED: { target: 'deciding', actions: 'startFetchedJobs' },
        DRAIN: 'draining',
        CONNECTION_LOST: 'offline',
      },
    },
    full: {
      on: {
        SLOT_RELEASED: { guard: 'isRunningJobRelease', target: 'deciding', actions: 'forgetJob' },
        CAPACITY_CHANGED: { guard: 'isValidCapacity', target: 'deciding', actions: 'changeCapacity' },
        DRAIN: 'draining',
        CONNECTION_LOST: 'offline',
      },
    },
    backingOff: {
      after: { fetchRetry: 'deciding' },
      on: {
        RESTORED: { target: 'deciding', actions: 'forwardRestored' },
        DRAIN: 'draining',
        CONNECTION_LOST: 'offline',
      },
    },
    offline: {
      on: {
        CONNECTION_RESTORED: { target: 'deciding', actions: 'noteJobAvailable' },
        DRAIN: 'draining',
      },
    },
    draining: {
      always: { guard: 'noJobsRunning', target: 'stopped' },
    },
    stopping: {
      entry: 'shutdownRunningJobs',
      always: { guard: 'noJobsRunning', target: 'stopped' },
      on: { STOP: { actions: [] } },
    },
    stopped: { type: 'final' },
  },
});
