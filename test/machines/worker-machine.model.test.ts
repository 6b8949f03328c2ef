/**
 * Model-based tests of the worker machine. The model is the machine's pure transition function
 * explored by @xstate/graph over an environment of fetch answers (JOBS_FETCHED with 0..max jobs, a
 * redelivery of a running job, FETCH_FAILED), the backoff timer, job actors ending (SLOT_RELEASED
 * from their final state, a crash) and outside events (JOB_AVAILABLE,
 * CAPACITY_CHANGED, connection, RESTORED, DRAIN, STOP). Each path is replayed on a live worker
 * (SimulatedClock) whose effects are recording fakes and whose jobs are stub actors created with
 * `createActor(stub, { parent: worker })`, as production's startJobs creates them. At every step
 * the live snapshot equals the model's, and:
 *
 * - never `waiting` without a free slot, never `full` with one; never two fetches in flight, and
 *   exactly one while fetching or waiting; a fetch asks for at most the free slots (and ≥ 1);
 * - every job started is in `running` with a live actor, every job in `running` was started, and
 *   every fetched job either starts or is handed back (nothing fetched is lost);
 * - STOP sends SHUTDOWN to every running job; nothing is fetched after DRAIN or STOP; `stopped`
 *   only with no jobs running;
 * - G2: a free slot and a known job never coexist in a waiting state;
 * - the backoff timer fires after exactly the machine's delay, not before.
 *
 * Edge invariants (with each edge's actions from XState's pure `transition`) are checked over the
 * whole adjacency map, self-loops included, and over a hostile environment that also answers
 * fetches nobody asked for.
 */
import { getAdjacencyMap, getShortestPaths, getSimplePaths } from '@xstate/graph';
import type { StatePath } from '@xstate/graph';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActor, transition } from 'xstate';
import type { EventObject, SnapshotFrom } from 'xstate';
import { workerMachine } from '../../src/machines/worker-machine.js';
import type { FetchedJob, ReturnUnstartedJobsParams, WorkerInput } from '../../src/machines/worker-types.js';
import { testJob } from '../support/fakes/job-fakes.js';
import { edgesOf, muteKnownXStateDevWarnings, withoutPrefixPaths } from '../support/fakes/model-replay.js';
import { createSimClock } from '../support/fakes/sim-time.js';
import { workerFakes } from '../support/fakes/worker-fakes.js';

type WorkerSnapshot = SnapshotFrom<typeof workerMachine>;
type ModelEvent = EventObject & { [key: string]: unknown };

const POOL = ['j1', 'j2'] as const;
const FETCHED: Record<string, FetchedJob> = Object.fromEntries(POOL.map((id) => [id, { job: testJob({ id }) }]));
const FETCH_RETRY = 'xstate.after.fetchRetry.worker.backingOff';
const POLLING = ['fetching', 'waiting'] as const;
const isPolling = (s: WorkerSnapshot): boolean => POLLING.some((v) => s.value === v);
const free = (s: WorkerSnapshot): number => s.context.capacity - s.context.running.length;
const doneOf = (id: string) => `xstate.done.actor.${id}`;
const errorOf = (id: string) => `xstate.error.actor.${id}`;

interface ModelConfig {
  name: string;
  input: WorkerInput;
  /** Outside events offered in every state. */
  extra: ModelEvent[];
  /** Offer an answer that repeats a running job (a redelivery). */
  redeliveries: boolean;
  /** Offer crashing job actors (the host's SLOT_RELEASED for them). */
  crashes: boolean;
}

/** The environment: what can happen to a worker in `s`. */
function environment(config: ModelConfig) {
  return (s: WorkerSnapshot): ModelEvent[] => {
    // A finished actor takes no events (the pure transition function would still compute some).
    if (s.status !== 'active') return [];
    const { running, fetchMax } = s.context;
    const events: ModelEvent[] = [];
    if (s.value === 'backingOff') events.push({ type: FETCH_RETRY });
    events.push({ type: 'JOB_AVAILABLE' }, ...config.extra);
    for (const jobId of running) {
      events.push({ type: 'SLOT_RELEASED', jobId });
      // A crash reaches the worker as the host's SLOT_RELEASED (replayed live as a crashing actor).
      if (config.crashes) events.push({ type: 'SLOT_RELEASED', jobId, crash: true });
    }
    if (isPolling(s)) {
      const idle = POOL.filter((id) => !running.includes(id));
      for (let n = 0; n <= Math.min(fetchMax, idle.length); n++) events.push({ type: 'JOBS_FETCHED', jobs: idle.slice(0, n).map((id) => FETCHED[id]!) });
      if (config.redeliveries && running.length > 0 && fetchMax > 0) events.push({ type: 'JOBS_FETCHED', jobs: [FETCHED[running[0]!]!] });
      events.push({ type: 'FETCH_FAILED', error: 'dispatch unavailable' });
    }
    return events;
  };
}

