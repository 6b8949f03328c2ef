/**
 * The job machine's effects against a store: the job lease (and per-task slot lease), the task run,
 * the fenced result write, requeue and release. Provided with `jobMachine.provide(...)`.
 *
 * The dispatch delivery travels as the job's `ticket`. Rules for it:
 * - result written (or found already written) → ack: the job is done;
 * - requeued → nak(delay): it comes back for the next attempt, or to another node;
 * - held elsewhere → nak(a lease duration): if that holder dies, the job is looked at again;
 * - lease lost → nothing: whoever took the lease has its own delivery, and if nobody did, the
 *   ack wait returns the job to the queue, where the next runner finds it abandoned.
 */
import { fromPromise } from 'xstate';
import { DeserializationError } from '../codec/index.js';
import type {
  AcquireLeaseInput,
  AcquireLeaseOutput,
  ReleaseLeaseInput,
  RenewLeaseInput,
  RenewLeaseOutput,
  RequeueJobInput,
  RunTaskInput,
  WriteResultInput,
  WriteResultOutput,
  AbortTaskParams,
} from '../machines/job-types.js';
import type { LeaseGrant, LeaseLostReason as MachineLeaseLostReason } from '../machines/lease-timing.js';
import type { JobRecord, JobResult } from '../records.js';
import { PayloadTooLargeError, SerializationError } from '../errors.js';
import { isLeaseLost, jobLeaseKey, RecordTooLargeError, type JobDelivery, type Lease, type LeaseLost, type LeaseLostReason } from '../store/index.js';
import type { NodeContext } from '../runtime/node-context.js';
import { assertPlainData } from '../runtime/plain-data.js';

/** What the runtime attaches to each fetched job. */
export interface JobTicket {
  delivery: JobDelivery;
  /** Revision of the job record as fetched (for the revision-checked start marker). */
  recordRevision: number;
}

/** The store-side leases behind a machine's LeaseGrant (the grant's opaque `handle`). */
interface HeldLeases {
  job: Lease;
  slot: Lease | null;
  /** Set once the lease was given up by writeResult/requeueJob, so releaseLease has nothing to do. */
  released: boolean;
  /** The dispatch delivery: kept alive on each renewal, acked once the result is stored. */
  delivery: JobDelivery | null;
}

/** How long a task whose slots are all taken waits before its job is offered again. */
const SLOT_RETRY_MS = 1_000;

const held = (grant: LeaseGrant): HeldLeases => grant.handle as HeldLeases;
const ticketOf = (ticket: unknown): JobTicket | null => (ticket && typeof ticket === 'object' && 'delivery' in ticket ? (ticket as JobTicket) : null);

/** Maps the store's reasons onto the machine's vocabulary. */
export function machineLeaseLostReason(reason: LeaseLostReason): MachineLeaseLostReason {
  switch (reason) {
    case 'revision_moved':
      return 'revision_moved';
    case 'expired_and_taken':
      return 'expired';
    case 'key_gone':
      return 'deleted';
    case 'store_unreachable':
      return 'renewal_deadline';
  }
}

/**
 * Publishes the LeaseLost event for a fenced operation the store refused, and answers with the
 * machine's reason for it. Shared by the job and schedule effects.
 */
export function announceLeaseLost(node: NodeContext, lost: LeaseLost, owner: { jobId: string } | { scheduleId: string }): MachineLeaseLostReason {
  node.emit('LeaseLost', {
    key: lost.key,
    reason: lost.reason,
    ...owner,
    ...(lost.holder !== undefined ? { holder: lost.holder } : {}),
  });
  return machineLeaseLostReason(lost.reason);
}

