/**
 * Model-based tests of the job machine: paths through the machine's graph (effect answers and
 * timers as events) replayed on a live job actor under a parent, with a SimulatedClock and effects
 * the test answers by hand. Invariants at every step: nothing is written, requeued or released
 * after a lease loss; the slot is released exactly once, at the end; a running task is aborted on
 * every interruption; while the lease is held a renewal (or the loss deadline) is always pending
 * before the lease could expire.
 */
import { getAdjacencyMap, getShortestPaths, getSimplePaths } from '@xstate/graph';
import type { StatePath } from '@xstate/graph';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import type { AnyActorRef, SnapshotFrom } from 'xstate';
import { jobMachine } from '../../src/machines/job-machine.js';
import type { JobInput } from '../../src/machines/job-types.js';
import { controlledJobMachine, jobParent, JOB_EFFECTS, testJob, type JobEffectName } from '../support/fakes/job-fakes.js';
import { comparable, edgesOf, fireTimer, withoutPrefixPaths, tieDateToClock, timersOf, type TimerStats } from '../support/fakes/model-replay.js';
import { createSimClock, settle } from '../support/fakes/sim-time.js';

type JobSnapshot = SnapshotFrom<typeof jobMachine>;
type ModelEvent = { type: string; [key: string]: unknown };

const LEASE_MS = 3000;
const T0 = Date.UTC(2025, 0, 1);
const DEADLINE = new Date(T0 + 60_000);
const ON_TIME = T0 + 1_000;
const LATE = T0 + 120_000;
const FINISHED = new Date(T0 + 2_000);
const after = (path: string) => `xstate.after.effectRetry.job.${path}`;
const TIMERS = new Set([
  'RENEW_DUE',
  'TIMEOUT',
  'ACQUIRE_TIMEOUT',
  after('holding.lease.renewing.waitingToRetry'),
  after('holding.work.writingResult.waitingToRetry'),
  after('holding.work.requeueing.waitingToRetry'),
]);
const isTimer = (e: ModelEvent) => TIMERS.has(e.type) || (e.type === 'LEASE_LOST' && e.reason === 'renewal_deadline');

const done = (id: JobEffectName, output: unknown): ModelEvent => ({ type: `xstate.done.actor.${id}`, output, actorId: id });
const failed = (id: JobEffectName): ModelEvent => ({ type: `xstate.error.actor.${id}`, error: new Error(`${id} failed`), actorId: id });

interface ModelConfig {
  name: string;
  input: JobInput;
  /** Offer CANCEL / SHUTDOWN / reported LEASE_LOST (the largest multipliers of the graph). */
  interruptions: boolean;
  /** Effects that may fail (reject). */
  failing: ReadonlySet<JobEffectName>;
  /** Offer every acquireLease answer, or only acquired / held elsewhere. */
  allAcquireAnswers: boolean;
  /** Offer RESTORED (re-arms timers; moves both regions of `holding` at once). */
  restores: boolean;
}

const fail = (config: ModelConfig, id: JobEffectName): ModelEvent[] => (config.failing.has(id) ? [failed(id)] : []);

