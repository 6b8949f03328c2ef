/**
 * Builds and runs a node's statechart: the node machine with the worker (job side) and the
 * scheduler (schedule side) provided with this module's effects, and the outside world fed into it
 * as events — partition ownership and due fire times (PARTITIONS_CHANGED, FIRE_DUE), connection
 * changes, cancel requests. Job actors join this actor system with the worker as their parent
 * (job-host.ts), schedule actors with the scheduler as theirs (schedule-host.ts), so the inspector
 * shows the node, its worker and scheduler, every job and every firing as one system.
 */
import { createActor, type Actor, type AnyActorRef, type InspectionEvent, type Observer } from 'xstate';
import { nodeMachine, schedulerMachine, workerMachine } from '../machines/index.js';
import type { NodeRole } from '../machines/index.js';
import type { NodeContext } from '../runtime/node-context.js';
import { JobHost } from './job-host.js';
import { PartitionKeeper } from './partition-keeper.js';
import { ScheduleHost } from './schedule-host.js';
import { createWorkerEffects } from './worker-effects.js';

export interface NodeActorOptions {
  role: NodeRole;
  maxConcurrentJobs: number;
  pollIntervalMs: number;
  leaseDurationMs: number;
  inspect?: Observer<InspectionEvent>;
}

export type NodeActor = Actor<typeof nodeMachine>;

/** A running node actor and the feeds attached to it. */
export interface RunningNode {
  readonly actor: NodeActor;
  /** Resolves once the node machine reached its final state (after DRAIN or STOP). */
  readonly stopped: Promise<void>;
  /** The worker actor, when this node runs jobs. */
  worker(): AnyActorRef | undefined;
  /** The node's job actors and their lease keeper. */
  readonly jobs: JobHost;
  /** The node's schedules (when it runs schedules). */
  readonly schedules: ScheduleHost | null;
  /** The partitions this node owns (when it runs schedules). */
  readonly partitions: PartitionKeeper | null;
  /** Detaches the feeds, releases the partitions and stops the lease keeper (call after `stopped`). */
  detach(): Promise<void>;
}

export async function startNodeActor(node: NodeContext, opts: NodeActorOptions): Promise<RunningNode> {
  const { backend } = node;
  const jobs = new JobHost(node);
  const workerEffects = createWorkerEffects(node, jobs);
  const runsSchedules = opts.role !== 'worker';
  let partitions: PartitionKeeper | null = null;
  const schedules = runsSchedules ? new ScheduleHost(node, (p) => partitions?.isHeld(p) ?? false) : null;
  const logic = nodeMachine.provide({
    actors: {
      worker: workerMachine.provide({ actions: workerEffects.actions as never }),
      scheduler: schedulerMachine.provide({
        actions: {
          startFiring: ({ self }, params) => schedules?.startFiring(self, params.scheduleId),
          deferFiring: (_, params) => schedules?.deferFiring(params.scheduleId),
          firingEnded: (_, params) => schedules?.firingEnded(params.scheduleId, params.output),
        },
      }),
    },
  });
  const actor = createActor(logic, {
    id: `node-${node.nodeId}`,
    input: {
      role: opts.role,
      worker: {
        maxConcurrentJobs: opts.maxConcurrentJobs,
        pollIntervalMs: opts.pollIntervalMs,
        nodeId: node.nodeId,
      },
      scheduler: {},
    },
    ...(opts.inspect ? { inspect: opts.inspect } : {}),
  });
  const stopped = new Promise<void>((resolve) => {
    actor.subscribe({
      next: (s) => s.status === 'done' && resolve(),
      complete: () => resolve(),
      error: (error) => {
        node.reportError(error, 'node actor failed');
        resolve();
      },
    });
  });
  const detachers: (() => void)[] = [];
  actor.start();
  actor.send({ type: 'START' });

  const childOf = (id: string): AnyActorRef | undefined =>
    (actor.getSnapshot().children as Record<string, AnyActorRef | undefined>)[id];

  if (opts.role !== 'scheduler') {
    detachers.push(backend.jobs.onCancelRequested((jobId) => jobs.send(jobId, { type: 'CANCEL' })));
  }
  const scheduler = childOf('scheduler');
  if (schedules && scheduler) {
    schedules.attach(scheduler);
    const sub = scheduler.on?.('SCHEDULE_CRASHED', (event: { scheduleId: string; error: unknown }) =>
      node.reportError(event.error, `schedule ${event.scheduleId} crashed`),
    );
    if (sub) detachers.push(() => sub.unsubscribe());
    const tellScheduler = (): void => {
      if (scheduler.getSnapshot().status === 'active') scheduler.send({ type: 'PARTITIONS_CHANGED', partitions: keeper.held() });
    };
    const keeper = new PartitionKeeper({
      nodeId: node.nodeId,
      leaseDurationMs: opts.leaseDurationMs,
      leases: backend.leases,
      leasesBucket: backend.buckets.leases,
      renewer: backend.createLeaseRenewer(),
      nodes: backend.nodes,
      now: () => backend.clock.now(),
      onAcquired: (p) => {
        tellScheduler();
        schedules.partitionAcquired(p);
      },
      onReleased: (p) => {
        tellScheduler();
        schedules.partitionReleased(p);
      },
      onError: (error, where) => node.reportError(error, where),
    });
    partitions = keeper;
    await keeper.start();
  }
  detachers.push(
    backend.onConnectionChange((state) => {
      if (state === 'down') actor.send({ type: 'CONNECTION_LOST' });
      if (state === 'up') actor.send({ type: 'CONNECTION_RESTORED' });
    }),
  );

  return {
    actor,
    stopped,
    worker: () => childOf('worker'),
    jobs,
    schedules,
    partitions,
    detach: async () => {
      for (const detach of detachers.splice(0)) detach();
      schedules?.stop();
      // Released at once, so another scheduler takes them over without waiting for the lease to run out.
      await partitions?.stop().catch((error: unknown) => node.reportError(error, 'releasing partitions'));
      jobs.stop();
    },
  };
}
