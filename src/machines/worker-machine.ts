/**
 * The worker machine: capacity, the running set, and when to fetch.
 *
 *            ┌──────────────── JOBS_FETCHED ────────────────┐
 *            ▼                                               │
 *   ──▶ deciding ──(no free slot)──▶ full ──SLOT_RELEASED──▶ deciding
 *        │  │                                               ▲
 *        │  ├─(job may be available)─▶ fetching  ───────────┤  (FETCH_FAILED → backingOff → deciding)
 *        │  └─(queue looked empty)───▶ waiting (long poll) ─┘
 *   any of fetching/waiting/full/backingOff ─CONNECTION_LOST─▶ offline ─CONNECTION_RESTORED─▶ deciding
 *   DRAIN ─▶ draining ─(no jobs)─▶ stopped      STOP ─▶ stopping (SHUTDOWN to jobs) ─(no jobs)─▶ stopped
 *
 * Why it cannot stall (G2): `deciding` is the only way out of every waiting state, and it fetches
 * whenever a slot is free; `full` leaves on SLOT_RELEASED, which the job machine sends from its
 * final state (a job actor that crashes never reaches it: its host, src/actors/job-host.ts, sends
 * SLOT_RELEASED for it). While the queue looks empty the worker is `waiting` on a long poll: the
 * queue hands it a job the moment one is added (milliseconds), and the poll ends after
 * `pollIntervalMs` at the latest to be asked again — so even a lost delivery costs at most one poll
 * interval. A fetch asks for at most the free slots.
 *
 * Job actors are not spawned children: the `startJobs` effect creates each one with the worker as
 * its parent (XState's `createActor(logic, { parent })`), so SLOT_RELEASED and the done event
 * reach the worker while the worker's own snapshot does not copy a children map per job. The
 * worker never reads a child's id: XState memoizes transition candidates per event type and state
 * node for good, so done/error events named after each job (`xstate.done.actor.<jobId>`) would
 * grow that memo by every job ever run; the host gives every job actor one id.
 */
import { assertEvent, assign, not, setup } from 'xstate';
import { InvalidMachineInputError } from './errors.js';
import { nextFetchRetryDelay, planFetchedJobs, sortedHas, sortedWithout } from './worker-plan.js';
import type { FetchJobsParams, ReturnUnstartedJobsParams, StartJobsParams, WorkerEvent, WorkerInput } from './worker-types.js';

type WorkerMachineEvent =
  | WorkerEvent
  /** A job actor (whose parent is the worker) finished or crashed: nothing to do (see above). */
  | { type: `xstate.done.actor.${string}`; output?: unknown }
  | { type: `xstate.error.actor.${string}`; error?: unknown };

export interface WorkerContext {
  capacity: number;
  /** Ids of running job actors (sorted). */
  running: string[];
  /** A job may be waiting in the queue for us (the last fetch came back full, or a hint said so). */
  jobAvailable: boolean;
  /** `max` of the fetch in flight. */
  fetchMax: number;
  /** Pause before the next fetch after a failure; 0 while fetches succeed. */
  fetchRetryDelayMs: number;
  pollIntervalMs: number;
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
  const fetchRetryInitialMs = positive('fetchRetryInitialMs', input.fetchRetryInitialMs ?? 100, 'use a positive ms value (default 100)');
  return {
    capacity,
    running: [],
    // A fresh worker does not know the queue is empty: look once without waiting.
    jobAvailable: true,
    fetchMax: 0,
    fetchRetryDelayMs: 0,
    pollIntervalMs: positive('pollIntervalMs', input.pollIntervalMs ?? 1000, 'use a positive ms value (default 1000)'),
    fetchRetryInitialMs,
    fetchRetryMaxMs: Math.max(fetchRetryInitialMs, input.fetchRetryMaxMs ?? 5000),
    nodeId: input.nodeId ?? null,
  };
}

/** The fetched jobs' plan, read by the effects before `recordFetchedJobs` books it. */
function fetchedPlan({ context, event }: { context: WorkerContext; event: WorkerMachineEvent }) {
  assertEvent(event, 'JOBS_FETCHED');
  return planFetchedJobs(context.running, context.capacity, event.jobs);
}

const onJobsFetched = {
  target: 'deciding',
  actions: [
    { type: 'startJobs', params: (args: { context: WorkerContext; event: WorkerMachineEvent }): StartJobsParams => ({ jobs: fetchedPlan(args).start }) },
    { type: 'returnUnstartedJobs', params: (args: { context: WorkerContext; event: WorkerMachineEvent }) => ({ groups: fetchedPlan(args).giveBack }) },
    'recordFetchedJobs',
  ],
} as const;

const fetchParams =
  (waitMs: (context: WorkerContext) => number) =>
  ({ context }: { context: WorkerContext }): FetchJobsParams => ({ max: context.fetchMax, waitMs: waitMs(context) });

