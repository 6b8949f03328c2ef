/**
 * Model-based tests of the job machine. The model is the machine's own pure transition function
 * explored by @xstate/graph over an environment of effect answers (acquireLease, runTask,
 * commitResult, requeueJob), the lease keeper's reports (LEASE_RENEWED / LEASE_LOST) and outside
 * requests (CANCEL / SHUTDOWN). Each path is replayed on a live job actor created as production
 * creates it (`createActor(logic, { parent, id })`) with effects the test answers by hand; the live
 * snapshot must equal the model's at every step, and these invariants must hold:
 *
 * - after LEASE_LOST nothing is committed or requeued and the job is done (discarded, lease_lost);
 * - the slot is released exactly once, and only at the end (SLOT_RELEASED, then the done event);
 * - a running task is aborted (abortTask with the right reason) on every way out of `running`
 *   except its own answer, and never otherwise;
 * - commitResult / requeueJob / runTask are only requested while the lease is held, never after a
 *   loss, once each, with the params the context decided;
 * - an answer is only ever given to an effect that was requested and is still pending, and in
 *   every state exactly the effect it waits for is pending.
 *
 * Edge invariants (including each edge's actions, from XState's pure `transition`) are checked
 * over the whole adjacency map, self-loops included, and over a hostile environment that sends
 * every event in every state.
 */
import { getAdjacencyMap, getShortestPaths, getSimplePaths } from '@xstate/graph';
import type { StatePath } from '@xstate/graph';
import { afterAll, describe, expect, it } from 'vitest';
import { transition } from 'xstate';
import type { SnapshotFrom } from 'xstate';
import { retryDelayMs } from '../../src/machines/job-policy.js';
import { jobMachine } from '../../src/machines/job-machine.js';
import type { AbortTaskParams, JobEvent, JobInput, JobOutput } from '../../src/machines/job-types.js';
import { controlledJobLogic, effectAnswered, endEvents, jobUnderParent, JOB_EFFECTS, testJob, type JobEffectName } from '../support/fakes/job-fakes.js';
import { edgesOf, withoutPrefixPaths } from '../support/fakes/model-replay.js';

type JobSnapshot = SnapshotFrom<typeof jobMachine>;

const T0 = Date.UTC(2025, 0, 1);
const ON_TIME = T0 + 1_000;
const LATE = T0 + 120_000;
const DEADLINE = new Date(T0 + 60_000);
const FINISHED = new Date(T0 + 2_000);
const TASK_ERROR = { name: 'Error', message: 'boom' };

interface ModelConfig {
  name: string;
  input: JobInput;
  /** Offer every acquireLease answer, or only "acquired" and "held elsewhere". */
  allAcquireAnswers: boolean;
  /** Offer CANCEL and SHUTDOWN in every state. */
  interruptions: boolean;
  /** Offer the lease keeper's reports (LEASE_RENEWED, LEASE_LOST) while the lease is held. */
  keeper: boolean;
}

const HOLDING = ['running', 'committing', 'requeueing'] as const;
const holds = (s: JobSnapshot): boolean => HOLDING.some((v) => s.matches(v));

/** The effect a state waits for. */
function awaited(s: JobSnapshot): JobEffectName | null {
  if (s.status !== 'active') return null;
  if (s.matches('acquiring')) return 'acquireLease';
  if (s.matches('running')) return 'runTask';
  if (s.matches('committing')) return 'commitResult';
  if (s.matches('requeueing')) return 'requeueJob';
  return null;
}