/** The environment: effect answers, timers and outside events possible in `s`. */
function environment(config: ModelConfig) {
  return (s: JobSnapshot): ModelEvent[] => {
    if (s.status !== 'active') return [];
    const { context } = s;
    const timers: ModelEvent[] = [];
    const others: ModelEvent[] = [];
    const lease = { revision: 1 };
    if (s.matches('leasing')) {
      timers.push({ type: 'ACQUIRE_TIMEOUT' });
      others.push(done('acquireLease', { status: 'acquired', lease, now: ON_TIME }), done('acquireLease', { status: 'held_elsewhere' }));
      if (config.allAcquireAnswers) {
        if (context.job.startDeadline) others.push(done('acquireLease', { status: 'acquired', lease, now: LATE }));
        others.push(
          done('acquireLease', { status: 'acquired', lease, now: ON_TIME, previousAttemptAbandoned: true }),
          done('acquireLease', { status: 'task_slots_full', retryInMs: 500 }),
        );
      }
      others.push(...fail(config, 'acquireLease'));
      if (config.interruptions) others.push({ type: 'CANCEL' }, { type: 'SHUTDOWN' });
    }
    if (s.matches({ holding: { lease: 'held' } })) timers.push({ type: 'RENEW_DUE' });
    if (s.matches({ holding: { lease: 'renewing' } })) timers.push({ type: 'LEASE_LOST', reason: 'renewal_deadline' });
    if (s.matches({ holding: { lease: { renewing: 'requesting' } } })) {
      // Revisions alternate 1 ⇄ 2 so the model stays finite; the machine only carries them.
      const next = { revision: 3 - (context.lease?.revision ?? 1) };
      others.push(
        done('renewLease', { status: 'renewed', lease: next, now: ON_TIME }),
        done('renewLease', { status: 'lost', reason: 'revision_moved' }),
        ...fail(config, 'renewLease'),
      );
    }
    if (s.matches({ holding: { lease: { renewing: 'waitingToRetry' } } })) timers.push({ type: after('holding.lease.renewing.waitingToRetry') });
    if (s.matches({ holding: { work: 'running' } })) {
      if (context.timeoutMs !== null) timers.push({ type: 'TIMEOUT' });
      others.push(done('runTask', 'task value'), ...fail(config, 'runTask'));
      if (config.interruptions) others.push({ type: 'CANCEL' }, { type: 'SHUTDOWN' }, { type: 'LEASE_LOST', reason: 'reported' });
    }
    if (s.matches({ holding: { work: { writingResult: 'writing' } } })) {
      others.push(
        done('writeResult', { status: 'written', result: { ...context.draft, finishedAt: FINISHED } }),
        done('writeResult', { status: 'lease_lost', reason: 'revision_moved' }),
        ...fail(config, 'writeResult'),
      );
    }
    if (s.matches({ holding: { work: { writingResult: 'waitingToRetry' } } })) {
      timers.push({ type: after('holding.work.writingResult.waitingToRetry') });
    }
    if (s.matches({ holding: { work: { requeueing: 'requesting' } } })) others.push(done('requeueJob', undefined), ...fail(config, 'requeueJob'));
    if (s.matches({ holding: { work: { requeueing: 'waitingToRetry' } } })) {
      timers.push({ type: after('holding.work.requeueing.waitingToRetry') });
    }
    if (s.matches('deferring')) others.push(done('requeueJob', undefined), ...fail(config, 'requeueJob'));
    if (s.matches('releasing')) others.push(done('releaseLease', undefined), ...fail(config, 'releaseLease'));
    if (config.restores) others.push({ type: 'RESTORED' });
    // Timers first: on equal length the path generators keep the first event.
    return [...timers, ...others];
  };
}

const LOSS = (e: ModelEvent) =>
  e.type === 'LEASE_LOST' ||
  (e.type === 'xstate.done.actor.renewLease' && (e.output as { status: string }).status === 'lost') ||
  (e.type === 'xstate.done.actor.writeResult' && (e.output as { status: string }).status === 'lease_lost');

/** Edge invariants over the whole model (self-loops included). */
function assertJobEdge(from: JobSnapshot, event: ModelEvent, to: JobSnapshot): void {
  const where = `${JSON.stringify(from.value)} --${event.type}--> ${JSON.stringify(to.value)}`;
  if (from.matches('holding') && LOSS(event)) {
    // No path from LEASE_LOST reaches a result write (or anything else): it ends the job there.
    expect(to.value, `${where}: a lease loss did not end the job`).toBe('done');
    expect(to.output, where).toMatchObject({ kind: 'discarded', reason: 'lease_lost' });
  }
  if (to.matches({ holding: { work: 'writingResult' } }) && !from.matches({ holding: { work: 'writingResult' } })) {
    expect(LOSS(event), `${where}: writing after a loss`).toBe(false);
  }
}

/**
 * The machine the graph is computed from. @xstate/graph transitions with a mock actor scope that
 * has no parent, where sendParent cannot resolve; the model's releaseSlot is therefore a no-op. The
 * live replay runs the real action under a real parent and checks the release at every step.
 */
const modelMachine = jobMachine.provide({ actions: { releaseSlot: () => {} } });

