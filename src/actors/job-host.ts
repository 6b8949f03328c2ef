/**
 * Hosts this node's job actors: one job machine actor per job taken from the queue, created with
 * the worker as its parent (`createActor(logic, { parent })`, XState's public API: the actor joins
 * the node's actor system, its SLOT_RELEASED and done event reach the worker, and the inspector
 * sees it), plus the job machine's effects. Live handles (the delivery, the task's AbortController
 * and timeout, a task slot lease) stay in a registry keyed by job id beside the actors, never in
 * machine context.
 *
 * Delivery rules: result committed (or the job found finished, or a duplicate message) → ack;
 * requeued → nak(delay), so it comes back for the next attempt or to another node; held by
 * someone else → nak(until its lease could lapse); lease lost → nothing (whoever took the job has
 * its own delivery, and if nobody did, the ack wait brings it back).
 */
import { createActor, type AnyActorRef } from 'xstate';
import { jobMachine } from '../machines/job-machine.js';
import type { AbortTaskParams, CommitResultParams, JobEvent, RequeueJobParams, RunTaskParams } from '../machines/job-types.js';
import type { JobContext as MachineContext } from '../machines/job-logic.js';
import { jobInputFor } from '../machines/worker-plan.js';
import type { FetchedJob } from '../machines/worker-types.js';
import { toJobError } from '../machines/job-policy.js';
import type { JobRecord, JobResult } from '../records.js';
import type { JobDelivery, Lease } from '../store/index.js';
import type { NodeContext } from '../runtime/node-context.js';
import { JobLeaseKeeper, machineLeaseLostReason } from './job-lease-keeper.js';
import { AttemptRecorder, taskStack } from './attempt-recorder.js';
import { announceRetry, countFinish, countStart, withSchedule } from './job-reports.js';
import { isThenable, taskContext, type TaskSignalState } from './task-context.js';
import { asUnstorable, isUnstorableValue, plainDataProblem, publicPayloadError } from './unstorable-result.js';

/**
 * The id of every job actor. XState relays a child's end to its parent as `xstate.done.actor.<id>`
 * and memoizes transition candidates per event type for good: an id per job would grow that memo
 * by every job the worker ever ran (~250 bytes each). The job id is in the actor's input.
 */
const JOB_ACTOR_ID = 'job';
/** How long a task whose cluster-wide slots are all taken waits before its job is offered again. */
const SLOT_RETRY_MS = 1_000;
/** How long a delivery whose acquisition failed (store error) waits before it is offered again. */
const ACQUIRE_RETRY_MS = 1_000;

interface JobHandle extends TaskSignalState {
  delivery: JobDelivery;
  actor: AnyActorRef | null;
  timeout: NodeJS.Timeout | null;
  slot: Lease | null;
  /** The attempt running here: its log lines, progress and failure (made when the task starts). */
  recorder: AttemptRecorder | null;
}

type Sender = (event: JobEvent) => void;

export class JobHost {
  readonly #handles = new Map<string, JobHandle>();
  readonly keeper: JobLeaseKeeper;
  readonly logic;

  constructor(private readonly node: NodeContext) {
    const { backend } = node;
    this.keeper = new JobLeaseKeeper(backend.jobs, () => backend.clock.now(), {
      leaseDurationMs: backend.leaseDurationMs,
      ackWaitMs: backend.ackWaitMs,
      onLost: (jobId, lost) => {
        node.metrics.leaseLost();
        node.logger.warn({ jobId, reason: lost.reason, ...(lost.holder !== undefined ? { holder: lost.holder } : {}) }, `lease of job ${jobId} lost (${lost.reason}): its attempt is aborted and its result refused`);
        node.emit('LeaseLost', { key: lost.key, reason: lost.reason, jobId, ...(lost.holder !== undefined ? { holder: lost.holder } : {}) });
      },
      onError: (error, jobId) => {
        node.metrics.renewalFailed();
        node.logger.warn({ err: error, jobId }, `lease of job ${jobId}: a write got no answer (retrying until its deadline)`);
      },
    });
    this.logic = jobMachine.provide({
      actions: {
        acquireLease: ({ context, self }) => void this.#acquire(context, this.#sender(self)),
        runTask: ({ context, self }, params: RunTaskParams) => this.#runTask(context, params, this.#sender(self)),
        abortTask: (_, params: AbortTaskParams) => this.#abortTask(params.jobId, params.reason),
        commitResult: ({ context, self }, params: CommitResultParams) => void this.#commit(context, params, this.#sender(self)),
        requeueJob: ({ context, self }, params: RequeueJobParams) => void this.#requeue(context, params, this.#sender(self)),
      },
    });
  }