/** The environment: what can happen to a job actor in `s`. */
function environment(config: ModelConfig) {
  return (s: JobSnapshot): JobEvent[] => {
    if (s.status !== 'active') return [];
    const { context } = s;
    const { attempt } = context.job;
    const events: JobEvent[] = [];
    if (s.matches('acquiring')) {
      const acquired = (over: Partial<Extract<JobEvent, { type: 'LEASE_ACQUIRED' }>> = {}): JobEvent => ({
        type: 'LEASE_ACQUIRED',
        lease: { revision: 1 },
        attempt,
        now: ON_TIME,
        previousAttemptAbandoned: false,
        ...over,
      });
      events.push(acquired(), { type: 'LEASE_NOT_ACQUIRED', reason: 'held_elsewhere' });
      if (config.allAcquireAnswers) {
        events.push(acquired({ previousAttemptAbandoned: true }));
        if (context.job.startDeadline) events.push(acquired({ now: LATE }));
        // The job's key says a later attempt runs (a requeued job's message delivered again).
        if (context.retry && attempt < context.retry.attempts) events.push(acquired({ attempt: attempt + 1 }));
        events.push(
          { type: 'LEASE_NOT_ACQUIRED', reason: 'finished' },
          { type: 'LEASE_NOT_ACQUIRED', reason: 'not_yet' },
          { type: 'TASK_SLOTS_FULL', retryInMs: 1_000 },
          { type: 'ACQUIRE_FAILED', error: 'store unreachable' },
        );
      }
    }
    if (s.matches('running')) {
      events.push({ type: 'TASK_SUCCEEDED', value: 'task value' }, { type: 'TASK_FAILED', error: TASK_ERROR });
      if (context.timeoutMs !== null) events.push({ type: 'TIMEOUT' });
    }
    if (s.matches('committing')) {
      if (context.draft) events.push({ type: 'RESULT_COMMITTED', result: { ...context.draft, finishedAt: FINISHED } });
      // The fenced write refused: someone else wrote the job's key.
      events.push({ type: 'LEASE_LOST', reason: 'revision_moved' });
    }
    if (s.matches('requeueing')) events.push({ type: 'JOB_REQUEUED' }, { type: 'LEASE_LOST', reason: 'revision_moved' });
    if (config.keeper && holds(s)) {
      // Revisions alternate 1 ⇄ 2 so the model stays finite; the machine only carries them.
      events.push({ type: 'LEASE_RENEWED', lease: { revision: 3 - (context.lease?.revision ?? 1) } });
      events.push({ type: 'LEASE_LOST', reason: 'renewal_deadline' });
      if (s.matches('running')) events.push({ type: 'LEASE_LOST', reason: 'revision_moved' });
    }
    if (config.interruptions) events.push({ type: 'CANCEL' }, { type: 'SHUTDOWN' });
    return events;
  };
}

/** Every event in every state: for the edge invariants (what the machine must ignore, it ignores). */
function hostileEnvironment(input: JobInput) {
  const result = { jobId: input.job.id, outcome: 'success' as const, attempt: input.job.attempt, finishedAt: FINISHED };
  const all: JobEvent[] = [
    { type: 'LEASE_ACQUIRED', lease: { revision: 1 }, attempt: input.job.attempt, now: ON_TIME, previousAttemptAbandoned: false },
    { type: 'LEASE_NOT_ACQUIRED', reason: 'held_elsewhere' },
    { type: 'TASK_SLOTS_FULL', retryInMs: 1_000 },
    { type: 'ACQUIRE_FAILED', error: 'store unreachable' },
    { type: 'LEASE_RENEWED', lease: { revision: 2 } },
    { type: 'LEASE_LOST', reason: 'reported' },
    { type: 'TASK_SUCCEEDED', value: 'late value' },
    { type: 'TASK_FAILED', error: TASK_ERROR },
    { type: 'TIMEOUT' },
    { type: 'RESULT_COMMITTED', result },
    { type: 'JOB_REQUEUED' },
    { type: 'CANCEL' },
    { type: 'SHUTDOWN' },
  ];
  return (s: JobSnapshot): JobEvent[] => (s.status === 'active' ? all : []);
}

const ABORT_REASON: Partial<Record<JobEvent['type'], AbortTaskParams['reason']>> = {
  TIMEOUT: 'timeout',
  CANCEL: 'cancelled',
  SHUTDOWN: 'shutdown',
  LEASE_LOST: 'lease_lost',
};

/** The abortTask a step must request: on every way out of `running` but the task's own answer. */
function expectedAbort(from: JobSnapshot, event: JobEvent, to: JobSnapshot): AbortTaskParams[] {
  const leavesRunning = from.matches('running') && !to.matches('running');
  if (!leavesRunning || event.type === 'TASK_SUCCEEDED' || event.type === 'TASK_FAILED') return [];
  const reason = ABORT_REASON[event.type];
  if (!reason) throw new Error(`model: ${event.type} left running, which no event but the task's answers, TIMEOUT, CANCEL, SHUTDOWN and LEASE_LOST may`);
  return [{ jobId: from.context.job.id, reason }];
}

