/**
 * The node machine: one per process. It owns the worker (job side) and the scheduler (schedule
 * side) according to its role, tracks the store connection, and drains or stops both.
 *
 *   created ──START──▶ running ═══════════════════════════════════════════╗
 *                        lifecycle:  active ─DRAIN─▶ draining ─STOP─▶ stopping
 *                                    active ─STOP─▶ stopping
 *                        connection: up ⇄ down   (CONNECTION_LOST / CONNECTION_RESTORED,
 *                                                 forwarded: a worker stops fetching while down)
 *                        worker:     active (invokes `worker`) | disabled (role) → ended
 *                        scheduler:  active (invokes `scheduler`) | disabled (role) → ended
 *                      ╚═ (draining or stopping, and both sides ended) ═▶ stopped (final)
 *
 * DRAIN lets running jobs finish (worker DRAIN) and stops the scheduler (its firings in flight end;
 * the runtime then releases its partitions so another node fires them); STOP hands running jobs back
 * (worker STOP → job SHUTDOWN → requeue).
 */
import { and, enqueueActions, not, or, setup, stateIn } from 'xstate';
import { InvalidMachineInputError } from './errors.js';
import { schedulerMachine } from './scheduler-machine.js';
import type { SchedulerInput } from './scheduler-machine.js';
import { workerMachine } from './worker-machine.js';
import type { WorkerInput } from './worker-types.js';

/** What a node runs. */
export const NodeRole = { both: 'both', scheduler: 'scheduler', worker: 'worker' } as const;
export type NodeRole = (typeof NodeRole)[keyof typeof NodeRole];

export interface NodeInput {
  /** @defaultValue 'both' */
  role?: NodeRole;
  /** Input of the worker (when the role runs jobs). @defaultValue {} */
  worker?: WorkerInput;
  /** Input of the scheduler coordinator (when the role runs schedules). @defaultValue {} */
  scheduler?: SchedulerInput;
}

export type NodeEvent =
  | { type: 'START' }
  /** Finish running jobs, stop schedules, then stop. */
  | { type: 'DRAIN' }
  /** Hand running jobs back, stop schedules, then stop. */
  | { type: 'STOP' }
  | { type: 'CONNECTION_LOST' }
  | { type: 'CONNECTION_RESTORED' }
  /** Forwarded to the worker. */
  | { type: 'CAPACITY_CHANGED'; capacity: number }
  | { type: 'JOB_AVAILABLE' }
  /** Restored from a persisted snapshot: forwarded to both sides (timers are not persisted). */
  | { type: 'RESTORED' };

export interface NodeContext {
  role: NodeRole;
  workerInput: WorkerInput;
  schedulerInput: SchedulerInput;
}

const runsJobs = (role: NodeRole) => role !== 'scheduler';
const runsSchedules = (role: NodeRole) => role !== 'worker';

const WORKER_ACTIVE = '#node.running.worker.active';
const SCHEDULER_ACTIVE = '#node.running.scheduler.active';
// Cast: enqueueActions' `check` inside setup() is typed for no named guards, which stateIn's
// inline predicate does not match; the predicate itself needs none.
const workerActive = stateIn(WORKER_ACTIVE) as never;
const schedulerActive = stateIn(SCHEDULER_ACTIVE) as never;

export const nodeMachine = setup({
  types: {} as { context: NodeContext; events: NodeEvent; input: NodeInput },
  actors: { worker: workerMachine, scheduler: schedulerMachine },
  guards: {
    runsJobs: ({ context }) => runsJobs(context.role),
    runsSchedules: ({ context }) => runsSchedules(context.role),
    bothSidesEnded: and([
      or([stateIn('#node.running.lifecycle.draining'), stateIn('#node.running.lifecycle.stopping')]),
      not(stateIn(WORKER_ACTIVE)),
      not(stateIn(SCHEDULER_ACTIVE)),
    ]),
  },
  actions: {
    // Children exist only while their region is active; `check` keeps sends from missing them.
    toWorker: enqueueActions(({ event, enqueue, check }) => {
      if (check(workerActive)) enqueue.sendTo('worker', event as never);
    }),
    toScheduler: enqueueActions(({ event, enqueue, check }) => {
      if (check(schedulerActive)) enqueue.sendTo('scheduler', event as never);
    }),
    drainSides: enqueueActions(({ enqueue, check }) => {
      if (check(workerActive)) enqueue.sendTo('worker', { type: 'DRAIN' });
      if (check(schedulerActive)) enqueue.sendTo('scheduler', { type: 'STOP' });
    }),
    stopSides: enqueueActions(({ enqueue, check }) => {
      if (check(workerActive)) enqueue.sendTo('worker', { type: 'STOP' });
      if (check(schedulerActive)) enqueue.sendTo('scheduler', { type: 'STOP' });
    }),
  },
}).createMachine({
  id: 'node',
  context: ({ input }) => {
    const role = input.role ?? 'both';
    if (!(role in NodeRole)) {
      throw new InvalidMachineInputError('node', 'role', role, "use 'both', 'scheduler' or 'worker' (default 'both')");
    }
    return { role, workerInput: input.worker ?? {}, schedulerInput: input.scheduler ?? {} };
  },
  initial: 'created',
  states: {
    created: { on: { START: 'running', STOP: 'stopped' } },
    running: {
      type: 'parallel',
      always: { guard: 'bothSidesEnded', target: 'stopped' },
      on: {
        CAPACITY_CHANGED: { actions: 'toWorker' },
        JOB_AVAILABLE: { actions: 'toWorker' },
        RESTORED: { actions: ['toWorker', 'toScheduler'] },
      },
      states: {
        lifecycle: {
          initial: 'active',
          states: {
            active: { on: { DRAIN: { target: 'draining', actions: 'drainSides' }, STOP: { target: 'stopping', actions: 'stopSides' } } },
            draining: { on: { STOP: { target: 'stopping', actions: 'stopSides' } } },
            stopping: {},
          },
        },
        connection: {
          initial: 'up',
          states: {
            up: { on: { CONNECTION_LOST: { target: 'down', actions: 'toWorker' } } },
            down: { on: { CONNECTION_RESTORED: { target: 'up', actions: 'toWorker' } } },
          },
        },
        worker: {
          initial: 'starting',
          states: {
            starting: { always: [{ guard: 'runsJobs', target: 'active' }, { target: 'disabled' }] },
            active: {
              invoke: {
                id: 'worker',
                src: 'worker',
                input: ({ context }) => context.workerInput,
                onDone: 'ended',
                onError: 'ended',
              },
            },
            disabled: {},
            ended: {},
          },
        },
        scheduler: {
          initial: 'starting',
          states: {
            starting: { always: [{ guard: 'runsSchedules', target: 'active' }, { target: 'disabled' }] },
            active: {
              invoke: {
                id: 'scheduler',
                src: 'scheduler',
                input: ({ context }) => context.schedulerInput,
                onDone: 'ended',
                onError: 'ended',
              },
            },
            disabled: {},
            ended: {},
          },
        },
      },
    },
    stopped: { type: 'final' },
  },
});