  /** Jobs with a handle here (fetched and not yet ended). */
  get size(): number {
    return this.#handles.size;
  }

  /** Whether `jobId` has a handle here (a redelivery of it must not start a second actor). */
  has(jobId: string): boolean {
    return this.#handles.has(jobId);
  }

  /** Records the delivery of a fetched job, before the worker decides to start it. */
  register(jobId: string, delivery: JobDelivery): void {
    this.#handles.set(jobId, { delivery, actor: null, abort: null, abortedFor: null, taskRunning: false, timeout: null, slot: null, recorder: null });
  }

  /** Hands an unstarted delivery back to the queue (at once, or after `delayMs`). */
  giveBack(jobId: string, delayMs = 0): void {
    const handle = this.#handles.get(jobId);
    if (!handle || handle.actor) return;
    this.#handles.delete(jobId);
    handle.delivery.nak(delayMs);
  }

  /** Starts a job actor per fetched job, with `worker` as parent. */
  start(worker: AnyActorRef, jobs: readonly FetchedJob[]): void {
    for (const item of jobs) {
      const jobId = item.job.id;
      const handle = this.#handles.get(jobId);
      if (!handle || handle.actor) continue;
      const actor = createActor(this.logic, { parent: worker, id: JOB_ACTOR_ID, input: jobInputFor(item, this.node.nodeId) });
      handle.actor = actor;
      actor.subscribe({
        complete: () => this.#ended(jobId, handle),
        // A crashed job actor never reaches its final state, whose entry frees the worker's slot.
        error: () => {
          this.#ended(jobId, handle);
          worker.send({ type: 'SLOT_RELEASED', jobId });
        },
      });
      actor.start();
    }
  }

  /** Sends `event` to the job actor of `jobId`, if it runs here. */
  send(jobId: string, event: { type: 'CANCEL' } | { type: 'SHUTDOWN' }): boolean {
    const actor = this.#handles.get(jobId)?.actor;
    if (!actor || actor.getSnapshot().status !== 'active') return false;
    actor.send(event);
    return true;
  }

  /** Stops keeping leases (the node is closing; jobs still running are redelivered by the queue). */
  stop(): void {
    this.keeper.stop();
    for (const [jobId, handle] of this.#handles) {
      if (!handle.actor) this.giveBack(jobId);
    }
  }

  // ---- effects ------------------------------------------------------------------------------