/** The outcome a draft decided on `event` must carry. */
function expectedOutcome(from: JobSnapshot, event: JobEvent): string {
  switch (event.type) {
    case 'TASK_SUCCEEDED':
      return 'success';
    case 'TASK_FAILED':
      return 'error';
    case 'TIMEOUT':
      return 'timeout';
    case 'CANCEL':
      return 'cancelled';
    case 'LEASE_ACQUIRED': {
      if (event.previousAttemptAbandoned) return 'abandoned';
      if (from.context.cancelRequested) return 'cancelled';
      return 'missed_start_deadline';
    }
    default:
      return `(no outcome is decided on ${event.type})`;
  }
}

const attemptsLeft = (s: JobSnapshot, attempt: number): boolean => s.context.retry !== null && attempt < s.context.retry.attempts;

/**
 * Edge invariants: every (from, event, to) of the model with the actions XState's pure
 * `transition` returns for it. Paths never walk a self-loop; this catches what a self-loop does.
 */
function assertJobEdge(from: JobSnapshot, event: JobEvent, to: JobSnapshot): void {
  const where = `${JSON.stringify(from.value)} --${JSON.stringify(event)}--> ${JSON.stringify(to.value)}`;
  const [again, actions] = transition(modelMachine, from, event);
  expect(JSON.stringify(again), `${where}: transition() disagrees with the graph`).toBe(JSON.stringify(to));
  const named = (type: string) => actions.filter((a) => a.type === type);
  const params = (type: string) => named(type).map((a) => (a as { params?: unknown }).params);
  const moved = JSON.stringify(from.value) !== JSON.stringify(to.value) || from.status !== to.status;

  // The slot is released on, and only on, the step that ends the job.
  expect(named('releaseSlot').length, `${where}: releaseSlot`).toBe(to.status === 'done' ? 1 : 0);

  // Abort: every way out of running but the task's own answer, with the right reason.
  expect(params('abortTask'), `${where}: abortTask`).toEqual(expectedAbort(from, event, to));

  // A loss while holding the lease ends the job at once, writing nothing.
  if (holds(from) && event.type === 'LEASE_LOST') {
    expect(to.status, `${where}: a lease loss did not end the job`).toBe('done');
    expect(to.output, where).toEqual({ kind: 'discarded', reason: 'lease_lost', leaseLostReason: event.reason });
    expect(to.context.lease, `${where}: still holding a lost lease`).toBeNull();
    expect(named('commitResult').length + named('requeueJob').length + named('runTask').length, `${where}: an effect after the loss`).toBe(0);
  }

  // Effects are requested once, on entering the state that waits for them, with what it decided.
  const entered = (state: string) => to.matches(state as never) && !from.matches(state as never);
  expect(named('runTask').length, `${where}: runTask`).toBe(entered('running') ? 1 : 0);
  expect(named('commitResult').length, `${where}: commitResult`).toBe(entered('committing') ? 1 : 0);
  expect(named('requeueJob').length, `${where}: requeueJob`).toBe(entered('requeueing') ? 1 : 0);
  expect(named('acquireLease').length, `${where}: acquireLease again`).toBe(0);

  if (entered('running')) {
    expect(from.matches('acquiring') && event.type === 'LEASE_ACQUIRED', `${where}: running without acquiring`).toBe(true);
    expect(to.context.lease, `${where}: running without a lease`).not.toBeNull();
    expect(params('runTask'), where).toEqual([{ jobId: to.context.job.id, attempt: to.context.job.attempt, timeoutMs: to.context.timeoutMs }]);
    expect(to.context.cancelRequested || to.context.shutdownRequested, `${where}: ran a job asked to stop`).toBe(false);
  }
  if (entered('committing') || entered('requeueing')) {
    expect(event.type, `${where}: writing on a loss`).not.toBe('LEASE_LOST');
    expect(to.context.lease, `${where}: a write without the lease`).not.toBeNull();
  }
  if (entered('committing')) {
    const draft = to.context.draft;
    expect(params('commitResult'), where).toEqual([{ jobId: to.context.job.id, result: draft }]);
    expect(draft, `${where}: draft`).toMatchObject({ jobId: to.context.job.id, attempt: to.context.job.attempt, outcome: expectedOutcome(from, event) });
    if (event.type === 'TASK_SUCCEEDED') expect(draft?.returnValue, where).toEqual(event.value);
    if (event.type === 'TASK_FAILED') expect(draft?.error, where).toEqual(event.error);
    // An error or a timeout ends the job only on its last attempt.
    if (event.type === 'TASK_FAILED' || event.type === 'TIMEOUT') {
      expect(attemptsLeft(from, from.context.job.attempt), `${where}: gave up with attempts left`).toBe(false);
    }
    if (event.type === 'LEASE_ACQUIRED' && event.previousAttemptAbandoned) {
      expect(attemptsLeft(from, event.attempt), `${where}: abandoned with attempts left`).toBe(false);
    }
  }
  if (entered('requeueing')) {
    const plan = to.context.requeue;
    expect(params('requeueJob'), where).toEqual([{ jobId: to.context.job.id, ...plan }]);
    const { attempt } = to.context.job;
    if (event.type === 'SHUTDOWN' || (event.type === 'LEASE_ACQUIRED' && from.context.shutdownRequested && !event.previousAttemptAbandoned)) {
      expect(plan, `${where}: a shutdown requeues the same attempt at once`).toEqual({ attempt, delayMs: 0, reason: 'shutdown' });
    } else {
      const retry = to.context.retry;
      expect(retry, `${where}: retried without a retry policy`).not.toBeNull();
      expect(plan, `${where}: retry plan`).toEqual({ attempt: attempt + 1, delayMs: retryDelayMs(retry!, attempt), reason: 'retry' });
      expect(plan!.attempt, `${where}: retried past the last attempt`).toBeLessThanOrEqual(retry!.attempts);
    }
  }

  // How a job may end.
  if (to.status === 'done' && from.status === 'active') {
    const output = to.output as JobOutput;
    const expectedEnd: Record<JobOutput['kind'], boolean> = {
      result: from.matches('committing') && event.type === 'RESULT_COMMITTED',
      requeued:
        (from.matches('requeueing') && event.type === 'JOB_REQUEUED') || (from.matches('acquiring') && event.type === 'TASK_SLOTS_FULL'),
      skipped: from.matches('acquiring') && event.type === 'LEASE_NOT_ACQUIRED',
      discarded: (holds(from) && event.type === 'LEASE_LOST') || (from.matches('acquiring') && event.type === 'ACQUIRE_FAILED'),
    };
    expect(expectedEnd[output.kind], `${where}: ended ${output.kind}`).toBe(true);
    if (event.type === 'RESULT_COMMITTED') expect(output, where).toEqual({ kind: 'result', result: event.result });
    if (event.type === 'JOB_REQUEUED') expect(output, where).toEqual({ kind: 'requeued', ...from.context.requeue });
    if (event.type === 'TASK_SLOTS_FULL') {
      expect(output, where).toEqual({ kind: 'requeued', attempt: from.context.job.attempt, delayMs: event.retryInMs, reason: 'task_slots_full' });
    }
  }

  // What does not move the machine changes nothing but what the event is about.
  if (!moved) {
    const allowed: Partial<JobSnapshot['context']> = {};
    if (event.type === 'LEASE_RENEWED' && holds(from)) allowed.lease = event.lease;
    if (event.type === 'CANCEL' && from.matches('acquiring')) allowed.cancelRequested = true;
    if (event.type === 'SHUTDOWN' && from.matches('acquiring')) allowed.shutdownRequested = true;
    expect(to.context, `${where}: an event that moved nothing changed the context`).toEqual({ ...from.context, ...allowed });
    expect(actions.map((a) => a.type), `${where}: an event that moved nothing requested effects`).toEqual([]);
  }
}