function pathsOf(kind: 'shortest' | 'simple', config: ModelConfig): StatePath<JobSnapshot, ModelEvent>[] {
  const generate = kind === 'shortest' ? getShortestPaths : getSimplePaths;
  return generate(modelMachine, { events: environment(config), input: config.input } as never) as unknown as StatePath<JobSnapshot, ModelEvent>[];
}

const walked: string[] = [];
let clock = createSimClock(T0);
let untie: () => void = () => {};
beforeEach(() => {
  clock = createSimClock(T0);
  untie = tieDateToClock(clock);
});
afterEach(() => untie());
afterAll(() => console.log(`[model-based] job:\n  ${walked.join('\n  ')}`));

async function replay(path: StatePath<JobSnapshot, ModelEvent>, config: ModelConfig, stats: TimerStats): Promise<void> {
  const ctl = controlledJobMachine(clock);
  const parent = createActor(jobParent(ctl.machine, config.input), { clock });
  parent.start();
  await settle();
  const job = parent.getSnapshot().children.job as AnyActorRef;
  let previous = job.getSnapshot() as JobSnapshot;
  let lossAt: Record<JobEffectName, number> | null = null;
  /** When the request behind the lease we hold was sent: the store keeps it until then + D. */
  let leaseRequestSentAt = Number.NaN;

  for (const [i, step] of path.steps.entries()) {
    const event = step.event;
    const where = `step ${i} (${event.type}) of [${path.steps.map((s) => s.event.type).join(' → ')}]`;
    if (i > 0) {
      const effect = event.type.replace(/^xstate\.(done|error)\.actor\./, '') as JobEffectName;
      if (JOB_EFFECTS.includes(effect)) {
        const call = ctl.last(effect);
        expect(call.answer.settled || call.signal.aborted, `${where}: answering a ${effect} that is not in flight`).toBe(false);
        if (event.type.startsWith('xstate.done')) call.answer.resolve(event.output);
        else call.answer.reject(event.error);
        const output = event.output as { status?: string } | undefined;
        if ((effect === 'acquireLease' && output?.status === 'acquired') || (effect === 'renewLease' && output?.status === 'renewed')) {
          leaseRequestSentAt = call.at;
        }
        // Only an effect's answer travels through promise continuations; events and timers fired
        // by the clock are delivered synchronously.
        await settle();
      } else if (isTimer(event)) await fireTimer(clock, job, event.type, stats);
      else job.send(event as never);
    }
    const live = job.getSnapshot() as JobSnapshot;
    expect(comparable(live), `${where}: implementation diverged from the model`).toBe(comparable(step.state));

    // Lease loss: nothing is written, requeued or released afterwards, and the job is over.
    if (i > 0 && previous.matches('holding') && LOSS(event)) {
      lossAt = Object.fromEntries(JOB_EFFECTS.map((name) => [name, ctl.calls[name].length])) as Record<JobEffectName, number>;
      expect(live.status, `${where}: still active after losing the lease`).toBe('done');
    }
    if (lossAt) {
      for (const name of ['writeResult', 'requeueJob', 'releaseLease'] as const) {
        expect(ctl.calls[name].length, `${where}: ${name} after the lease was lost`).toBe(lossAt[name]);
      }
    }

    // The slot is released exactly once, when (and only when) the job is over.
    expect(parent.getSnapshot().context.released, `${where}: slot releases`).toEqual(live.status === 'done' ? [config.input.job.id] : []);

    // A running task is aborted on every interruption, and only then.
    const wasRunning = previous.matches({ holding: { work: 'running' } });
    const isRunning = live.matches({ holding: { work: 'running' } });
    const interrupted = wasRunning && !isRunning && !event.type.startsWith('xstate.done.actor.runTask') && !event.type.startsWith('xstate.error.actor.runTask');
    const abortsNow = ctl.aborts.length - (i === 0 ? 0 : countAborts.get(job) ?? 0);
    expect(abortsNow, `${where}: abortTask calls this step`).toBe(interrupted ? 1 : 0);
    countAborts.set(job, ctl.aborts.length);
    if (interrupted) expect(ctl.last('runTask').signal.aborted, `${where}: task signal not aborted`).toBe(true);

    // While the lease is held it is renewed (or given up) before the store could let it expire.
    if (live.matches('holding')) {
      const expiresNoEarlierThan = leaseRequestSentAt + LEASE_MS;
      expect(clock.now(), `${where}: holding past the lease`).toBeLessThan(expiresNoEarlierThan);
      const guard = live.matches({ holding: { lease: 'held' } }) ? timersOf(job, 'RENEW_DUE') : timersOf(job, 'LEASE_LOST');
      expect(guard, `${where}: no renewal or loss deadline pending`).toHaveLength(1);
      expect(guard[0]!.due, `${where}: renewal scheduled after the lease expires`).toBeLessThan(expiresNoEarlierThan);
    }
    // Result writes are fenced with the revision the machine currently holds.
    if (live.matches({ holding: { work: { writingResult: 'writing' } } })) {
      expect((ctl.last('writeResult').input as { lease: unknown }).lease).toEqual(live.context.lease);
    }
    previous = live;
  }
  parent.stop();
}
const countAborts = new WeakMap<AnyActorRef, number>();

