/**
 * The worker machine's effects: fetching jobs from the dispatch queue (never more than the free
 * slots) and handing unstarted ones back. Each delivery's job record is read here, so a corrupt or
 * vanished record is dealt with before a job actor exists for it.
 */
import { fromPromise } from 'xstate';
import type { FetchedJob, FetchJobsInput, ReturnUnstartedJobsParams } from '../machines/worker-types.js';
import type { JobRecord, JobResult } from '../records.js';
import { CorruptRecordError, type JobDelivery } from '../store/index.js';
import type { NodeContext } from '../runtime/node-context.js';
import type { JobTicket } from './job-effects.js';

/** A delivery for a task this node does not have goes back after this, for a node that has it. */
const FOREIGN_TASK_RETRY_MS = 1_000;

/**
 * A scheduled job without a start deadline gets the one of its task's `misfireGraceTime`. The
 * scheduler that fired it sets the deadline only when it knows the task; in a cluster with
 * scheduler-only nodes it often does not, while the worker running the job always does. The grace
 * counts from the jittered start (`notBefore`), as the scheduler's would.
 */
function withTaskGrace(job: JobRecord, graceMs: number | null): JobRecord {
  if (graceMs === null || job.startDeadline !== undefined || job.scheduledFireTime === undefined) return job;
  const from = job.attempt === 1 && job.notBefore ? job.notBefore : job.scheduledFireTime;
  return { ...job, startDeadline: new Date(from.getTime() + graceMs) };
}

export function createWorkerEffects(node: NodeContext) {
  const { backend } = node;

  /** Turns one delivery into a fetched job, or settles it here and returns null. */
  async function prepare(delivery: JobDelivery): Promise<FetchedJob | null> {
    let stored;
    try {
      stored = await backend.jobs.get(delivery.jobId);
    } catch (error) {
      if (error instanceof CorruptRecordError) {
        await settleCorrupt(delivery, error);
        return null;
      }
      delivery.nak(FOREIGN_TASK_RETRY_MS);
      throw error;
    }
    if (!stored) {
      // The record is gone (removed after a result, or never written): nothing to run.
      await delivery.ack().catch(() => undefined);
      return null;
    }
    const task = node.tasks.get(stored.record.task);
    if (!task) {
      delivery.nak(FOREIGN_TASK_RETRY_MS);
      return null;
    }
    const job = withTaskGrace(stored.record, task.misfireGraceTimeMs);
    const waitMs = job.notBefore ? job.notBefore.getTime() - backend.clock.now() : 0;
    if (waitMs > 0) {
      delivery.nak(waitMs);
      node.wakeWorkerAfter(waitMs);
      return null;
    }
    const ticket: JobTicket = { delivery, recordRevision: stored.revision };
    const fetched: FetchedJob = { job, ticket, timeoutMs: task.timeoutMs, retry: task.retry };
    return fetched;
  }

  /** A corrupt job record ends as a `deserialization_failed` result; the queue moves on. */
  async function settleCorrupt(delivery: JobDelivery, error: CorruptRecordError): Promise<void> {
    node.emit('JobDeserializationFailed', { jobId: error.id, error: error.message });
    const result: JobResult = {
      jobId: error.id,
      outcome: 'deserialization_failed',
      error: { name: error.name, message: error.message },
      finishedAt: new Date(backend.clock.now()),
      attempt: 0,
      nodeId: node.nodeId,
    };
    await backend.results.create(result, { ttlMs: null }).catch((e: unknown) => node.reportError(e, 'result of a corrupt job'));
    await delivery.ack().catch(() => undefined);
  }

  const fetchJobs = fromPromise<FetchedJob[], FetchJobsInput>(async ({ input, signal }) => {
    const out: FetchedJob[] = [];
    // Deliveries settled here (corrupt, foreign, not yet due) free their place: fetch again so the
    // worker is not told "queue drained" while it still has room and the queue still has jobs.
    for (let round = 0; round < 5 && out.length < input.max && !signal.aborted; round++) {
      const want = input.max - out.length;
      const deliveries = await backend.dispatch.fetch(want, { signal });
      const prepared = await Promise.all(deliveries.map(prepare));
      for (const job of prepared) if (job) out.push(job);
      if (deliveries.length < want || prepared.every((p) => p !== null)) break;
    }
    if (signal.aborted) {
      for (const item of out) (item.ticket as JobTicket).delivery.nak(0);
      return [];
    }
    return out;
  });

  return {
    actors: { fetchJobs },
    actions: {
      returnUnstartedJobs: (_: unknown, params: ReturnUnstartedJobsParams) => {
        for (const item of params.jobs) (item.ticket as JobTicket | undefined)?.delivery.nak(0);
      },
    },
  };
}
