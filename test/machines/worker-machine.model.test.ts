/**
 * Model-based tests of the worker machine: every shortest path (capacity 2, every event kind) and
 * every simple path (capacity 1, drain/stop/connection events) is replayed on a live worker with a
 * SimulatedClock, a controllable fetch and stub jobs; the invariants are checked at every step.
 */
import { getAdjacencyMap, getShortestPaths, getSimplePaths } from '@xstate/graph';
import type { StatePath } from '@xstate/graph';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import type { SnapshotFrom } from 'xstate';
import { workerMachine } from '../../src/machines/worker-machine.js';
import type { FetchedJob, WorkerInput } from '../../src/machines/worker-types.js';
import { testJob } from '../support/fakes/job-fakes.js';
import { comparable, edgesOf, fireTimer, withoutPrefixPaths, muteLateChildDoneWarnings, tieDateToClock, timersOf, type TimerStats } from '../support/fakes/model-replay.js';
import { createSimClock, settle } from '../support/fakes/sim-time.js';
import { controlledFetch, returnLog, stubJobLogic } from '../support/fakes/worker-fakes.js';

type WorkerSnapshot = SnapshotFrom<typeof workerMachine>;
type ModelEvent = { type: string; [key: string]: unknown };

const POOL = ['j1', 'j2'] as const;
const FETCHED: Record<string, FetchedJob> = Object.fromEntries(POOL.map((id) => [id, { job: testJob({ id }) }]));
const POLL = 'POLL';
const FETCH_RETRY = 'xstate.after.fetchRetry.worker.backingOff';

interface ModelConfig {
  name: string;
  input: WorkerInput;
  /** Extra environment events offered in every state. */
  extra: ModelEvent[];
  /** Offer an answer that repeats a running job (a redelivery). */
  redeliveries: boolean;
}

const baseInput: WorkerInput = { pollIntervalMs: 1000, leaseDurationMs: 30_000, fetchRetryInitialMs: 100 };

/** The environment: what can happen to a worker in `snapshot`. */
function environment(config: ModelConfig) {
  return (snapshot: WorkerSnapshot): ModelEvent[] => {
    // A finished actor takes no events (the pure transition function would still compute some).
    if (snapshot.status !== 'active') return [];
    const { running, fetchMax } = snapshot.context;
    // Timers first: on equal length the path generators keep the first event, and timers are what
    // the replay most needs to exercise.
    const events: ModelEvent[] = [];
    if (snapshot.value === 'idle') events.push({ type: POLL });
    if (snapshot.value === 'backingOff') events.push({ type: FETCH_RETRY });
    events.push({ type: 'JOB_AVAILABLE' }, ...config.extra);
    for (const jobId of running) events.push({ type: 'SLOT_RELEASED', jobId });
    if (snapshot.value === 'fetching') {
      const free = POOL.filter((id) => !running.includes(id));
      for (let n = 0; n <= fetchMax; n++) {
        events.push({ type: 'xstate.done.actor.fetchJobs', output: free.slice(0, n).map((id) => FETCHED[id]!) });
      }
      if (config.redeliveries && running.length > 0) {
        events.push({ type: 'xstate.done.actor.fetchJobs', output: [FETCHED[running[0]!]!] });
      }
      events.push({ type: 'xstate.error.actor.fetchJobs', error: 'dispatch unavailable' });
    }
    return events;
  };
}

/** Invariants that must hold in every state, model or live. */
function assertWorkerInvariants(s: WorkerSnapshot, where: string): void {
  const { running, capacity, jobAvailable } = s.context;
  const free = running.length < capacity;
  if (s.value === 'idle') {
    // Never waiting while a free slot and an available job coexist.
    expect(free && jobAvailable, `${where}: idle with a free slot and a known job`).toBe(false);
    expect(free, `${where}: idle without a free slot (should be full)`).toBe(true);
  }
  if (s.value === 'full') expect(free, `${where}: full with a free slot`).toBe(false);
  if (s.value === 'stopped') expect(running, `${where}: stopped with jobs running`).toEqual([]);
  expect(new Set(running).size, `${where}: duplicate running ids`).toBe(running.length);
}

/**
 * Invariants of transitions, checked on every edge of the model. Paths never walk a self-loop, so
 * "POLL does nothing" would pass the path replay; an edge check catches it.
 */