  #sender(self: AnyActorRef): Sender {
    return (event) => {
      if (self.getSnapshot().status === 'active') self.send(event);
    };
  }

  async #acquire(context: MachineContext, send: Sender): Promise<void> {
    const { job } = context;
    const { backend, nodeId } = this.node;
    const handle = this.#handles.get(job.id);
    if (!handle) return send({ type: 'ACQUIRE_FAILED', error: `no delivery registered for job ${job.id}` });
    const { delivery } = handle;
    let slot: Lease | null = null;
    try {
      const task = this.node.tasks.get(job.task);
      if (task?.maxRunning) {
        slot = await backend.leases.acquireSlot(job.task, task.maxRunning, nodeId);
        if (!slot) {
          delivery.nak(SLOT_RETRY_MS);
          return send({ type: 'TASK_SLOTS_FULL', retryInMs: SLOT_RETRY_MS });
        }
      }
      const outcome = await backend.jobs.acquire(delivery, job, nodeId);
      switch (outcome.status) {
        case 'acquired':
          handle.slot = slot;
          this.keeper.hold(outcome.lease, delivery, { send, progress: () => handle.recorder?.latestProgress });
          if (backend.events.wanted()) this.node.emit('JobAcquired', withSchedule(job, { jobId: job.id, task: job.task, attempt: outcome.job.attempt }));
          return send({
            type: 'LEASE_ACQUIRED',
            lease: { revision: outcome.lease.revision },
            attempt: outcome.job.attempt,
            now: outcome.lease.sentAt,
            previousAttemptAbandoned: outcome.previousAttemptAbandoned,
          });
        case 'finished':
        case 'duplicate':
          delivery.ack();
          await this.#releaseSlot(slot);
          return send({ type: 'LEASE_NOT_ACQUIRED', reason: 'finished' });
        case 'corrupt':
          delivery.ack();
          await this.#releaseSlot(slot);
          this.node.emit('JobDeserializationFailed', { jobId: job.id, error: outcome.error.message });
          return send({ type: 'LEASE_NOT_ACQUIRED', reason: 'finished' });
        case 'later':
          delivery.nak(outcome.retryInMs);
          await this.#releaseSlot(slot);
          return send({ type: 'LEASE_NOT_ACQUIRED', reason: outcome.reason === 'not_yet' ? 'not_yet' : 'held_elsewhere' });
      }
    } catch (error) {
      await this.#releaseSlot(slot);
      delivery.nak(ACQUIRE_RETRY_MS);
      this.node.reportError(error, `acquiring job ${job.id}`);
      send({ type: 'ACQUIRE_FAILED', error: error instanceof Error ? error.message : String(error) });
    }
  }

  #runTask(context: MachineContext, params: RunTaskParams, send: Sender): void {
    const { job } = context;
    const handle = this.#handles.get(job.id);
    const task = this.node.tasks.get(job.task);
    if (!handle || !task) {
      send({ type: 'TASK_FAILED', error: { name: 'Error', message: `task "${job.task}" is not registered on node ${this.node.nodeId}` } });
      return;
    }
    handle.taskRunning = true;
    const recorder = (handle.recorder = new AttemptRecorder(this.node, job, params.attempt));
    countStart(this.node, job, params.attempt, recorder.startedAt);
    if (params.timeoutMs !== null) {
      const timeoutMs = params.timeoutMs;
      handle.timeout = setTimeout(() => {
        handle.timeout = null;
        if (handle.taskRunning) recorder.failed('timeout', { name: 'TimeoutError', message: `task "${job.task}" ran past its timeout of ${timeoutMs} ms` });
        send({ type: 'TIMEOUT' });
      }, timeoutMs);
    }
    // A task that reads its signal past the lease deadline sees it aborted at once — also from the
    // synchronous start of the task, which runs inside this action, before LEASE_LOST can reach the machine.
    const checkLease = (): void => {
      if (this.keeper.checkDeadline(job.id)) this.#abort(handle, `job ${job.id} aborted: lease lost (renewal deadline passed)`);
    };
    const ctx = taskContext(job, params.attempt, handle, checkLease);
    ctx.log = (...values: unknown[]) => recorder.log(values);
    ctx.progress = (value: unknown) => recorder.progress(value);
    // An answer after the abort is nobody's business: the machine has moved on.
    const succeed = (value: unknown): void => {
      if (!handle.taskRunning) return;
      handle.taskRunning = false;
      send({ type: 'TASK_SUCCEEDED', value });
    };
    const fail = (error: unknown): void => {
      if (!handle.taskRunning) return;
      handle.taskRunning = false;
      const jobError = toJobError(error);
      if (jobError.stack !== undefined) jobError.stack = taskStack(jobError.stack);
      recorder.failed('error', jobError);
      send({ type: 'TASK_FAILED', error: jobError });
    };
    let returned: unknown;
    try {
      returned = task.fn(job.args, ctx);
    } catch (error) {
      fail(error);
      return;
    }
    if (isThenable(returned)) returned.then(succeed, fail);
    else succeed(returned);
  }

  #abortTask(jobId: string, reason: AbortTaskParams['reason']): void {
    const handle = this.#handles.get(jobId);
    if (!handle) return;
    this.#clearTimeout(handle);
    this.#abort(handle, `job ${jobId} aborted: ${reason.replace('_', ' ')}`);
  }

  /** Aborts the task's signal (created lazily: a task that never read it has nothing to stop). */
  #abort(handle: JobHandle, why: string): void {
    if (!handle.taskRunning) return;
    handle.taskRunning = false;
    if (handle.abort) handle.abort.abort(new Error(why));
    else handle.abortedFor = why;
  }

  async #commit(context: MachineContext, params: CommitResultParams, send: Sender): Promise<void> {
    const { job } = context;
    const handle = this.#handles.get(job.id);
    if (handle) this.#clearTimeout(handle);
    let result: JobResult = { ...params.result, finishedAt: new Date(this.node.backend.clock.now()) };
    // A return value that is not plain data would be mangled by the encoder (a function vanishes, a
    // Map turns into an object): refuse it the way addJob refuses such args.
    const unstorable = result.outcome === 'success' ? plainDataProblem(result.returnValue, `return value of job "${job.id}"`) : null;
    if (unstorable) result = asUnstorable(result, unstorable);
    const recorder = handle?.recorder ?? null;
    recorder?.close();
    // A timeout's result says what ran out, as a failure's carries its error.
    const timedOut = result.outcome === 'timeout' && result.error === undefined ? recorder?.failure?.error : undefined;
    if (timedOut) result = { ...result, error: { name: timedOut.name, message: timedOut.message } };
    const notes = recorder?.notes() ?? {};
    let outcome;
    try {
      outcome = await this.keeper.commit(job.id, result, { resultTtlMs: job.resultTtlMs, ...notes });
    } catch (error) {
      if (!isUnstorableValue(error)) {
        this.node.reportError(error, `committing job ${job.id}`);
        return send({ type: 'LEASE_LOST', reason: 'reported' });
      }
      // The result cannot be stored (encoder refused it, or over the payload limit): the job still
      // ends, as an error that says why. Nothing was written, so the lease is where it was.
      result = asUnstorable(result, publicPayloadError(error, `return value of job "${job.id}"`));
      outcome = await this.keeper.commit(job.id, result, { resultTtlMs: job.resultTtlMs, ...notes }).catch((e: unknown) => {
        this.node.reportError(e, `committing job ${job.id}`);
        return { status: 'lost', reason: 'reported' } as const;
      });
    }
    if (outcome.status === 'lost') return send({ type: 'LEASE_LOST', reason: outcome.reason });
    handle?.delivery.ack();
    await this.#releaseSlot(handle?.slot ?? null);
    if (handle) handle.slot = null;
    const committed = outcome.value.result;
    const { error } = committed;
    countFinish(this.node, job, committed, recorder);
    if (this.node.backend.events.wanted()) {
      const released = { jobId: job.id, task: job.task, outcome: committed.outcome, attempt: committed.attempt };
      this.node.emit('JobReleased', withSchedule(job, error ? { ...released, error: { name: error.name, message: error.message } } : released));
    }
    send({ type: 'RESULT_COMMITTED', result: committed });
  }

  async #requeue(context: MachineContext, params: RequeueJobParams, send: Sender): Promise<void> {
    const { job } = context;
    const handle = this.#handles.get(job.id);
    const now = this.node.backend.clock.now();
    const next: JobRecord = { ...job, attempt: params.attempt };
    if (params.delayMs > 0) next.notBefore = new Date(now + params.delayMs);
    else delete next.notBefore;
    const nextAttemptAt = new Date(now + params.delayMs);
    // The attempt that ran here joins the job's history: failed (a retry follows) or interrupted (this
    // node stops). A requeue decided on acquisition ran nothing: an abandoned predecessor was
    // recorded by the acquisition itself.
    const recorder = handle?.recorder ?? null;
    recorder?.close();
    const failure = recorder?.failure ?? null;
    const ended = recorder ? recorder.ended(params.reason === 'retry' ? (failure?.outcome ?? 'error') : 'interrupted', params.reason === 'retry' ? nextAttemptAt : null) : undefined;
    const outcome = await this.keeper.requeue(job.id, next, ended).catch((error: unknown) => {
      this.node.reportError(error, `requeueing job ${job.id}`);
      return { status: 'lost', reason: 'reported' } as const;
    });
    if (outcome.status === 'lost') return send({ type: 'LEASE_LOST', reason: outcome.reason });
    handle?.delivery.nak(params.delayMs);
    await this.#releaseSlot(handle?.slot ?? null);
    if (handle) handle.slot = null;
    if (params.reason === 'retry') announceRetry(this.node, job, params.attempt, nextAttemptAt, recorder);
    send({ type: 'JOB_REQUEUED' });
  }

  // ---- cleanup ------------------------------------------------------------------------------

  /** The job actor ended (final state or crash): nothing of it may stay behind. */
  #ended(jobId: string, handle: JobHandle): void {
    if (this.#handles.get(jobId) === handle) this.#handles.delete(jobId);
    handle.recorder?.close();
    this.#clearTimeout(handle);
    this.#abort(handle, `job ${jobId} ended`);
    this.keeper.drop(jobId);
    if (handle.slot) void this.#releaseSlot(handle.slot);
    handle.slot = null;
  }

  #clearTimeout(handle: JobHandle): void {
    if (handle.timeout !== null) clearTimeout(handle.timeout);
    handle.timeout = null;
  }

  async #releaseSlot(slot: Lease | null): Promise<void> {
    if (slot) await this.node.backend.leases.release(slot).catch(() => undefined);
  }
}

export { machineLeaseLostReason };