/** Everything, everywhere: fetch answers nobody asked for, releases of jobs not running. */
function hostileEnvironment(config: ModelConfig) {
  const base = environment(config);
  return (s: WorkerSnapshot): ModelEvent[] => {
    if (s.status !== 'active') return [];
    const events = base(s);
    if (!isPolling(s)) events.push({ type: 'JOBS_FETCHED', jobs: [FETCHED.j1!] }, { type: 'FETCH_FAILED', error: 'late' });
    for (const jobId of POOL) {
      if (!s.context.running.includes(jobId)) events.push({ type: 'SLOT_RELEASED', jobId }, { type: errorOf(jobId), error: 'stray' });
      events.push({ type: doneOf(jobId), output: null });
    }
    events.push({ type: 'CAPACITY_CHANGED', capacity: -1 }, { type: 'CAPACITY_CHANGED', capacity: 1.5 });
    return events;
  };
}

/** State invariants: they hold in every reachable state, model or live. */
function assertWorkerInvariants(s: WorkerSnapshot, where: string): void {
  const { running, jobAvailable } = s.context;
  const hasFree = free(s) > 0;
  if (s.value === 'waiting') {
    expect(hasFree, `${where}: waiting without a free slot (should be full)`).toBe(true);
    // G2: a free slot and a known job never coexist in a waiting state.
    expect(hasFree && jobAvailable, `${where}: waiting with a free slot and a known job (G2)`).toBe(false);
  }
  if (s.value === 'full') expect(hasFree, `${where}: full with a free slot`).toBe(false);
  if (s.value === 'fetching') expect(s.context.fetchMax, `${where}: fetching for no slot`).toBeGreaterThan(0);
  if (s.value === 'stopped') expect(running, `${where}: stopped with jobs running`).toEqual([]);
  expect(running, `${where}: running ids not sorted and unique`).toEqual([...new Set(running)].sort());
  expect(s.value, `${where}: rested in the transient deciding state`).not.toBe('deciding');
}

const idsOf = (jobs: readonly FetchedJob[]): string[] => jobs.map((j) => j.job.id);

/**
 * Edge invariants: every (from, event, to) of the model with the actions XState's pure
 * `transition` returns for it. Paths never walk a self-loop; this catches what a self-loop does.
 */
