/**
 * Fakes for the job machine's effects. Production (src/actors/job-host.ts) provides the effects as
 * actions that answer LATER by sending an event to the job actor; the fakes here do the same:
 *
 * - `controlledJobLogic()` records every effect with its params and the `self` to answer, and the
 *   test answers by hand. It keeps the bookkeeping the invariants need: which effects are still
 *   pending (requested, not answered, not aborted), and whether the lease was held when each was
 *   requested. Answering an effect that is not pending throws: the environment never does that.
 * - `autoJobLogic()` answers by itself (asynchronously, as production does) with a task that takes
 *   simulated time, for tests that run many jobs (the worker's burst test).
 *
 * A job actor is created as production creates it: `createActor(logic, { parent, id: jobId })`,
 * the parent being the worker (or `jobUnderParent`'s recorder here).
 */
import { assign, createActor, setup } from 'xstate';
import type { AnyActorRef, EventObject, SimulatedClock, Snapshot } from 'xstate';
import { jobMachine } from '../../../src/machines/job-machine.js';
import type {
  AbortTaskParams,
  CommitResultParams,
  JobEvent,
  JobInput,
  JobOutput,
  RequeueJobParams,
  RunTaskParams,
} from '../../../src/machines/job-types.js';
import type { JobError, JobRecord, JobResult } from '../../../src/records.js';

/** The job effects that answer with an event (abortTask answers nothing). */
export const JOB_EFFECTS = ['acquireLease', 'runTask', 'commitResult', 'requeueJob'] as const;
export type JobEffectName = (typeof JOB_EFFECTS)[number];

export interface JobEffectParams {
  acquireLease: { jobId: string };
  runTask: RunTaskParams;
  commitResult: CommitResultParams;
  requeueJob: RequeueJobParams;
}

/** The lease as the fake keeper sees it for one job actor. */
export type FakeLeaseState = 'none' | 'held' | 'lost' | 'closed';

export interface EffectCall<N extends JobEffectName = JobEffectName> {
  name: N;
  params: JobEffectParams[N];
  /** The actor the effect ran in: the one to answer. */
  self: AnyActorRef;
  /** Position among every effect (abortTask included) this fake recorded. */
  seq: number;
  status: 'pending' | 'answered' | 'aborted';
  /** The lease of `self` when the effect was requested. */
  leaseAtCall: FakeLeaseState;
}

/** The keeper's reports (LEASE_RENEWED / LEASE_LOST): only ever about a held lease. */
export type KeeperEvent = Extract<JobEvent, { type: 'LEASE_RENEWED' | 'LEASE_LOST' }>;

/** Which answers go to which effect. */
const ANSWERS: Record<JobEvent['type'], JobEffectName | 'keeper' | 'outside'> = {
  LEASE_ACQUIRED: 'acquireLease',
  LEASE_NOT_ACQUIRED: 'acquireLease',
  TASK_SLOTS_FULL: 'acquireLease',
  ACQUIRE_FAILED: 'acquireLease',
  TASK_SUCCEEDED: 'runTask',
  TASK_FAILED: 'runTask',
  TIMEOUT: 'runTask',
  RESULT_COMMITTED: 'commitResult',
  JOB_REQUEUED: 'requeueJob',
  LEASE_RENEWED: 'keeper',
  LEASE_LOST: 'keeper',
  CANCEL: 'outside',
  SHUTDOWN: 'outside',
};

/** The effect an event answers (LEASE_LOST also answers a fenced commit or requeue). */
export function effectAnswered(type: string): JobEffectName | 'keeper' | 'outside' | undefined {
  return ANSWERS[type as JobEvent['type']];
}