function assertWorkerEdge(from: WorkerSnapshot, event: ModelEvent, to: WorkerSnapshot): void {
  const where = `${JSON.stringify(from.value)} --${event.type}--> ${JSON.stringify(to.value)}`;
  const freeAfter = to.context.running.length < to.context.capacity;
  // What ends each wait. backingOff deliberately ignores JOB_AVAILABLE (kept in the flag): a flood
  // of notifications must not hammer a failing store; its retry timer decides.
  const wakeUps: Record<string, string[]> = {
    idle: ['JOB_AVAILABLE', POLL, 'CONNECTION_RESTORED', 'RESTORED'],
    backingOff: [FETCH_RETRY, 'RESTORED'],
    offline: ['CONNECTION_RESTORED'],
  };
  if (wakeUps[from.value]?.includes(event.type) && freeAfter) {
    expect(to.value, `${where}: a wake-up left a free slot unused`).toBe('fetching');
  }
  // A freed slot is used at once when a job may be waiting; when the queue was last seen empty
  // (full only because capacity shrank) the worker idles with its POLL armed.
  if (from.value === 'full' && event.type === 'SLOT_RELEASED' && freeAfter) {
    expect(to.value, `${where}: a released slot was not used`).toBe(from.context.jobAvailable ? 'fetching' : 'idle');
  }
  if (to.context.running.length > from.context.running.length) {
    expect(to.context.running.length, `${where}: started beyond capacity`).toBeLessThanOrEqual(to.context.capacity);
  }
}

function paths(kind: 'shortest' | 'simple', config: ModelConfig): StatePath<WorkerSnapshot, ModelEvent>[] {
  const machine = workerMachine.provide({ actors: { job: stubJobLogic().logic } });
  const options = { events: environment(config), input: config.input };
  const generate = kind === 'shortest' ? getShortestPaths : getSimplePaths;
  return generate(machine, options as never) as unknown as StatePath<WorkerSnapshot, ModelEvent>[];
}

const walked: string[] = [];
let undo: (() => void)[] = [];
let clock = createSimClock();
beforeEach(() => {
  clock = createSimClock();
  undo = [tieDateToClock(clock), muteLateChildDoneWarnings()];
});
afterEach(() => undo.forEach((fn) => fn()));
afterAll(() => console.log(`[model-based] worker:\n  ${walked.join('\n  ')}`));

async function replay(path: StatePath<WorkerSnapshot, ModelEvent>, config: ModelConfig, stats: TimerStats): Promise<void> {
  const fetch = controlledFetch();
  const jobs = stubJobLogic();
  const returns = returnLog();
  const ended: string[] = [];
  const machine = workerMachine.provide({
    actors: { fetchJobs: fetch.logic, job: jobs.logic },
    actions: { returnUnstartedJobs: returns.action },
  });
  const worker = createActor(machine, { clock, input: config.input });
  worker.start();
  await settle();
  let previous = worker.getSnapshot();
  // Ghost of the environment's knowledge, independent of the machine's own flag: the queue may
  // hold a job for us since a notification, poll or full answer that no fetch has followed yet.
  // A fresh worker fetches once at start, which answers the "queue might hold jobs" of start-up.
  let queueMayHoldJobs = fetch.calls.length === 0;

  for (const [i, step] of path.steps.entries()) {
    const event = step.event;
    const where = `step ${i} (${event.type}) of [${path.steps.map((s) => s.event.type).join(' → ')}]`;
    if (i > 0) {
      const fetchesBefore = fetch.calls.length;
      const asked = fetch.last()?.input.max ?? 0;
      if (['JOB_AVAILABLE', POLL, 'CONNECTION_RESTORED', 'RESTORED', 'xstate.error.actor.fetchJobs'].includes(event.type)) {
        queueMayHoldJobs = true;
      }
      if (event.type === 'xstate.done.actor.fetchJobs' && (event.output as FetchedJob[]).length >= asked) queueMayHoldJobs = true;
      if (event.type === 'xstate.done.actor.fetchJobs') fetch.last()!.answer.resolve(event.output as FetchedJob[]);
      else if (event.type === 'xstate.error.actor.fetchJobs') fetch.last()!.answer.reject(new Error(String(event.error)));
      else if (event.type === POLL || event.type === FETCH_RETRY) await fireTimer(clock, worker, event.type, stats);
      else if (event.type === 'SLOT_RELEASED') {
        // Production's way: the job actor ends, and its final state releases the slot.
        const jobId = event.jobId as string;
        worker.getSnapshot().children[jobId]!.send({ type: 'FINISH' } as never);
        ended.push(jobId);
      } else worker.send(event as never);
      await settle();
      if (fetch.calls.length > fetchesBefore) queueMayHoldJobs = false;
    }
    const live = worker.getSnapshot();
    expect(comparable(live), `${where}: implementation diverged from the model`).toBe(comparable(step.state));
    assertWorkerInvariants(live, where);
    if (live.value === 'idle') {
      const free = live.context.running.length < live.context.capacity;
      expect(free && queueMayHoldJobs, `${where}: idle with a free slot after an unanswered notification`).toBe(false);
    }

    // A state that waits must have armed what ends the wait.
    if (live.value === 'idle') expect(timersOf(worker, POLL), `${where}: idle without a POLL timer`).toHaveLength(1);
    if (live.value === 'backingOff') expect(timersOf(worker, FETCH_RETRY), `${where}: no retry timer`).toHaveLength(1);
    if (live.value === 'fetching') {
      const call = fetch.last()!;
      expect(call.answer.settled || call.signal.aborted, `${where}: fetching without a fetch in flight`).toBe(false);
      expect(call.input.max, `${where}: fetch asks for ${call.input.max}`).toBe(live.context.fetchMax);
      expect(call.input.max).toBeGreaterThan(0);
    }
    // Starting jobs never exceeds capacity (shrinking may leave more running, never more started).
    if (live.context.running.length > previous.context.running.length) {
      expect(live.context.running.length, `${where}: started beyond capacity`).toBeLessThanOrEqual(live.context.capacity);
    }
    // Every started job is either running (with a live actor) or ended and released.
    for (const id of POOL) {
      const started = jobs.log.started.filter((x) => x === id).length;
      const finished = ended.filter((x) => x === id).length;
      expect(started - finished, `${where}: ${id} started/ended/running disagree`).toBe(live.context.running.includes(id) ? 1 : 0);
      if (live.context.running.includes(id)) expect(live.children[id]?.getSnapshot().status).toBe('active');
    }
    // STOP hands every running job back.
    if (live.value === 'stopping') for (const id of live.context.running) expect(jobs.log.shutdown).toContain(id);
    previous = live;
  }
  worker.stop();
}

