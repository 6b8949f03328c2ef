/**
 * Fake effects for the job machine, backed by FakeLeaseStore and the simulated clock, with a log
 * of every call so tests can count effects (and prove some never happen).
 */
import { assign, fromPromise, setup } from 'xstate';
import type { SimulatedClock } from 'xstate';
import { jobMachine } from '../../../src/machines/job-machine.js';
import type {
  AbortTaskParams,
  AcquireLeaseOutput,
  JobInput,
  JobOutput,
  RenewLeaseOutput,
  RequeueJobInput,
  RunTaskInput,
  WriteResultInput,
  WriteResultOutput,
} from '../../../src/machines/job-types.js';
import type { JobRecord, JobResult } from '../../../src/records.js';
import { deferred, type Deferred } from './deferred.js';
import { FakeLeaseStore } from './lease-store.js';

export interface JobEffectLog {
  acquireLease: string[];
  renewLease: { jobId: string; at: number }[];
  runTask: RunTaskInput[];
  taskSignals: AbortSignal[];
  writeResult: WriteResultInput[];
  requeueJob: RequeueJobInput[];
  releaseLease: string[];
  abortTask: AbortTaskParams[];
}

export function emptyJobLog(): JobEffectLog {
  return { acquireLease: [], renewLease: [], runTask: [], taskSignals: [], writeResult: [], requeueJob: [], releaseLease: [], abortTask: [] };
}

export interface JobFakeOptions {
  clock: SimulatedClock;
  leaseDurationMs: number;
  nodeId?: string;
  /** The task: gets input and the promise actor's signal. Default: resolves `'ok'` at once. */
  runTask?: (input: RunTaskInput, signal: AbortSignal) => Promise<unknown>;
  /** Override renewLease (e.g. to answer "revision moved"). Default: the lease store. */
  renewLease?: (jobId: string, revision: number) => RenewLeaseOutput | undefined;
  /** Override acquireLease. Default: the lease store. */
  acquireLease?: (job: JobRecord) => AcquireLeaseOutput | undefined;
  /** Share a lease table (e.g. across a simulated restart). Default: a new one. */
  store?: FakeLeaseStore;
  /** Answer writeResult with a rejection this many times first. Default: 0. */
  failWrites?: number;
  /** Whether the store reports that an earlier runner of this attempt vanished. Default: never. */
  previousAttemptAbandoned?: (job: JobRecord) => boolean;
}

export const jobLeaseKey = (jobId: string): string => `job.${jobId}`;

/** The job machine with fake effects, the store behind them and the effect log. */
export function fakeJobMachine(options: JobFakeOptions) {
  const { clock } = options;
  const nodeId = options.nodeId ?? 'node-a';
  const store = options.store ?? new FakeLeaseStore(clock, options.leaseDurationMs);
  let writeFailures = options.failWrites ?? 0;
  const log = emptyJobLog();
  const results: JobResult[] = [];
  const machine = jobMachine.provide({
    actors: {
      acquireLease: fromPromise(async ({ input }) => {
        log.acquireLease.push(input.job.id);
        const override = options.acquireLease?.(input.job);
        if (override) return override;
        const lease = store.acquire(jobLeaseKey(input.job.id), nodeId);
        return lease
          ? ({
              status: 'acquired',
              lease,
              now: clock.now(),
              previousAttemptAbandoned: options.previousAttemptAbandoned?.(input.job) ?? false,
            } as const)
          : ({ status: 'held_elsewhere' } as const);
      }),
      renewLease: fromPromise(async ({ input }) => {
        log.renewLease.push({ jobId: input.job.id, at: clock.now() });
        return (
          options.renewLease?.(input.job.id, input.lease.revision) ??
          store.renew(jobLeaseKey(input.job.id), nodeId, input.lease)
        );
      }),
      runTask: fromPromise(async ({ input, signal }) => {
        log.runTask.push(input);
        log.taskSignals.push(signal);
        return options.runTask ? options.runTask(input, signal) : 'ok';
      }),
      writeResult: fromPromise(async ({ input }): Promise<WriteResultOutput> => {
        log.writeResult.push(input);
        if (writeFailures > 0) {
          writeFailures--;
          throw new Error('results bucket unavailable');
        }
        if (!store.holds(jobLeaseKey(input.job.id), input.lease)) return { status: 'lease_lost', reason: 'revision_moved' };
        const result: JobResult = { ...input.result, finishedAt: new Date(clock.now()) };
        results.push(result);
        return { status: 'written', result };
      }),
      requeueJob: fromPromise(async ({ input }) => {
        log.requeueJob.push(input);
      }),
      releaseLease: fromPromise(async ({ input }) => {
        log.releaseLease.push(input.job.id);
        store.release(jobLeaseKey(input.job.id), input.lease);
      }),
    },
    actions: {
      abortTask: (_, params) => {
        log.abortTask.push(params);
      },
    },
  });
  return { machine, store, log, results };
}

/** A task that takes `ms` of simulated time and settles early (rejects) when aborted. */
export function simulatedTask(clock: SimulatedClock, ms: number, value: unknown = 'done') {
  return (_input: RunTaskInput, signal: AbortSignal): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = clock.setTimeout(() => resolve(value), ms);
      signal.addEventListener('abort', () => {
        clock.clearTimeout(id);
        reject(new Error('aborted'));
      });
    });
}

/**
 * A parent that invokes one job and records what it sends up: the job machine uses sendParent, so
 * it must run as a child, as it does under the worker.
 */
export function jobParent(job: typeof jobMachine, input: JobInput) {
  return setup({
    types: {} as {
      context: { released: string[]; output: JobOutput | null };
      events: { type: 'SLOT_RELEASED'; jobId: string };
    },
    actors: { job },
  }).createMachine({
    context: { released: [], output: null },
    invoke: {
      id: 'job',
      src: 'job',
      input,
      onDone: { actions: assign({ output: ({ event }) => event.output }) },
    },
    on: {
      SLOT_RELEASED: { actions: assign({ released: ({ context, event }) => [...context.released, event.jobId] }) },
    },
  });
}

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

export const JOB_EFFECTS = ['acquireLease', 'renewLease', 'runTask', 'writeResult', 'requeueJob', 'releaseLease'] as const;
export type JobEffectName = (typeof JOB_EFFECTS)[number];

export interface ControlledCall {
  input: unknown;
  answer: Deferred<unknown>;
  signal: AbortSignal;
  /** Simulated time the effect was invoked. */
  at: number;
}

/** The job machine with every effect waiting for the test to answer it. */
export function controlledJobMachine(clock: SimulatedClock) {
  const calls = Object.fromEntries(JOB_EFFECTS.map((name) => [name, [] as ControlledCall[]])) as Record<JobEffectName, ControlledCall[]>;
  const aborts: AbortTaskParams[] = [];
  const effect = (name: JobEffectName) =>
    fromPromise<never, unknown>(({ input, signal }) => {
      const answer = deferred<unknown>();
      calls[name].push({ input, answer, signal, at: clock.now() });
      return answer.promise as Promise<never>;
    });
  const machine = jobMachine.provide({
    actors: Object.fromEntries(JOB_EFFECTS.map((name) => [name, effect(name)])) as never,
    actions: { abortTask: (_, params) => void aborts.push(params) },
  });
  const last = (name: JobEffectName): ControlledCall => {
    const call = calls[name][calls[name].length - 1];
    if (!call) throw new Error(`no ${name} call to answer`);
    return call;
  };
  return { machine, calls, aborts, last };
}