/**
 * The machine the graph is computed from. @xstate/graph transitions with a mock actor scope that
 * has no parent, where sendParent cannot resolve; the model's releaseSlot is therefore a plain
 * named action. The live replay runs the real one under a real parent and checks what it sends.
 */
const modelMachine = jobMachine.provide({ actions: { releaseSlot: () => {} } });

const view = (s: JobSnapshot): string => JSON.stringify({ value: s.value, status: s.status, context: s.context, output: s.output });

/** Replays one path on a live job actor, checking the invariants at every step. */
function replay(path: StatePath<JobSnapshot, JobEvent>, input: JobInput): void {
  const fx = controlledJobLogic();
  const { parent, job, received } = jobUnderParent(fx.logic, input);
  const jobId = input.job.id;
  let previous = job.getSnapshot();
  /** Effect calls when the lease was lost (nothing may follow). */
  let effectsAtLoss: number | null = null;
  /** The job ended on a keeper's report while a fenced write was in flight (its answer will find the actor done). */
  let abandonedWrite: JobEffectName | null = null;
  const effectCount = (): number => JOB_EFFECTS.reduce((n, name) => n + fx.calls[name].length, 0) + fx.aborts.length;

  for (const [i, step] of path.steps.entries()) {
    const event = step.event;
    const where = `step ${i} (${event.type}) of [${path.steps.map((s) => s.event.type).join(' → ')}]`;
    const abortsBefore = fx.aborts.length;
    if (i > 0) {
      // Cause the event the way production would: answer the pending effect, or report, or send.
      const answers = effectAnswered(event.type);
      const write = awaited(previous);
      if (event.type === 'LEASE_LOST' && (write === 'commitResult' || write === 'requeueJob') && event.reason === 'revision_moved') {
        fx.answer(write, event);
      } else if (event.type === 'LEASE_LOST' || event.type === 'LEASE_RENEWED') {
        fx.report(job, event);
        if (event.type === 'LEASE_LOST' && (write === 'commitResult' || write === 'requeueJob')) abandonedWrite = write;
      } else if (answers && answers !== 'keeper' && answers !== 'outside') {
        fx.answer(answers, event);
      } else job.send(event);
    }
    const live = job.getSnapshot();
    expect(view(live), `${where}: implementation diverged from the model`).toBe(view(step.state));

    // Exactly the effect the state waits for is pending; each effect is requested once at most.
    const waitsFor = awaited(live);
    for (const name of JOB_EFFECTS) {
      expect(fx.calls[name].length, `${where}: ${name} requested ${fx.calls[name].length} times`).toBeLessThanOrEqual(1);
      const open = fx.pending(name).length > 0;
      if (name === waitsFor) expect(open, `${where}: ${live.value} but no ${name} pending`).toBe(true);
      else if (name === 'runTask') expect(open, `${where}: the task still runs (not aborted) in ${JSON.stringify(live.value)}`).toBe(false);
      else if (name !== abandonedWrite) expect(open, `${where}: ${name} still pending in ${JSON.stringify(live.value)}`).toBe(false);
    }
    // …with the params the context decided.
    if (waitsFor === 'runTask') {
      expect(fx.last('runTask').params, where).toEqual({ jobId, attempt: live.context.job.attempt, timeoutMs: live.context.timeoutMs });
    }
    if (waitsFor === 'commitResult') expect(fx.last('commitResult').params, where).toEqual({ jobId, result: live.context.draft });
    if (waitsFor === 'requeueJob') expect(fx.last('requeueJob').params, where).toEqual({ jobId, ...live.context.requeue });
    if (waitsFor === 'acquireLease') expect(fx.last('acquireLease').params, where).toEqual({ jobId });

    // The task runs, and results and requeues are written, only under a held lease.
    for (const name of ['runTask', 'commitResult', 'requeueJob'] as const) {
      for (const call of fx.calls[name]) expect(call.leaseAtCall, `${where}: ${name} requested while the lease was ${call.leaseAtCall}`).toBe('held');
    }

    // abortTask on every way out of running but the task's own answer, with the right reason.
    if (i > 0) {
      const aborted = fx.aborts.slice(abortsBefore).map(({ jobId: id, reason }) => ({ jobId: id, reason }));
      expect(aborted, `${where}: abortTask calls this step`).toEqual(expectedAbort(previous, event, live));
    }

    // After a loss: the job is over and nothing else is requested, ever.
    if (i > 0 && event.type === 'LEASE_LOST' && holds(previous)) {
      expect(live.status, `${where}: still active after losing the lease`).toBe('done');
      expect(live.output, where).toEqual({ kind: 'discarded', reason: 'lease_lost', leaseLostReason: event.reason });
      effectsAtLoss = effectCount();
    }
    if (effectsAtLoss !== null) expect(effectCount(), `${where}: an effect requested after the lease was lost`).toBe(effectsAtLoss);

    // The slot is released exactly once, when (and only when) the job is over; then its done event.
    expect(received(), `${where}: what the job sent its parent`).toEqual(live.status === 'done' ? endEvents(jobId, live.output!) : []);
    previous = live;
  }
  // A job actor with a parent is not a root: only its parent's scope could stop it. It holds no
  // timers, so stopping the parent is all the cleanup there is.
  parent.stop();
}

