/**
 * The worker machine's effects: fetching jobs from the dispatch queue (never more than the free
 * slots; a long poll while the queue looks empty), settling deliveries that cannot run here before
 * a job actor exists for them, starting job actors and handing unstarted deliveries back.
 */
import type { AnyActorRef } from 'xstate';
import type { FetchedJob, FetchJobsParams, ReturnUnstartedJobsParams, StartJobsParams, WorkerEvent } from '../machines/worker-types.js';
import type { JobRecord, JobResult } from '../records.js';
import type { JobDelivery } from '../store/index.js';
import type { NodeContext } from '../runtime/node-context.js';
import type { JobHost } from './job-host.js';

/** A delivery for a task this node does not have goes back for a node that has it, later each time. */
const FOREIGN_TASK_RETRY_MS = 1_000;
const FOREIGN_TASK_RETRY_MAX_MS = 30_000;

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

export function createWorkerEffects(node: NodeContext, host: JobHost) {
  const { backend } = node;
  let inFlight: AbortController | null = null;

  /** Turns one delivery into a fetched job (registered with the host), or settles it here. */
  function prepare(delivery: JobDelivery): FetchedJob | null {
    if (delivery.corrupt || !delivery.job) {
      void settleCorrupt(delivery);
      return null;
    }
    if (host.has(delivery.jobId)) {
      // A redelivery of a job running here (the queue thinks we are gone): our run continues, and
      // whoever gets it next finds the lease renewed.
      delivery.nak(backend.leaseDurationMs);
      return null;
    }
    const task = node.tasks.get(delivery.job.task);
    if (!task) {
      delivery.nak(Math.min(FOREIGN_TASK_RETRY_MAX_MS, FOREIGN_TASK_RETRY_MS * 2 ** Math.min(10, delivery.deliveryCount - 1)));
      return null;
    }
    const job = withTaskGrace(delivery.job, task.misfireGraceTimeMs);
    const waitMs = job.attempt === 1 && job.notBefore ? job.notBefore.getTime() - backend.clock.now() : 0;
    if (waitMs > 0) {
      delivery.nak(waitMs);
      return null;
    }
    host.register(job.id, delivery);
    return { job, timeoutMs: task.timeoutMs, retry: task.retry };
  }

  /** A job whose message cannot be read ends as a `deserialization_failed` result; the queue moves on. */
  async function settleCorrupt(delivery: JobDelivery): Promise<void> {
    const message = delivery.corrupt?.message ?? 'unreadable job message';
    node.emit('JobDeserializationFailed', { jobId: delivery.jobId, error: message });
    const now = new Date(backend.clock.now());
    const result: JobResult = {
      jobId: delivery.jobId,
      outcome: 'deserialization_failed',
      error: { name: 'DeserializationError', message },
      finishedAt: now,
      attempt: 0,
      nodeId: node.nodeId,
    };
    const placeholder: JobRecord = { id: delivery.jobId, task: '?', args: null, createdAt: now, attempt: 0, resultTtlMs: node.defaultResultTtlMs };
    await backend.jobs
      .settle(delivery.jobId, placeholder, result, { resultTtlMs: node.defaultResultTtlMs })
      .catch((e: unknown) => node.reportError(e, 'result of a corrupt job'));
    delivery.ack();
  }

  async function fetchJobs(self: AnyActorRef, { max, waitMs }: FetchJobsParams): Promise<void> {
    const controller = new AbortController();
    inFlight = controller;
    const send = (event: WorkerEvent): void => {
      if (inFlight === controller) inFlight = null;
      if (!controller.signal.aborted && self.getSnapshot().status === 'active') self.send(event);
    };
    try {
      const deliveries = await backend.jobs.fetch(max, { expiresMs: waitMs, signal: controller.signal });
      const jobs: FetchedJob[] = [];
      for (const delivery of deliveries) {
        const job = prepare(delivery);
        if (job) jobs.push(job);
      }
      if (controller.signal.aborted) {
        for (const item of jobs) host.giveBack(item.job.id);
        return;
      }
      send({ type: 'JOBS_FETCHED', jobs });
    } catch (error) {
      node.reportError(error, 'fetching jobs');
      send({ type: 'FETCH_FAILED', error: error instanceof Error ? error.message : String(error) });
    }
  }

  return {
    actions: {
      fetchJobs: ({ self }: { self: AnyActorRef }, params: FetchJobsParams) => void fetchJobs(self, params),
      cancelFetch: () => {
        inFlight?.abort();
        inFlight = null;
      },
      // Created just after this action, not inside it: a job actor's first transition (its own
      // assigns) must not run within the worker's action (XState warns: "Custom actions should not
      // call assign()").
      startJobs: ({ self }: { self: AnyActorRef }, params: StartJobsParams) => queueMicrotask(() => host.start(self, params.jobs)),
      returnUnstartedJobs: (_: unknown, params: { groups: ReturnUnstartedJobsParams[] }) => {
        for (const group of params.groups) for (const item of group.jobs) host.giveBack(item.job.id);
      },
      shutdownJobs: (_: unknown, params: { jobIds: string[] }) => {
        for (const jobId of params.jobIds) host.send(jobId, { type: 'SHUTDOWN' });
      },
    },
  };
}