function assertWorkerEdge(from: WorkerSnapshot, event: ModelEvent, to: WorkerSnapshot): void {
  const where = `${JSON.stringify(from.value)} --${JSON.stringify(event)}--> ${JSON.stringify(to.value)} (running ${JSON.stringify(from.context.running)}, capacity ${from.context.capacity})`;
  const [again, actions] = transition(workerMachine, from, event as never);
  expect(JSON.stringify(again), `${where}: transition() disagrees with the graph`).toBe(JSON.stringify(to));
  const types = actions.map((a) => a.type);
  const params = <P>(type: string): P[] => actions.filter((a) => a.type === type).map((a) => (a as { params: P }).params);
  const count = (type: string): number => types.filter((t) => t === type).length;
  assertWorkerInvariants(to, where);

  // Fetches: one per entry of fetching/waiting, for the free slots, after cancelling any in flight.
  const fetches = params<{ max: number; waitMs: number }>('fetchJobs');
  if (isPolling(to) && from.value !== to.value) expect(fetches.length, `${where}: entered ${to.value} without fetching`).toBe(1);
  if (!isPolling(to)) expect(fetches, `${where}: fetched outside fetching/waiting`).toEqual([]);
  for (const f of fetches) {
    expect(f.max, `${where}: fetch asks for ${f.max}`).toBe(free(to));
    expect(f.max, `${where}: fetch for no slot`).toBeGreaterThan(0);
    expect(f.waitMs, `${where}: waitMs`).toBe(to.value === 'waiting' ? to.context.pollIntervalMs : 0);
  }
  if (isPolling(from) && (from.value !== to.value || fetches.length > 0)) {
    expect(count('cancelFetch'), `${where}: left ${from.value} without ending its fetch`).toBe(1);
    if (fetches.length > 0) expect(types.indexOf('cancelFetch'), `${where}: new fetch before the old one ended`).toBeLessThan(types.indexOf('fetchJobs'));
  } else expect(count('cancelFetch'), `${where}: cancelFetch`).toBe(0);

  // Starting: only on a fetch answer received while fetching; what is fetched starts or goes back.
  const starts = params<{ jobs: FetchedJob[] }>('startJobs').flatMap((p) => idsOf(p.jobs));
  const giveBack = params<{ groups: ReturnUnstartedJobsParams[] }>('returnUnstartedJobs').flatMap((p) => p.groups);
  if (event.type === 'JOBS_FETCHED' && isPolling(from)) {
    const fetched = idsOf(event.jobs as FetchedJob[]);
    expect([...starts, ...giveBack.flatMap((g) => idsOf(g.jobs))].sort(), `${where}: a fetched job neither started nor handed back`).toEqual([...fetched].sort());
    for (const id of starts) expect(from.context.running, `${where}: started ${id} twice`).not.toContain(id);
    for (const g of giveBack) {
      for (const id of idsOf(g.jobs)) {
        expect(g.reason, `${where}: handed back ${id}`).toBe(from.context.running.includes(id) ? 'already_running' : 'over_capacity');
      }
    }
    expect(to.context.running, `${where}: running after starting`).toEqual([...from.context.running, ...starts].sort());
    if (starts.length > 0) expect(to.context.running.length, `${where}: started beyond capacity`).toBeLessThanOrEqual(to.context.capacity);
    expect(to.context.fetchRetryDelayMs, `${where}: a successful fetch resets the backoff`).toBe(0);
  } else {
    expect(starts.length + giveBack.length + count('startJobs'), `${where}: started or handed back jobs without a fetch answer`).toBe(0);
  }

  // STOP hands every running job back, once, on entering stopping.
  const shutdowns = params<{ jobIds: string[] }>('shutdownJobs');
  const stopsNow = event.type === 'STOP' && from.value !== 'stopping';
  expect(shutdowns, `${where}: shutdownJobs`).toEqual(stopsNow ? [{ jobIds: from.context.running }] : []);

  // Nothing is fetched after DRAIN or STOP.
  if (['draining', 'stopping', 'stopped'].includes(from.value)) {
    expect(['draining', 'stopping', 'stopped'], `${where}: back to work after DRAIN/STOP`).toContain(to.value);
  }
  if (event.type === 'STOP') expect(['stopping', 'stopped'], `${where}: STOP ignored`).toContain(to.value);

  // What ends each wait: a wake-up with a free slot fetches at once.
  const hasFreeAfter = free(to) > 0;
  const wakeUps: Record<string, string[]> = { backingOff: [FETCH_RETRY, 'RESTORED'], offline: ['CONNECTION_RESTORED'] };
  if (wakeUps[from.value]?.includes(event.type) && hasFreeAfter) expect(to.value, `${where}: a wake-up left a free slot unused`).toBe('fetching');
  // A slot freed in `full` is used at once when a job may be waiting; else the long poll waits for one.
  if (from.value === 'full' && to.context.running.length < from.context.running.length && hasFreeAfter) {
    expect(to.value, `${where}: a released slot was not used`).toBe(from.context.jobAvailable ? 'fetching' : 'waiting');
  }
  // A job's end frees its slot: its SLOT_RELEASED (sent by its final state, or by its host when it
  // crashed). Its done and error events count for nothing.
  const ended = event.type === 'SLOT_RELEASED' ? (event.jobId as string) : undefined;
  if (ended !== undefined && from.context.running.includes(ended)) {
    expect(to.context.running, `${where}: ${ended} still running after it ended`).toEqual(from.context.running.filter((id) => id !== ended));
  }
  if (event.type.startsWith('xstate.done.actor.') || event.type.startsWith('xstate.error.actor.')) {
    expect(to.context, `${where}: a job's done or error event changed the worker`).toEqual(from.context);
  }
  if (event.type === 'FETCH_FAILED' && isPolling(from)) {
    const { fetchRetryDelayMs: before, fetchRetryInitialMs: initial, fetchRetryMaxMs: max } = from.context;
    expect(to.context.fetchRetryDelayMs, `${where}: backoff`).toBe(before === 0 ? initial : Math.min(2 * before, max));
  }

  // What does not move the machine changes nothing but what the event is about, and asks nothing.
  if (from.value === to.value && types.length === 0) {
    const allowed: Partial<WorkerSnapshot['context']> = {};
    if (event.type === 'JOB_AVAILABLE') allowed.jobAvailable = true;
    if (event.type === 'CAPACITY_CHANGED') allowed.capacity = to.context.capacity;
    if (ended !== undefined) allowed.running = to.context.running;
    expect(to.context, `${where}: an event that moved nothing changed the context`).toEqual({ ...from.context, ...allowed });
  }
  if (event.type === 'CAPACITY_CHANGED') {
    const valid = Number.isInteger(event.capacity) && (event.capacity as number) >= 0;
    expect(to.context.capacity, `${where}: capacity`).toBe(valid ? event.capacity : from.context.capacity);
  }
}