const retry2 = { attempts: 2, backoff: { initialMs: 100, maxMs: 1_000, factor: 2 } };
const firstOfTwo: JobInput = {
  job: testJob({ id: 'job-a', attempt: 1, startDeadline: DEADLINE }),
  timeoutMs: 5_000,
  retry: retry2,
  nodeId: 'node-a',
};
const lastOfTwo: JobInput = { job: testJob({ id: 'job-b', attempt: 2 }), retry: retry2 };
const single: JobInput = { job: testJob({ id: 'job-c', attempt: 1 }), timeoutMs: 1_000 };

const suites: { kind: 'shortest' | 'simple'; config: ModelConfig }[] = [
  {
    kind: 'shortest',
    config: { name: 'attempt 1 of 2, timeout, start deadline; every answer, report and interruption', input: firstOfTwo, allAcquireAnswers: true, interruptions: true, keeper: true },
  },
  {
    kind: 'shortest',
    config: { name: 'last attempt (2 of 2), no timeout; every answer, report and interruption', input: lastOfTwo, allAcquireAnswers: true, interruptions: true, keeper: true },
  },
  {
    kind: 'simple',
    config: { name: 'attempt 1 of 2, timeout, start deadline; every answer and interruption, keeper reports', input: firstOfTwo, allAcquireAnswers: true, interruptions: true, keeper: true },
  },
  {
    kind: 'simple',
    config: { name: 'single attempt with timeout; acquired/held elsewhere, keeper reports, interruptions', input: single, allAcquireAnswers: false, interruptions: true, keeper: true },
  },
];

