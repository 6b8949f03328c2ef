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
 * final state (and which the worker also derives from a job actor's error event: a crashed job
 * never reaches its final state). While the queue looks empty the worker is `waiting` on a long poll: the
 * queue hands it a job the moment one is added (milliseconds), and the poll ends after
 * `pollIntervalMs` at the latest to be asked again — so even a lost delivery costs at most one poll
 * interval. A fetch asks for at most the free slots.
 *
 * Job actors are not spawned children: the `startJobs` effect creates each one with the worker as
 * its parent (XState's `createActor(logic, { parent })`), so SLOT_RELEASED and the done event
 * reach the worker while the worker's own snapshot does not copy a children map per job.
 */
import { assertEvent, assign, not, raise, setup } from 'xstate';
import { InvalidMachineInputError } from './errors.js';
import { nextFetchRetryDelay, planFetchedJobs, sortedHas, sortedWithout } from './worker-plan.js';
import type { FetchJobsParams, ReturnUnstartedJobsParams, StartJobsParams, WorkerEvent, WorkerInput } from './worker-types.js';

const CHILD_DONE = 'xstate.done.actor.';
const CHILD_ERROR = 'xstate.error.actor.';

type WorkerMachineEvent =
  | WorkerEvent
  /** A job actor (whose parent is the worker) finished or crashed. */
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

/** The job id in a child actor's done/error event type, if it is one of ours. */
function childJobId(context: WorkerContext, eventType: string): string | undefined {
  const prefix = eventType.startsWith(CHILD_DONE) ? CHILD_DONE : eventType.startsWith(CHILD_ERROR) ? CHILD_ERROR : null;
  if (prefix === null) return undefined;
  const id = eventType.slice(prefix.length);
  return sortedHas(context.running, id) ? id : undefined;
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
    isRunningJobEnd: ({ context, event }) => childJobId(context, event.type) !== undefined,
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
    releaseSlotOfEndedJob: raise(({ context, event }) => ({ type: 'SLOT_RELEASED' as const, jobId: childJobId(context, event.type) ?? '' })),
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
    // A job actor that crashed never reaches `done`, so its error event frees its slot. Its done
    // event is not handled at all: SLOT_RELEASED came first, and a wildcard on done events would
    // make every job's done event cost the worker a descriptor match (~15 µs) for nothing.
    'xstate.error.actor.*': { guard: 'isRunningJobEnd', actions: 'releaseSlotOfEndedJob' },
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