const view = (s: WorkerSnapshot): string => JSON.stringify({ value: s.value, status: s.status, context: s.context });

const walked: string[] = [];
let undo: (() => void)[] = [];
let clock = createSimClock();
beforeEach(() => {
  clock = createSimClock();
  undo = [muteKnownXStateDevWarnings()];
});
afterEach(() => undo.forEach((fn) => fn()));
afterAll(() => console.log(`[model-based] worker:\n  ${walked.join('\n  ')}`));

/** Replays one path on a live worker, causing each event the way production would. */
function replay(path: StatePath<WorkerSnapshot, ModelEvent>, config: ModelConfig, stats: { timers: number }): void {
  const fx = workerFakes();
  const worker = createActor(workerMachine.provide({ actions: fx.actions }), { clock, input: config.input });
  worker.start();
  let previous = worker.getSnapshot();
  const ends: string[] = [];
  let backingOffSince = Number.NaN;
  let fetchesAtStop: number | null = null;

  for (const [i, step] of path.steps.entries()) {
    const event = step.event;
    const where = `step ${i} (${event.type}) of [${path.steps.map((s) => s.event.type).join(' → ')}]`;
    const fetchesBefore = fx.fetches.length;
    const effectsBefore = fx.effects.length;
    if (i > 0) {
      if (event.type === 'JOBS_FETCHED' || event.type === 'FETCH_FAILED') fx.answerFetch(event as never);
      else if (event.type === FETCH_RETRY) {
        // The timer fires after exactly the delay the machine chose, not a millisecond before.
        const due = backingOffSince + previous.context.fetchRetryDelayMs;
        clock.set(due - 1);
        expect(worker.getSnapshot().value, `${where}: backoff ended early`).toBe('backingOff');
        clock.set(due);
        stats.timers++;
      } else if (event.type === 'SLOT_RELEASED' && event['crash'] === true) {
        // Production's way: the job actor crashes, and its host releases the slot for it.
        fx.job(event.jobId as string).send({ type: 'CRASH' });
        ends.push(event.jobId as string);
      } else if (event.type === 'SLOT_RELEASED') {
        // Production's way: the job actor ends, and its final state releases the slot.
        fx.finish(event.jobId as string);
        ends.push(event.jobId as string);
      } else worker.send(event as never);
    }
    const live = worker.getSnapshot();
    expect(view(live), `${where}: implementation diverged from the model`).toBe(view(step.state));
    assertWorkerInvariants(live, where);
    if (live.value === 'backingOff' && previous.value !== 'backingOff') backingOffSince = clock.now();

    // Never two fetches in flight; exactly one while fetching or waiting, asking for the free slots.
    const inFlight = fx.pendingFetches();
    expect(inFlight.length, `${where}: fetches in flight`).toBe(isPolling(live) ? 1 : 0);
    for (const call of fx.fetches.slice(fetchesBefore)) {
      expect(call.params.max, `${where}: a fetch asks for ${call.params.max} with ${free(live)} free`).toBe(free(live));
      expect(call.params.max, `${where}: a fetch for no slot`).toBeGreaterThan(0);
      expect(call.self, `${where}: the fetch answers someone else`).toBe(worker);
    }
    if (isPolling(live)) {
      expect(inFlight[0]!.params, where).toEqual({ max: live.context.fetchMax, waitMs: live.value === 'waiting' ? live.context.pollIntervalMs : 0 });
    }

    // Every started job is running with a live actor, and every running job was started (once).
    for (const id of POOL) {
      const started = fx.started.filter((s) => s.jobId === id).length;
      const finished = ends.filter((x) => x === id).length;
      const isRunning = live.context.running.includes(id);
      expect(started - finished, `${where}: ${id} started ${started}, ended ${finished}, running ${isRunning}`).toBe(isRunning ? 1 : 0);
      if (isRunning) expect(fx.job(id).getSnapshot().status, `${where}: ${id} runs without a live actor`).toBe('active');
    }
    // Job actors are the worker's by parent only, not children it spawned.
    expect(Object.keys(live.children), `${where}: children`).toEqual([]);

    // STOP hands every running job back; nothing is fetched after DRAIN or STOP.
    if (live.value === 'stopping') for (const id of live.context.running) expect(fx.stubLog!.shutdown, `${where}: ${id} not told to stop`).toContain(id);
    if (['draining', 'stopping', 'stopped'].includes(live.value)) fetchesAtStop ??= fx.fetches.length;
    if (fetchesAtStop !== null) expect(fx.fetches.length, `${where}: fetched after DRAIN/STOP`).toBe(fetchesAtStop);
    if (i > 0 && fx.effects.length > effectsBefore && event.type === 'JOB_AVAILABLE') {
      expect(isPolling(live), `${where}: a hint caused effects outside a fetch`).toBe(true);
    }
    previous = live;
  }
  worker.stop();
}