const shortestConfig: ModelConfig = {
  name: 'capacity 2; JOB_AVAILABLE, POLL, SLOT_RELEASED, fetch answers 0..max + redelivery + error, retry, CAPACITY_CHANGED 0/1/2, CONNECTION_LOST/RESTORED, RESTORED, DRAIN, STOP',
  input: { ...baseInput, maxConcurrentJobs: 2, fetchRetryMaxMs: 200 },
  extra: [
    { type: 'CAPACITY_CHANGED', capacity: 0 },
    { type: 'CAPACITY_CHANGED', capacity: 1 },
    { type: 'CAPACITY_CHANGED', capacity: 2 },
    { type: 'CONNECTION_LOST' },
    { type: 'CONNECTION_RESTORED' },
    { type: 'RESTORED' },
    { type: 'DRAIN' },
    { type: 'STOP' },
  ],
  redeliveries: true,
};

const simpleConfig: ModelConfig = {
  name: 'capacity 1; JOB_AVAILABLE, POLL, SLOT_RELEASED, fetch answers + error, retry, CONNECTION_LOST/RESTORED, DRAIN, STOP',
  input: { ...baseInput, maxConcurrentJobs: 1, fetchRetryMaxMs: 100 },
  extra: [{ type: 'CONNECTION_LOST' }, { type: 'CONNECTION_RESTORED' }, { type: 'DRAIN' }, { type: 'STOP' }],
  redeliveries: false,
};

describe('worker machine, model-based', () => {
  for (const [kind, config] of [
    ['shortest', shortestConfig],
    ['simple', simpleConfig],
  ] as const) {
    it(`${kind} paths: ${config.name}`, async () => {
      // The invariants hold in every reachable state of the model…
      const adjacency = getAdjacencyMap(workerMachine.provide({ actors: { job: stubJobLogic().logic } }), {
        events: environment(config),
        input: config.input,
      } as never);
      const states = Object.values(adjacency).map((a) => a.state as WorkerSnapshot);
      for (const s of states) assertWorkerInvariants(s, `model state ${JSON.stringify(s.value)}`);
      const edges = edgesOf(adjacency as never as Parameters<typeof edgesOf<WorkerSnapshot, ModelEvent>>[0]);
      for (const { from, event, to } of edges) assertWorkerEdge(from, event, to);

      // …and every path behaves the same on the live actor.
      const generated = paths(kind, config);
      const all = withoutPrefixPaths(generated);
      const stats: TimerStats = { byClock: 0, direct: 0 };
      let steps = 0;
      for (const path of all) {
        await replay(path, config, stats);
        steps += path.steps.length - 1;
      }
      expect(all.length).toBeGreaterThan(10);
      walked.push(
        `${kind} paths: ${generated.length} generated, ${all.length} walked (prefixes dropped), ${steps} steps; model: ${states.length} states, ${edges.length} edges checked; ` +
          `timers fired by the clock ${stats.byClock}, sent directly ${stats.direct}`,
      );
    });
  }
});
