/**
 * Fakes for the worker machine's effects, in production's style (src/actors/worker-effects.ts):
 * effects are actions; `fetchJobs` answers LATER with JOBS_FETCHED / FETCH_FAILED sent to the
 * worker; `startJobs` creates each job actor with `createActor(logic, { parent: self, id })`, so
 * job actors are not in the worker's `snapshot.children` and reach it only through the events they
 * send (SLOT_RELEASED, `xstate.done.actor.<id>`, `xstate.error.actor.<id>`) — and, as
 * production's host does, a crashed job actor's SLOT_RELEASED sent for it.
 *
 * `workerFakes()` records every call (with the `self` to answer) and lets the test answer fetches
 * by hand; `FakeJobQueue` answers them from an array, with the long-poll semantics of `waiting`.
 */
import { createActor, sendParent, setup } from 'xstate';
import type { AnyActorRef, SimulatedClock } from 'xstate';
import type { jobMachine } from '../../../src/machines/job-machine.js';
import type { JobInput } from '../../../src/machines/job-types.js';
import { jobInputFor } from '../../../src/machines/worker-plan.js';
import type { FetchedJob, FetchJobsParams, ReturnUnstartedJobsParams, StartJobsParams, WorkerEvent } from '../../../src/machines/worker-types.js';

export interface FetchCall {
  params: FetchJobsParams;
  /** The worker that asked: the one to answer. */
  self: AnyActorRef;
  /** Position among every effect this fake recorded. */
  seq: number;
  /** pending until answered, or until `cancelFetch` ends it. */
  status: 'pending' | 'answered' | 'cancelled';
}

export type FetchAnswer = Extract<WorkerEvent, { type: 'JOBS_FETCHED' | 'FETCH_FAILED' }>;

/** One effect call, in the order the worker made them. */
export type WorkerEffectCall =
  | { effect: 'fetchJobs'; params: FetchJobsParams }
  | { effect: 'cancelFetch' }
  | { effect: 'startJobs'; params: StartJobsParams }
  | { effect: 'returnUnstartedJobs'; params: { groups: ReturnUnstartedJobsParams[] } }
  | { effect: 'shutdownJobs'; params: { jobIds: string[] } };

export interface WorkerFakeOptions {
  /** The job logic `startJobs` runs. @defaultValue a new stubJobLogic() */
  jobLogic?: typeof jobMachine;
  /** Called when a fetch is requested / cancelled (FakeJobQueue answers through these). */
  onFetch?: (call: FetchCall) => void;
  onCancel?: (call: FetchCall) => void;
}

/** The worker's effects as recording fakes, and the live job actors they started. */
export function workerFakes(options: WorkerFakeOptions = {}) {
  const stub = options.jobLogic ? null : stubJobLogic();
  const jobLogic = options.jobLogic ?? stub!.logic;
  const fetches: FetchCall[] = [];
  const effects: WorkerEffectCall[] = [];
  /** Every job actor started, in order (a job id may come back after it ended: a requeued job). */
  const started: { jobId: string; actor: AnyActorRef }[] = [];
  /** The latest actor of each job id. */
  const actors = new Map<string, AnyActorRef>();
  const returned: ReturnUnstartedJobsParams[] = [];
  const shutdowns: string[][] = [];
  let seq = 0;

  const actions = {
    fetchJobs: ({ self }: { self: AnyActorRef }, params: FetchJobsParams) => {
      effects.push({ effect: 'fetchJobs', params });
      const call: FetchCall = { params, self, seq: seq++, status: 'pending' };
      fetches.push(call);
      options.onFetch?.(call);
    },
    // As production's: ends whatever fetch is in flight (a no-op once it was answered).
    cancelFetch: () => {
      effects.push({ effect: 'cancelFetch' });
      seq++;
      for (const call of fetches) {
        if (call.status !== 'pending') continue;
        call.status = 'cancelled';
        options.onCancel?.(call);
      }
    },
    startJobs: ({ self, context }: { self: AnyActorRef; context: { nodeId: string | null } }, params: StartJobsParams) => {
      effects.push({ effect: 'startJobs', params });
      seq++;
      for (const item of params.jobs) {
        const actor = createActor(jobLogic, { parent: self, id: item.job.id, input: jobInputFor(item, context.nodeId) });
        // As production's host: a crashed job actor's slot is released for it.
        actor.subscribe({ error: () => self.send({ type: 'SLOT_RELEASED', jobId: item.job.id }) });
        started.push({ jobId: item.job.id, actor });
        actors.set(item.job.id, actor);
        actor.start();
      }
    },
    returnUnstartedJobs: (_: unknown, params: { groups: ReturnUnstartedJobsParams[] }) => {
      effects.push({ effect: 'returnUnstartedJobs', params });
      seq++;
      returned.push(...params.groups);
    },
    shutdownJobs: (_: unknown, params: { jobIds: string[] }) => {
      effects.push({ effect: 'shutdownJobs', params });
      seq++;
      shutdowns.push([...params.jobIds]);
      for (const jobId of params.jobIds) {
        const actor = actors.get(jobId);
        if (actor?.getSnapshot().status === 'active') actor.send({ type: 'SHUTDOWN' });
      }
    },
  };

  const pendingFetches = (): FetchCall[] => fetches.filter((c) => c.status === 'pending');

  /**
   * Answers the fetch in flight. Throws when none is pending, or when the answer holds more jobs
   * than the fetch asked for: the environment never does either.
   */
  function answerFetch(event: FetchAnswer, call: FetchCall | undefined = pendingFetches().at(-1)): FetchCall {
    if (!call || call.status !== 'pending') {
      throw new Error(`answering a fetch with ${event.type}, but none is pending (fetches: ${fetches.map((c) => c.status).join(', ') || 'none'})`);
    }
    if (event.type === 'JOBS_FETCHED' && event.jobs.length > call.params.max) {
      throw new Error(`a fetch for ${call.params.max} answered with ${event.jobs.length} jobs`);
    }
    call.status = 'answered';
    call.self.send(event);
    return call;
  }

  /** The live actor of `jobId` (throws if it never started). */
  function job(jobId: string): AnyActorRef {
    const actor = actors.get(jobId);
    if (!actor) throw new Error(`job ${jobId} was never started`);
    return actor;
  }

  /** Stub jobs only: ends `jobId` as the job machine does (SLOT_RELEASED from its final state). */
  const finish = (jobId: string): void => job(jobId).send({ type: 'FINISH' });

  return {
    actions,
    fetches,
    effects,
    pendingFetches,
    answerFetch,
    started,
    actors,
    job,
    finish,
    returned,
    shutdowns,
    /** The stub's log, when the stub job logic is used. */
    stubLog: stub?.log ?? null,
  };
}