const walked: string[] = [];
afterAll(() => console.log(`[model-based] job:\n  ${walked.join('\n  ')}`));

describe('job machine, model-based', () => {
  for (const { kind, config } of suites) {
    it(`${kind} paths: ${config.name}`, () => {
      const options = { events: environment(config), input: config.input } as never;
      const adjacency = getAdjacencyMap(modelMachine, options);
      const edges = edgesOf(adjacency as never as Parameters<typeof edgesOf<JobSnapshot, JobEvent>>[0]);
      for (const { from, event, to } of edges) assertJobEdge(from, event, to);

      const generate = kind === 'shortest' ? getShortestPaths : getSimplePaths;
      const generated = generate(modelMachine, options) as unknown as StatePath<JobSnapshot, JobEvent>[];
      const paths = withoutPrefixPaths(generated);
      let steps = 0;
      for (const path of paths) {
        replay(path, config.input);
        steps += path.steps.length - 1;
      }
      expect(paths.length).toBeGreaterThan(10);
      walked.push(
        `${kind} paths (${config.name}): model ${Object.keys(adjacency).length} states, ${edges.length} edges checked; ` +
          `${generated.length} paths generated, ${paths.length} walked (prefixes dropped), ${steps} steps`,
      );
    });
  }

  for (const input of [firstOfTwo, lastOfTwo, single]) {
    it(`edge invariants under a hostile environment (every event in every state): ${input.job.id}`, () => {
      const adjacency = getAdjacencyMap(modelMachine, { events: hostileEnvironment(input), input } as never);
      const edges = edgesOf(adjacency as never as Parameters<typeof edgesOf<JobSnapshot, JobEvent>>[0]);
      for (const { from, event, to } of edges) assertJobEdge(from, event, to);
      expect(edges.length).toBeGreaterThan(50);
      walked.push(`hostile environment (${input.job.id}): model ${Object.keys(adjacency).length} states, ${edges.length} edges checked`);
    });
  }
});
