/**
 * Builds and runs a node's statechart: the node machine with the worker (job side) and the
 * scheduler coordinator (schedule side) provided with this module's effects, and the outside
 * world fed into it as events — schedule record changes from a bucket watch (SCHEDULE_UPDATED /
 * SCHEDULE_REMOVED), connection changes, cancel requests. Job actors join this actor system with
 * the worker as their parent (job-host.ts), so the inspector shows the node, its worker, its
 * scheduler and every job of the node as one system.
 */
import { createActor, type Actor, type AnyActorRef, type InspectionEvent, type Observer } from 'xstate';
import { decodeRecord, DeserializationError } from '../codec/index.js';
import { createScheduleMachine, nodeMachine, schedulerMachine, workerMachine } from '../machines/index.js';
import type { NodeRole } from '../machines/index.js';
import { tryDecodeKeyToken, type KvChange } from '../store/index.js';
import { nextFireTime } from '../triggers/index.js';
import { assertTrigger } from '../triggers/index.js';
import type { NodeContext } from '../runtime/node-context.js';
import { isolated } from './isolated-actor.js';
import { JobHost } from './job-host.js';
import { createScheduleEffects } from './schedule-effects.js';
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
  /** Detaches the feeds and stops the lease keeper (call after `stopped`). */
  detach(): void;
}

export async function startNodeActor(node: NodeContext, opts: NodeActorOptions): Promise<RunningNode> {
  const { backend } = node;
  const jobs = new JobHost(node);
  const workerEffects = createWorkerEffects(node, jobs);
  const scheduleEffects = createScheduleEffects(node);
  const isolation = opts.inspect ? { inspect: opts.inspect } : {};
  const logic = nodeMachine.provide({
    actors: {
      worker: workerMachine.provide({ actions: workerEffects.actions as never }),
      scheduler: schedulerMachine.provide({
        actors: {
          // Each schedule runs in an actor system of its own (see isolated-actor.ts).
          schedule: isolated(createScheduleMachine({ nextFireTime, random: Math.random }).provide(scheduleEffects), isolation) as never,
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
      scheduler: { leaseDurationMs: opts.leaseDurationMs },
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
  if (opts.role !== 'worker') {
    const scheduler = childOf('scheduler');
    const sub = scheduler?.on?.('SCHEDULE_CRASHED', (event: { scheduleId: string; error: unknown }) =>
      node.reportError(event.error, `schedule ${event.scheduleId} crashed`),
    );
    if (sub) detachers.push(() => sub.unsubscribe());
    const reported = new Set<string>();
    const onChange = (change: KvChange): void => {
      const scheduleId = tryDecodeKeyToken(change.key);
      if (scheduleId === null) return; // not a key this store writes
      if (change.operation === 'delete') {
        actor.send({ type: 'SCHEDULE_REMOVED', scheduleId });
        return;
      }
      try {
        const schedule = decodeRecord('schedule', change.value);
        assertTrigger(schedule.trigger);
        actor.send({ type: 'SCHEDULE_UPDATED', schedule, recordRevision: change.revision, now: backend.clock.now() });
      } catch (error) {
        const tag = `${scheduleId}@${change.revision}`;
        if (reported.has(tag)) return;
        reported.add(tag);
        const message = error instanceof DeserializationError || error instanceof Error ? error.message : String(error);
        node.emit('ScheduleDeserializationFailed', { scheduleId, error: message });
      }
    };
    detachers.push(await backend.buckets.schedules.watch('>', onChange, { includeCurrent: true }));
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
    detach: () => {
      for (const detach of detachers.splice(0)) detach();
      jobs.stop();
    },
  };
}