const baseInput: WorkerInput = { pollIntervalMs: 1000, fetchRetryInitialMs: 100 };

const shortestConfig: ModelConfig = {
  name: 'capacity 2; fetch answers 0..max + redelivery + failure, backoff, job endings (release, crash), JOB_AVAILABLE, CAPACITY_CHANGED 0/1/2, connection, RESTORED, DRAIN, STOP',
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
  crashes: true,
};

const simpleConfig: ModelConfig = {
  name: 'capacity 1; fetch answers + failure, backoff, SLOT_RELEASED, JOB_AVAILABLE, connection, DRAIN, STOP',
  input: { ...baseInput, maxConcurrentJobs: 1, fetchRetryMaxMs: 100 },
  extra: [{ type: 'CONNECTION_LOST' }, { type: 'CONNECTION_RESTORED' }, { type: 'DRAIN' }, { type: 'STOP' }],
  redeliveries: false,
  crashes: false,
};

describe('worker machine, model-based', () => {
  for (const [kind, config] of [
    ['shortest', shortestConfig],
    ['simple', simpleConfig],
  ] as const) {
    it(`${kind} paths: ${config.name}`, () => {
      const options = { events: environment(config), input: config.input } as never;
      // The invariants hold in every reachable state and on every edge of the model…
      const adjacency = getAdjacencyMap(workerMachine, options);
      const states = Object.values(adjacency).map((a) => a.state as WorkerSnapshot);
      for (const s of states) assertWorkerInvariants(s, `model state ${JSON.stringify(s.value)} ${JSON.stringify(s.context)}`);
      const edges = edgesOf(adjacency as never as Parameters<typeof edgesOf<WorkerSnapshot, ModelEvent>>[0]);
      for (const { from, event, to } of edges) assertWorkerEdge(from, event, to);

      // …and every path behaves the same on the live actor.
      const generate = kind === 'shortest' ? getShortestPaths : getSimplePaths;
      const generated = generate(workerMachine, options) as unknown as StatePath<WorkerSnapshot, ModelEvent>[];
      const paths = withoutPrefixPaths(generated);
      const stats = { timers: 0 };
      let steps = 0;
      for (const path of paths) {
        replay(path, config, stats);
        steps += path.steps.length - 1;
      }
      expect(paths.length).toBeGreaterThan(10);
      walked.push(
        `${kind} paths (${config.name}): model ${states.length} states, ${edges.length} edges checked; ` +
          `${generated.length} paths generated, ${paths.length} walked (prefixes dropped), ${steps} steps, backoff timers fired by the clock ${stats.timers}`,
      );
    });
  }

  it('edge invariants under a hostile environment (answers nobody asked for, releases of jobs not running, invalid capacities)', () => {
    const adjacency = getAdjacencyMap(workerMachine, { events: hostileEnvironment(shortestConfig), input: shortestConfig.input } as never);
    const edges = edgesOf(adjacency as never as Parameters<typeof edgesOf<WorkerSnapshot, ModelEvent>>[0]);
    for (const { from, event, to } of edges) assertWorkerEdge(from, event, to);
    expect(edges.length).toBeGreaterThan(500);
    walked.push(`hostile environment: model ${Object.keys(adjacency).length} states, ${edges.length} edges checked`);
  });
});
