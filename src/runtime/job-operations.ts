/**
 * The job half of the public API: add / run / get / list / cancel. Adding publishes each job's
 * record to the dispatch queue; the rest read or write the job's key through the store's JobStore.
 */
import { randomUUID } from 'node:crypto';
import { parseDuration, type DurationLike } from '../duration.js';
import { ConflictingIdError, InvalidOptionError, JobFailedError, JobLookupError, RuntimeStoppedError } from '../errors.js';
import type { JobRecord, JobResult } from '../records.js';
import { CorruptRecordError, StoreClosedError, type ListJobsQuery } from '../store/index.js';
import { toJobInfo, type JobInfo } from './job-info.js';
import type { NodeContext } from './node-context.js';
import { withinPayloadLimit } from './payload-limit.js';
import { assertPlainData } from './plain-data.js';
import type { ResultWaiters } from './result-waiters.js';
import type { ResolvedRuntimeOptions } from './runtime-options.js';
import { assertPriority, assertTaskName } from './task-registry.js';

export interface AddJobOptions {
  /** Job id; must be unused. @defaultValue a random UUID */
  id?: string;
  task: string;
  args?: unknown;
  /** How long the result is kept. @defaultValue the runtime's defaultResultTtl ('1d') */
  resultTtl?: DurationLike;
  /** > 0 high, 0 normal, < 0 low. @defaultValue the task's priority when registered on this node, else 0 */
  priority?: number;
}

export interface GetJobResultOptions {
  /** Wait for the result if the job has none yet. @defaultValue false */
  wait?: boolean;
  /** Give up waiting after this long and return null. @defaultValue forever */
  timeout?: DurationLike;
}

/** The runtime's job methods (Runtime delegates to them; see their documentation there). */
export class JobOperations {
  constructor(
    private readonly node: NodeContext,
    private readonly waiters: ResultWaiters,
    private readonly opts: ResolvedRuntimeOptions,
    /** Throws RuntimeStoppedError once the runtime stops or is stopping. */
    private readonly assertUsable: () => void,
  ) {}

  async add(jobs: readonly AddJobOptions[]): Promise<string[]> {
    this.assertUsable();
    const { backend } = this.node;
    const records = jobs.map((opts) => this.jobRecord(opts));
    const explicit = records.filter((_, i) => jobs[i]?.id !== undefined);
    if (explicit.length > 0) {
      const found = await Promise.all(explicit.map((record) => backend.jobs.lookup(record.id)));
      const taken = explicit.find((_, i) => found[i] !== null);
      if (taken) throw new ConflictingIdError('job', taken.id);
    }
    const outcomes = await withinPayloadLimit(records.length === 1 ? `job "${records[0]?.id}" (its args)` : 'a job (its args)', () =>
      backend.jobs.add(records),
    );
    const duplicate = records.find((_, i) => outcomes[i] === 'duplicate');
    records.forEach((record, i) => {
      if (outcomes[i] === 'queued') this.node.emit('JobAdded', { jobId: record.id, task: record.task });
    });
    if (duplicate) throw new ConflictingIdError('job', duplicate.id);
    return records.map((record) => record.id);
  }