export type WorkerFakes = ReturnType<typeof workerFakes>;

/**
 * A dispatch queue behind `fetchJobs`: a fetch takes up to `max` jobs from the front. A fetch with
 * `waitMs` > 0 on an empty queue is a long poll: a job pushed meanwhile is delivered at once
 * (unless the queue is `lossy`, i.e. that wake-up is lost), otherwise it answers [] after `waitMs`.
 * Answers travel through promise continuations, like production's; a cancelled fetch takes nothing.
 */
export class FakeJobQueue {
  readonly items: FetchedJob[] = [];
  #poll: { call: FetchCall; timer: number } | null = null;
  #failures = 0;
  fakes: WorkerFakes | null = null;

  constructor(
    private readonly clock: SimulatedClock,
    private readonly opts: { lossy?: boolean } = {},
  ) {}

  /** Worker fakes answering from this queue. */
  workerFakes(options: Omit<WorkerFakeOptions, 'onFetch' | 'onCancel'> = {}): WorkerFakes {
    this.fakes = workerFakes({ ...options, onFetch: (call) => this.#fetch(call), onCancel: (call) => this.#cancel(call) });
    return this.fakes;
  }

  /** Queues jobs; a waiting long poll gets them at once (unless lossy). */
  push(...jobs: FetchedJob[]): void {
    this.items.push(...jobs);
    const poll = this.#poll;
    if (poll && !this.opts.lossy) {
      this.#poll = null;
      this.clock.clearTimeout(poll.timer);
      this.#answer(poll.call);
    }
  }

  /** The next `n` fetches fail (FETCH_FAILED). */
  failNext(n: number): void {
    this.#failures = n;
  }

  #fetch(call: FetchCall): void {
    if (this.#failures === 0 && this.items.length === 0 && call.params.waitMs > 0) {
      this.#poll = { call, timer: this.clock.setTimeout(() => this.#endPoll(call), call.params.waitMs) };
      return;
    }
    this.#answer(call);
  }

  #endPoll(call: FetchCall): void {
    if (this.#poll?.call === call) this.#poll = null;
    this.#answer(call);
  }

  #cancel(call: FetchCall): void {
    if (this.#poll?.call !== call) return;
    this.clock.clearTimeout(this.#poll.timer);
    this.#poll = null;
  }

  #answer(call: FetchCall): void {
    void Promise.resolve().then(() => {
      if (call.status !== 'pending') return;
      if (this.#failures > 0) {
        this.#failures--;
        this.fakes!.answerFetch({ type: 'FETCH_FAILED', error: 'dispatch unavailable' }, call);
        return;
      }
      this.fakes!.answerFetch({ type: 'JOBS_FETCHED', jobs: this.items.splice(0, call.params.max) }, call);
    });
  }
}

export interface StubJobLog {
  started: string[];
  shutdown: string[];
}

export type StubJobEvent = { type: 'FINISH' } | { type: 'FINISH_SILENTLY' } | { type: 'CRASH' } | { type: 'SHUTDOWN' } | { type: 'CANCEL' };

/**
 * A stand-in for the job machine under the worker: runs until the test ends it. FINISH ends it as
 * the job machine ends (its final state's entry sends SLOT_RELEASED, then XState sends the done
 * event); FINISH_SILENTLY ends it without SLOT_RELEASED (the worker must derive the release from
 * the done event); CRASH throws (the host sends SLOT_RELEASED for it). Records starts and
 * SHUTDOWNs.
 */
export function stubJobLogic(log: StubJobLog = { started: [], shutdown: [] }) {
  const logic = setup({
    types: {} as { context: { jobId: string }; input: JobInput; events: StubJobEvent },
    actions: {
      recordStart: ({ context }) => void log.started.push(context.jobId),
      recordShutdown: ({ context }) => void log.shutdown.push(context.jobId),
      crash: () => {
        throw new Error('job actor crashed');
      },
      releaseSlot: sendParent(({ context }) => ({ type: 'SLOT_RELEASED', jobId: context.jobId })),
    },
  }).createMachine({
    context: ({ input }) => ({ jobId: input.job.id }),
    initial: 'running',
    states: {
      running: {
        entry: 'recordStart',
        on: {
          FINISH: 'released',
          FINISH_SILENTLY: 'ended',
          CRASH: { actions: 'crash' },
          SHUTDOWN: { actions: 'recordShutdown' },
        },
      },
      released: { type: 'final', entry: 'releaseSlot' },
      ended: { type: 'final' },
    },
  });
  // The worker's startJobs runs the real job machine; the stub honours the part of its contract
  // the worker relies on (input, SHUTDOWN, SLOT_RELEASED from the final state).
  return { logic: logic as unknown as typeof jobMachine, log };
}