export const workerMachine = setup({
  types: {} as { context: WorkerContext; events: WorkerMachineEvent; input: WorkerInput },
  delays: {
    fetchRetry: ({ context }) => context.fetchRetryDelayMs,
  },
  guards: {
    hasFreeSlot: ({ context }) => context.running.length < context.capacity,
    jobMayBeAvailable: ({ context }) => context.jobAvailable,
    noJobsRunning: ({ context }) => context.running.length === 0,
    isValidCapacity: ({ event }) => event.type === 'CAPACITY_CHANGED' && Number.isInteger(event.capacity) && event.capacity >= 0,
    isRunningJobRelease: ({ context, event }) => event.type === 'SLOT_RELEASED' && sortedHas(context.running, event.jobId),
  },
  actions: {
    // ---- effects (provided by src/actors) ----
    /** Effect: fetch up to `max` jobs; answers JOBS_FETCHED or FETCH_FAILED. */
    fetchJobs: (_, _params: FetchJobsParams) => {},
    /** Effect: end the fetch in flight (the worker stopped waiting for it). */
    cancelFetch: () => {},
    /** Effect: run each job as a job actor whose parent is this worker. */
    startJobs: (_, _params: StartJobsParams) => {},
    /** Effect: hand unstarted deliveries back to the queue (duplicates of running jobs, or over capacity). */
    returnUnstartedJobs: (_, _params: { groups: ReturnUnstartedJobsParams[] }) => {},
    /** Effect: tell every running job actor to stop (SHUTDOWN: abort and requeue). */
    shutdownJobs: (_, _params: { jobIds: string[] }) => {},

    noteJobAvailable: assign({ jobAvailable: true }),
    beginFetch: assign(({ context }) => ({ jobAvailable: false, fetchMax: context.capacity - context.running.length })),
    /** Books the fetched jobs that start; runs after startJobs/returnUnstartedJobs computed theirs from the same plan. */
    recordFetchedJobs: assign(({ context, event }) => {
      assertEvent(event, 'JOBS_FETCHED');
      return {
        running: planFetchedJobs(context.running, context.capacity, event.jobs).running,
        // A full answer means the queue may hold more; a hint during the fetch says so too.
        jobAvailable: context.jobAvailable || event.jobs.length >= context.fetchMax,
        fetchRetryDelayMs: 0,
      };
    }),
    backOffFetching: assign(({ context }) => ({
      jobAvailable: true,
      fetchRetryDelayMs: nextFetchRetryDelay(context.fetchRetryDelayMs, context.fetchRetryInitialMs, context.fetchRetryMaxMs),
    })),
    forgetJob: assign(({ context, event }) => {
      assertEvent(event, 'SLOT_RELEASED');
      return { running: sortedWithout(context.running, event.jobId) as string[] };
    }),
    changeCapacity: assign(({ event }) => {
      assertEvent(event, 'CAPACITY_CHANGED');
      return { capacity: event.capacity };
    }),
  },
}).createMachine({
  id: 'worker',
  context: ({ input }) => initialWorkerContext(input),
  initial: 'deciding',
  on: {
    JOB_AVAILABLE: { actions: 'noteJobAvailable' },
    SLOT_RELEASED: { guard: 'isRunningJobRelease', actions: 'forgetJob' },
    CAPACITY_CHANGED: { guard: 'isValidCapacity', actions: 'changeCapacity' },
    // A job actor crashed: its host sends SLOT_RELEASED for it. Taken here only because XState
    // makes a parent that leaves a child's error event unhandled crash too.
    'xstate.error.actor.*': {},
    STOP: '.stopping',
  },
  states: {
    // Transient: the single place that turns "free slot" into a fetch.
    deciding: {
      always: [
        { guard: not('hasFreeSlot'), target: 'full' },
        { guard: 'jobMayBeAvailable', target: 'fetching' },
        { target: 'waiting' },
      ],
    },
    fetching: {
      entry: ['beginFetch', { type: 'fetchJobs', params: fetchParams(() => 0) }],
      exit: 'cancelFetch',
      on: {
        JOBS_FETCHED: onJobsFetched,
        FETCH_FAILED: { target: 'backingOff', actions: 'backOffFetching' },
        DRAIN: 'draining',
        CONNECTION_LOST: 'offline',
        RESTORED: 'deciding',
      },
    },
    // The queue looked empty: a long poll that the queue answers as soon as a job is added.
    waiting: {
      entry: ['beginFetch', { type: 'fetchJobs', params: fetchParams((context) => context.pollIntervalMs) }],
      exit: 'cancelFetch',
      on: {
        JOBS_FETCHED: onJobsFetched,
        FETCH_FAILED: { target: 'backingOff', actions: 'backOffFetching' },
        // Capacity grew, or a hint came: ask again now rather than at the end of the poll.
        CAPACITY_CHANGED: { guard: 'isValidCapacity', target: 'deciding', actions: 'changeCapacity' },
        JOB_AVAILABLE: { target: 'deciding', actions: 'noteJobAvailable' },
        DRAIN: 'draining',
        CONNECTION_LOST: 'offline',
        RESTORED: 'deciding',
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
        RESTORED: 'deciding',
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
      entry: { type: 'shutdownJobs', params: ({ context }) => ({ jobIds: context.running }) },
      always: { guard: 'noJobsRunning', target: 'stopped' },
      on: { STOP: { actions: [] } },
    },
    stopped: { type: 'final' },
  },
});