/** The job machine with every effect waiting for the test to answer it. */
export function controlledJobLogic() {
  const calls: { [N in JobEffectName]: EffectCall<N>[] } = { acquireLease: [], runTask: [], commitResult: [], requeueJob: [] };
  const aborts: (AbortTaskParams & { seq: number })[] = [];
  const leases = new Map<AnyActorRef, FakeLeaseState>();
  let seq = 0;

  const leaseOf = (self: AnyActorRef): FakeLeaseState => leases.get(self) ?? 'none';
  const record =
    <N extends JobEffectName>(name: N) =>
    ({ self }: { self: AnyActorRef }, params: JobEffectParams[N]): void => {
      (calls[name] as EffectCall<N>[]).push({ name, params, self, seq: seq++, status: 'pending', leaseAtCall: leaseOf(self) });
    };

  const logic = jobMachine.provide({
    actions: {
      acquireLease: record('acquireLease'),
      runTask: record('runTask'),
      commitResult: record('commitResult'),
      requeueJob: record('requeueJob'),
      // As production's #abortTask: the task's signal fires and its answer is never sent.
      abortTask: ({ self }, params) => {
        aborts.push({ ...params, seq: seq++ });
        for (const call of calls.runTask) if (call.self === self && call.status === 'pending') call.status = 'aborted';
      },
    },
  });

  /** Calls of `name` still waiting for an answer (of `self`, if given). */
  const pending = <N extends JobEffectName>(name: N, self?: AnyActorRef): EffectCall<N>[] =>
    (calls[name] as EffectCall<N>[]).filter((c) => c.status === 'pending' && (self === undefined || c.self === self));

  const track = (self: AnyActorRef, event: JobEvent): void => {
    if (event.type === 'LEASE_ACQUIRED') leases.set(self, 'held');
    if (event.type === 'LEASE_LOST') leases.set(self, 'lost');
    if (event.type === 'RESULT_COMMITTED' || event.type === 'JOB_REQUEUED') leases.set(self, 'closed');
  };

  /**
   * Answers the pending effect `name` with `event`, sent to the `self` it ran in. Throws when no
   * such effect is pending: an answer is only ever given to an effect that was requested and has
   * neither been answered nor aborted.
   */
  function answer<N extends JobEffectName>(name: N, event: JobEvent, self?: AnyActorRef): EffectCall<N> {
    const open = pending(name, self);
    const call = open[open.length - 1];
    if (!call) {
      const seen = (calls[name] as EffectCall[]).map((c) => c.status).join(', ') || 'none';
      throw new Error(`answering ${name} with ${event.type}, but no ${name} is pending (its calls: ${seen})`);
    }
    if (open.length > 1) throw new Error(`${open.length} ${name} calls pending at once for one actor`);
    const expected = effectAnswered(event.type);
    if (expected !== name && !(event.type === 'LEASE_LOST' && (name === 'commitResult' || name === 'requeueJob'))) {
      throw new Error(`${event.type} is not an answer of ${name}`);
    }
    if (event.type === 'TIMEOUT' && (call.params as RunTaskParams).timeoutMs === null) {
      throw new Error('TIMEOUT for a task that runs without a timeout');
    }
    call.status = 'answered';
    track(call.self, event);
    call.self.send(event);
    return call;
  }

  /** The lease keeper reports on `self`'s lease; throws unless the lease is held. */
  function report(self: AnyActorRef, event: KeeperEvent): void {
    if (leaseOf(self) !== 'held') throw new Error(`the lease keeper reported ${event.type} on a lease that is ${leaseOf(self)}`);
    track(self, event);
    self.send(event);
  }

  /** The last call of `name` (throws if there is none). */
  const last = <N extends JobEffectName>(name: N): EffectCall<N> => {
    const call = calls[name][calls[name].length - 1] as EffectCall<N> | undefined;
    if (!call) throw new Error(`no ${name} call recorded`);
    return call;
  };

  return { logic, calls, aborts, pending, answer, report, last, leaseOf };
}

export type ControlledJobs = ReturnType<typeof controlledJobLogic>;

// ---- a parent for one job -----------------------------------------------------------------------

/** A parent that records every event its job actors send it (SLOT_RELEASED, done and error events). */
export const recorderMachine = setup({
  types: {} as { context: { received: EventObject[] }; events: EventObject },
}).createMachine({
  context: { received: [] },
  on: { '*': { actions: assign({ received: ({ context, event }) => [...context.received, event] }) } },
});

/** One job actor created as production creates it, with a recording parent. */
export function jobUnderParent(logic: typeof jobMachine, input: JobInput, opts: { clock?: SimulatedClock } = {}) {
  const parent = createActor(recorderMachine, opts.clock ? { clock: opts.clock } : {});
  parent.start();
  const job = createActor(logic, { parent, id: input.job.id, input });
  job.start();
  return {
    parent,
    job,
    /** Events the job sent its parent, in order. */
    received: (): EventObject[] => parent.getSnapshot().context.received,
    output: (): JobOutput | undefined => job.getSnapshot().output,
  };
}