export function createJobEffects(node: NodeContext) {
  const { backend, nodeId } = node;
  const now = (): number => backend.clock.now();

  async function releaseAll(leases: HeldLeases): Promise<void> {
    if (leases.released) return;
    leases.released = true;
    await Promise.all([
      backend.leases.release(leases.job).catch(() => undefined),
      leases.slot ? backend.leases.release(leases.slot).catch(() => undefined) : undefined,
    ]);
  }

  /**
   * `signal` aborts when the machine stops waiting (ACQUIRE_TIMEOUT, a slow store under load): from
   * then on nothing this call took may stay behind. Above all the start marker must go, or the next
   * runner would take this never-started attempt for a crashed one and end the job `abandoned`.
   * The checks sit right after each await: the machine only sees our answer through microtasks, so
   * no timer can slip in between the last check and the machine taking the lease over.
   */
  async function acquireLease({ job, ticket }: AcquireLeaseInput, signal: AbortSignal): Promise<AcquireLeaseOutput> {
    const t = ticketOf(ticket);
    const task = node.tasks.get(job.task);
    const givenUp: AcquireLeaseOutput = { status: 'held_elsewhere' };
    let slot: Lease | null = null;
    if (task?.maxRunning) {
      slot = await backend.leases.acquireSlot(job.task, task.maxRunning, nodeId);
      if (!slot) return { status: 'task_slots_full', retryInMs: SLOT_RETRY_MS };
    }
    const lease = await backend.leases.acquire(jobLeaseKey(job.id), nodeId);
    if (!lease) {
      if (slot) await backend.leases.release(slot).catch(() => undefined);
      t?.delivery.nak(backend.leaseDurationMs);
      return { status: 'held_elsewhere' };
    }
    const leases: HeldLeases = { job: lease, slot, released: false, delivery: t?.delivery ?? null };
    const giveUp = async (): Promise<AcquireLeaseOutput> => {
      await releaseAll(leases);
      t?.delivery.nak(0);
      return givenUp;
    };
    try {
      if (signal.aborted) return await giveUp();
      // A redelivery of a job that already has its result (acked too late, or cancelled while queued).
      if (await backend.results.get(job.id)) {
        await releaseAll(leases);
        await t?.delivery.ack();
        return { status: 'held_elsewhere' };
      }
      if (signal.aborted) return await giveUp();
      const previousAttemptAbandoned = job.runningAttempt === job.attempt;
      const marked: JobRecord = { ...job, runningAttempt: job.attempt, runningNode: nodeId };
      const revision = t ? await backend.jobs.update(marked, t.recordRevision) : null;
      if (t && revision === null) {
        // The record moved since the fetch (a concurrent requeue or cancel): look again later.
        await releaseAll(leases);
        t.delivery.nak(SLOT_RETRY_MS);
        return { status: 'held_elsewhere' };
      }
      if (signal.aborted) {
        if (revision) await backend.jobs.update(job, revision.revision).catch(() => null);
        return await giveUp();
      }
      node.emit('JobAcquired', withSchedule(job, { jobId: job.id, task: job.task, attempt: job.attempt }));
      return { status: 'acquired', lease: { revision: lease.revision, handle: leases }, now: now(), previousAttemptAbandoned };
    } catch (error) {
      await releaseAll(leases);
      t?.delivery.nak(SLOT_RETRY_MS);
      throw error;
    }
  }

  async function renewLease({ lease, job }: RenewLeaseInput): Promise<RenewLeaseOutput> {
    const leases = held(lease);
    const renewed = await backend.leases.renew(leases.job);
    if (isLeaseLost(renewed)) {
      leases.released = true;
      return { status: 'lost', reason: announceLeaseLost(node, renewed, { jobId: job.id }) };
    }
    leases.job = renewed;
    // A long job must not be redelivered while its lease is alive: restart the ack wait too.
    leases.delivery?.working();
    if (leases.slot) {
      // A lost slot only loosens maxRunning for a moment; it never endangers the job itself.
      const slot = await backend.leases.renew(leases.slot).catch(() => null);
      leases.slot = slot && !isLeaseLost(slot) ? slot : null;
    }
    return { status: 'renewed', lease: { revision: renewed.revision, handle: leases }, now: now() };
  }

  const runTask = fromPromise<unknown, RunTaskInput>(async ({ input: { job, attempt }, signal }) => {
    const task = node.tasks.get(job.task);
    if (!task) throw new Error(`task "${job.task}" is not registered on node ${nodeId}`);
    const ctx: Parameters<typeof task.fn>[1] = { jobId: job.id, task: job.task, attempt, signal };
    if (job.scheduleId !== undefined) ctx.scheduleId = job.scheduleId;
    if (job.scheduledFireTime !== undefined) ctx.scheduledFireTime = job.scheduledFireTime;
    return await task.fn(job.args, ctx);
  });

  async function writeResult({ job, lease, result }: WriteResultInput): Promise<WriteResultOutput> {
    const leases = held(lease);
    let full: JobResult = { ...result, finishedAt: new Date(now()) };
    // A return value that is not plain data would be mangled by the encoder (a function vanishes, a
    // Map turns into an object): refuse it the way addJob refuses such args.
    const unstorable = full.outcome === 'success' ? plainDataProblem(full.returnValue, `return value of job "${job.id}"`) : null;
    if (unstorable) full = asUnstorable(full, unstorable);
    let outcome;
    try {
      outcome = await backend.completeJob(leases.job, full, { resultTtlMs: job.resultTtlMs });
    } catch (error) {
      if (!isUnstorableValue(error) || full.outcome !== 'success') throw error;
      // The return value cannot be stored: the job still ends, as an error that says why. The
      // failed completion already renewed the lease, so continue from the revision it wrote.
      leases.job = await currentRevision(leases.job);
      outcome = await backend.completeJob(leases.job, asUnstorable(full, publicPayloadError(error, `return value of job "${job.id}"`)), {
        resultTtlMs: job.resultTtlMs,
      });
    }
    if (outcome.status === 'lease_lost') {
      leases.released = true;
      return { status: 'lease_lost', reason: announceLeaseLost(node, outcome.lost, { jobId: job.id }) };
    }
    leases.released = true;
    if (leases.slot) await backend.leases.release(leases.slot).catch(() => undefined);
    // Not awaited: the result is already durable, and an ack that fails or stalls only means a
    // redelivery, which finds the result and acks then. The slot must not wait for it.
    leases.delivery?.ack().catch((error: unknown) => node.reportError(error, `ack of job ${job.id}`));
    const written = outcome.status === 'written' ? outcome.result.record : full;
    node.emit('JobReleased', withSchedule(job, { jobId: job.id, task: job.task, outcome: written.outcome, attempt: written.attempt }));
    return { status: 'written', result: written };
  }

  /**
   * The lease at the revision the store holds now, if it is still this incarnation of ours (same
   * owner, same acquisition); otherwise unchanged, so the fenced write that follows reports it lost.
   */
  async function currentRevision(lease: Lease): Promise<Lease> {
    const holder = await backend.leases.holder(lease.key).catch(() => null);
    const ours = holder && holder.owner === lease.owner && holder.acquiredAt.getTime() === lease.acquiredAt.getTime();
    return ours ? { ...lease, revision: holder.revision } : lease;
  }

  async function requeueJob({ job, ticket, lease, attempt, delayMs }: RequeueJobInput): Promise<void> {
    const t = ticketOf(ticket);
    if (lease) {
      const leases = held(lease);
      const next: JobRecord = { ...job, attempt, notBefore: new Date(now() + delayMs) };
      delete next.runningAttempt;
      delete next.runningNode;
      // The record was marked at acquisition; rewrite it under the lease we still hold.
      const current = await backend.jobs.get(job.id);
      if (current) await backend.jobs.update(next, current.revision);
      await releaseAll(leases);
    }
    t?.delivery.nak(delayMs);
    node.wakeWorkerAfter(delayMs);
  }

  async function releaseLease({ lease }: ReleaseLeaseInput): Promise<void> {
    await releaseAll(held(lease));
  }

  return {
    actors: {
      acquireLease: fromPromise<AcquireLeaseOutput, AcquireLeaseInput>(({ input, signal }) => acquireLease(input, signal)),
      renewLease: fromPromise<RenewLeaseOutput, RenewLeaseInput>(({ input }) => renewLease(input)),
      runTask,
      writeResult: fromPromise<WriteResultOutput, WriteResultInput>(({ input }) => writeResult(input)),
      requeueJob: fromPromise<void, RequeueJobInput>(({ input }) => requeueJob(input)),
      releaseLease: fromPromise<void, ReleaseLeaseInput>(({ input }) => releaseLease(input)),
    },
    actions: {
      abortTask: (_: unknown, _params: AbortTaskParams) => {
        // The runTask actor's AbortSignal fires when the machine leaves `running`; nothing else to stop.
      },
    },
  };
}

function withSchedule<T extends object>(job: JobRecord, fields: T): T & { scheduleId?: string } {
  return job.scheduleId === undefined ? fields : { ...fields, scheduleId: job.scheduleId };
}


/** The result with its return value replaced by the error saying why it could not be stored. */
function asUnstorable(result: JobResult, error: Error): JobResult {
  const replaced: JobResult = { ...result, outcome: 'error', error: { name: error.name, message: error.message } };
  delete replaced.returnValue;
  return replaced;
}

function plainDataProblem(value: unknown, what: string): SerializationError | null {
  try {
    assertPlainData(value, what);
    return null;
  } catch (error) {
    if (error instanceof SerializationError) return error;
    throw error;
  }
}

/** The store's size error as the public PayloadTooLargeError; other errors as they are. */
function publicPayloadError(error: unknown, what: string): Error {
  if (error instanceof RecordTooLargeError) return new PayloadTooLargeError(what, error.bytes, error.maxBytes);
  return error as Error;
}

/** An encode failure of the result record (a return value msgpack cannot hold, or over max payload). */
function isUnstorableValue(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RecordTooLargeError || error instanceof DeserializationError;
}