const richInput: JobInput = {
  job: testJob({ id: 'job-a', attempt: 1, startDeadline: DEADLINE }),
  leaseDurationMs: LEASE_MS,
  timeoutMs: 5_000,
  retry: { attempts: 2, backoff: { initialMs: 100, maxMs: 1_000, factor: 2 } },
  nodeId: 'node-a',
};
const lastAttemptInput: JobInput = {
  job: testJob({ id: 'job-b', attempt: 2 }),
  leaseDurationMs: LEASE_MS,
  retry: { attempts: 2, backoff: { initialMs: 100, maxMs: 1_000, factor: 2 } },
};

const everyEffectFails = new Set(JOB_EFFECTS);
const suites: { kind: 'shortest' | 'simple'; config: ModelConfig }[] = [
  {
    kind: 'shortest',
    config: {
      name: 'attempt 1 of 2, timeout, start deadline; every answer, failure and interruption',
      input: richInput,
      interruptions: true,
      failing: everyEffectFails,
      allAcquireAnswers: true,
      restores: true,
    },
  },
  {
    kind: 'shortest',
    config: {
      name: 'last attempt (2 of 2), no timeout; every answer, failure and interruption',
      input: lastAttemptInput,
      interruptions: true,
      failing: everyEffectFails,
      allAcquireAnswers: true,
      restores: true,
    },
  },
  {
    kind: 'simple',
    config: {
      name: 'last attempt, no timeout; acquired/held elsewhere, renewal and write failures (the renewal/write interplay)',
      input: lastAttemptInput,
      interruptions: false,
      failing: new Set(['renewLease', 'writeResult']),
      allAcquireAnswers: false,
      restores: false,
    },
  },
  {
    kind: 'simple',
    config: {
      name: 'attempt 1 of 2, timeout, start deadline; every acquire answer and interruption, no effect failures',
      input: richInput,
      interruptions: true,
      failing: new Set(),
      allAcquireAnswers: true,
      restores: false,
    },
  },
];

describe('job machine, model-based', () => {
  for (const { kind, config } of suites) {
    it(`${kind} paths: ${config.name}`, async () => {
      const adjacency = getAdjacencyMap(modelMachine, { events: environment(config), input: config.input } as never);
      const edges = edgesOf(adjacency as never as Parameters<typeof edgesOf<JobSnapshot, ModelEvent>>[0]);
      for (const { from, event, to } of edges) assertJobEdge(from, event, to);

      const generated = pathsOf(kind, config);
      const paths = withoutPrefixPaths(generated);
      const stats: TimerStats = { byClock: 0, direct: 0 };
      let steps = 0;
      for (const path of paths) {
        await replay(path, config, stats);
        steps += path.steps.length - 1;
      }
      expect(paths.length).toBeGreaterThan(10);
      walked.push(
        `${kind} paths (${config.name}): ${generated.length} generated, ${paths.length} walked (prefixes dropped), ${steps} steps; model: ${Object.keys(adjacency).length} states, ` +
          `${edges.length} edges checked; timers fired by the clock ${stats.byClock}, sent directly ${stats.direct}`,
      );
    });
  }
});