/** A job actor restored from a persisted snapshot, under a new recording parent. */
export function restoreJobUnderParent(logic: typeof jobMachine, jobId: string, snapshot: unknown) {
  const parent = createActor(recorderMachine);
  parent.start();
  // Cast: createActor demands `input` for this logic, which a restored actor does not take.
  const job = createActor(logic, { parent, id: jobId, snapshot: snapshot as Snapshot<unknown> } as never);
  job.start();
  return { parent, job, received: (): EventObject[] => parent.getSnapshot().context.received };
}

/** The events a job actor that ended sends its parent: SLOT_RELEASED, then its done event. */
export function endEvents(jobId: string, output: JobOutput): EventObject[] {
  const released: EventObject & { jobId: string } = { type: 'SLOT_RELEASED', jobId };
  const done: EventObject & { output: JobOutput; actorId: string } = { type: `xstate.done.actor.${jobId}`, output, actorId: jobId };
  return [released, done];
}

// ---- a job logic that answers by itself -------------------------------------------------------------

export interface AutoTaskRun {
  /** Simulated ms the task takes. @defaultValue 0 */
  ms?: number;
  /** What it returns. @defaultValue 'ok' */
  value?: unknown;
  /** What it throws instead (TASK_FAILED). */
  error?: JobError;
}

export interface AutoJobOptions {
  clock: SimulatedClock;
  /** How each run goes. @defaultValue returns 'ok' at once */
  task?: (params: RunTaskParams) => AutoTaskRun;
  /** Called when a task starts / ends (answered or aborted), e.g. to count concurrency. */
  onTaskStart?: (params: RunTaskParams) => void;
  onTaskEnd?: (params: RunTaskParams) => void;
}

/**
 * The job machine with effects that answer by themselves, asynchronously (as production's do):
 * the lease is always acquired, the task takes simulated time on the clock (TIMEOUT at its
 * timeout, as production's runner reports it), commits and requeues succeed.
 */
export function autoJobLogic(options: AutoJobOptions) {
  const { clock } = options;
  const results: JobResult[] = [];
  const requeued: RequeueJobParams[] = [];
  const aborts: AbortTaskParams[] = [];
  const runs: RunTaskParams[] = [];
  const tasks = new Map<string, { timers: number[]; params: RunTaskParams }>();
  const later = (fn: () => void): void => void Promise.resolve().then(fn);
  const endTask = (jobId: string): void => {
    const task = tasks.get(jobId);
    if (!task) return;
    tasks.delete(jobId);
    for (const id of task.timers) clock.clearTimeout(id);
    options.onTaskEnd?.(task.params);
  };

  const logic = jobMachine.provide({
    actions: {
      acquireLease: ({ self, context }) =>
        later(() =>
          self.send({ type: 'LEASE_ACQUIRED', lease: { revision: 1 }, attempt: context.job.attempt, now: clock.now(), previousAttemptAbandoned: false }),
        ),
      runTask: ({ self }, params) => {
        runs.push(params);
        const run = { ms: 0, value: 'ok', ...options.task?.(params) };
        const timers: number[] = [];
        tasks.set(params.jobId, { timers, params });
        options.onTaskStart?.(params);
        timers.push(
          clock.setTimeout(() => {
            endTask(params.jobId);
            self.send(run.error ? { type: 'TASK_FAILED', error: run.error } : { type: 'TASK_SUCCEEDED', value: run.value });
          }, run.ms),
        );
        if (params.timeoutMs !== null && params.timeoutMs < run.ms) {
          timers.push(clock.setTimeout(() => self.send({ type: 'TIMEOUT' }), params.timeoutMs));
        }
      },
      abortTask: (_, params) => {
        aborts.push(params);
        endTask(params.jobId);
      },
      commitResult: ({ self }, params) =>
        later(() => {
          const result: JobResult = { ...params.result, finishedAt: new Date(clock.now()) };
          results.push(result);
          self.send({ type: 'RESULT_COMMITTED', result });
        }),
      requeueJob: ({ self }, params) =>
        later(() => {
          requeued.push(params);
          self.send({ type: 'JOB_REQUEUED' });
        }),
    },
  });
  return { logic, results, requeued, aborts, runs };
}

// ---- records ----------------------------------------------------------------------------------------

let jobCounter = 0;

/** A JobRecord for tests. */
export function testJob(overrides: Partial<JobRecord> = {}): JobRecord {
  jobCounter++;
  return {
    id: `job-${jobCounter}`,
    task: 'test-task',
    args: null,
    createdAt: new Date(Date.UTC(2025, 0, 1)),
    attempt: 1,
    resultTtlMs: 60_000,
    ...overrides,
  };
}