  async result(id: string, opts: GetJobResultOptions): Promise<JobResult | null> {
    this.assertUsable();
    const { backend } = this.node;
    const timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout, 'timeout');
    // Listen before reading, so a result committed in between is not missed.
    const wait = opts.wait ? this.waiters.register(id, timeoutMs) : null;
    try {
      // A caller who asked to wait waits through a store outage (a server restart, a reconnect):
      // a failed lookup only means "not known yet", the waiters keep looking.
      const found = await backend.jobs.lookup(id).catch((error: unknown) => {
        // An unreadable state is ended `deserialization_failed` by the worker that takes the job.
        if (wait && (isTransientStoreError(error) || error instanceof CorruptRecordError)) return undefined;
        throw error;
      });
      if (found === null) throw new JobLookupError(id);
      if (found?.state.phase === 'done') {
        const { expiresAt, result } = found.state;
        if (expiresAt !== null && expiresAt.getTime() <= backend.clock.now()) throw new JobLookupError(id);
        wait?.cancel();
        return result;
      }
      return wait ? await wait.result : null;
    } catch (error) {
      wait?.cancel();
      throw error;
    }
  }

  async get(id: string): Promise<JobInfo> {
    this.assertUsable();
    const { backend } = this.node;
    const found = await backend.jobs.lookup(id);
    if (found === null) throw new JobLookupError(id);
    const { state } = found;
    if (state.phase === 'done' && state.expiresAt !== null && state.expiresAt.getTime() <= backend.clock.now()) throw new JobLookupError(id);
    return toJobInfo({ jobId: id, state, job: found.job });
  }

  async list(query: ListJobsQuery): Promise<{ jobs: JobInfo[]; nextCursor: string | null }> {
    this.assertUsable();
    const { jobs, nextCursor } = await this.node.backend.jobs.list(query);
    return { jobs: jobs.map(toJobInfo), nextCursor };
  }

  async run(task: string, args: unknown): Promise<unknown> {
    this.assertUsable();
    const record = this.jobRecord({ task, args });
    // Registered before the publish: the completion cannot overtake the wait.
    const wait = this.waiters.register(record.id);
    try {
      const [outcome] = await withinPayloadLimit(`job "${record.id}" (its args)`, () => this.node.backend.jobs.add([record]));
      if (outcome === 'duplicate') throw new ConflictingIdError('job', record.id);
      this.node.emit('JobAdded', { jobId: record.id, task });
    } catch (error) {
      wait.cancel();
      throw error;
    }
    const result = await wait.result;
    if (!result) throw new RuntimeStoppedError();
    if (result.outcome === 'success') return result.returnValue;
    throw new JobFailedError(record.id, result.outcome, result.error?.message ?? result.outcome, result.error?.name, result.error?.stack);
  }

  async cancel(id: string): Promise<boolean> {
    this.assertUsable();
    const { backend } = this.node;
    const now = (): Date => new Date(backend.clock.now());
    const cancelled = (job: JobRecord): JobResult => ({ jobId: id, outcome: 'cancelled', finishedAt: now(), attempt: job.attempt });
    const outcome = await backend.jobs.cancelQueued(id, cancelled, (job) => job.resultTtlMs);
    if (outcome === 'unknown') throw new JobLookupError(id);
    if (outcome === 'finished') return false;
    if (outcome === 'cancelled') {
      const found = await backend.jobs.get(id).catch(() => null);
      const job = found?.state.phase === 'done' ? found.state.job : null;
      this.node.emit('JobReleased', { jobId: id, task: job?.task ?? '?', outcome: 'cancelled', attempt: job?.attempt ?? 1 });
      this.node.metrics.jobFinished(job?.task ?? '?', 'cancelled', null);
      return true;
    }
    // Running: ask its holder, which aborts the task and commits `cancelled` under its lease.
    const before = await backend.jobs.lookup(id);
    const wait = this.waiters.register(id, this.opts.leaseDurationMs * 2);
    this.node.emit('JobCancelRequested', { jobId: id });
    backend.jobs.requestCancel(id);
    const result = await wait.result;
    if (result) return result.outcome === 'cancelled';
    // No answer: if the holder has not written since (it is gone), end the job here, fenced on
    // the revision seen before asking.
    if (before?.state.phase !== 'running') return false;
    const { task, attempt } = before.state;
    const job: JobRecord = before.job ?? { id, task, args: null, createdAt: now(), attempt, resultTtlMs: this.opts.defaultResultTtlMs };
    const written = await backend.jobs.cancelAbandoned(id, before.revision, job, cancelled(job), job.resultTtlMs, before.state.attempts);
    if (written) {
      this.node.emit('JobReleased', { jobId: id, task: job.task, outcome: 'cancelled', attempt: job.attempt });
      this.node.metrics.jobFinished(job.task, 'cancelled', null);
    }
    return written;
  }

  /** The record of a job to add, validated (the task need not be registered on any node yet). */
  private jobRecord(opts: AddJobOptions): JobRecord {
    const id = opts.id ?? randomUUID();
    if (typeof id !== 'string' || id.length === 0) throw new InvalidOptionError('id', 'must be a non-empty string');
    assertTaskName(opts.task);
    assertPlainData(opts.args, 'args');
    const record: JobRecord = {
      id,
      task: opts.task,
      args: opts.args ?? null,
      createdAt: new Date(this.node.backend.clock.now()),
      attempt: 1,
      resultTtlMs: opts.resultTtl === undefined ? this.opts.defaultResultTtlMs : parseDuration(opts.resultTtl, 'resultTtl'),
    };
    const priority = opts.priority === undefined ? this.node.tasks.get(opts.task)?.priority ?? 0 : assertPriority(opts.priority, 'priority');
    if (priority !== 0) record.priority = priority;
    return record;
  }
}

/** An error that may pass (timeout, no responders, disconnected), as opposed to a corrupt record or a closed store. */
function isTransientStoreError(error: unknown): boolean {
  return !(error instanceof CorruptRecordError || error instanceof StoreClosedError);
}
