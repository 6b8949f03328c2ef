/**
 * `createRuntime`: one jobchart node. It opens the store at once (so schedules and jobs can be
 * added before `start()`, and admin tools never start at all), registers tasks, and on `start()`
 * runs the worker machine (role worker/both) and the scheduler (role scheduler/both) as XState
 * actors with the effects of src/actors.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { startNodeActor, type RunningNode } from '../actors/node-actor.js';
import { createNodeInspector, type NodeInspector } from '../actors/inspector.js';
import { parseDuration, type DurationLike } from '../duration.js';
import {
  ConflictingIdError,
  InvalidOptionError,
  JobFailedError,
  JobLookupError,
  RuntimeStoppedError,
  UnknownTaskError,
} from '../errors.js';
import type { JobRecord, JobResult, ScheduleRecord } from '../records.js';
import { noMetrics } from './metrics.js';
import { CorruptRecordError, StoreClosedError, type ListJobsQuery, type RuntimeEvent, type RuntimeEventMap, type RuntimeEventType, type StoreBackend } from '../store/index.js';
import { EventHub } from './event-hub.js';
import { toJobInfo, type JobInfo } from './job-info.js';
import { errorFields } from './log-fields.js';
import { RuntimeMetrics } from './metrics.js';
import type { AdHocTaskName, AnyTypedJobOptions, ArgsParameter, TaskArgs, TaskName, TaskResult, TypedJobOptions, TypedScheduleOptions, UntypedTasks } from './task-types.js';
import { buildEvent, type EventFields, type NodeContext } from './node-context.js';
import { withinPayloadLimit } from './payload-limit.js';
import { assertPlainData } from './plain-data.js';
import { ResultWaiters } from './result-waiters.js';
import { assertCapacity, resolveRuntimeOptions, type ResolvedRuntimeOptions, type RuntimeOptions } from './runtime-options.js';
import { ScheduleOperations, type AddScheduleOptions, type ResumeOptions } from './schedule-operations.js';
import { assertPriority, normaliseTask, type RegisteredTask, type TaskFunction, type TaskOptions } from './task-registry.js';

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

export interface StopOptions {
  /** Let running jobs finish (true) or hand them back to the queue for other nodes (false). @defaultValue true */
  drain?: boolean;
}

type Lifecycle = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * Creates a node and opens its store (and serves its metrics, with `metrics`). Call `start()` to run
 * jobs and schedules. `Tasks` declares the tasks' signatures for typed `task`/`addJob`/`runJob`
 * (see task-types.ts): `createRuntime<{ send: (args: { to: string }) => string }>()`.
 */
export async function createRuntime<Tasks extends object = UntypedTasks>(options: RuntimeOptions = {}): Promise<Runtime<Tasks>> {
  const resolved = resolveRuntimeOptions(options);
  const { logger } = resolved;
  const backend = await resolved.store.open({
    leaseDurationMs: resolved.leaseDurationMs,
    reportError: (error, where) => logger.error(errorFields(error, where), `${where}: ${describeError(error)}`),
  });
  const rt = new Runtime<Tasks>(resolved, backend);
  try {
    await rt.metrics?.serve();
  } catch (error) {
    await rt.stop();
    throw error;
  }
  if (rt.metrics?.url) logger.info({ url: rt.metrics.url }, `serving metrics on ${rt.metrics.url}`);
  return rt;
}

export class Runtime<Tasks extends object = UntypedTasks> {
  readonly nodeId: string;
  readonly role: ResolvedRuntimeOptions['role'];
  private lifecycle: Lifecycle = 'created';
  private readonly tasks = new Map<string, RegisteredTask>();
  private readonly hub: EventHub<RuntimeEvent>;
  private readonly waiters: ResultWaiters;
  private readonly schedulesApi: ScheduleOperations;
  private readonly node: NodeContext;
  private readonly unsubscribers: (() => void)[] = [];
  private running: RunningNode | null = null;
  private stopEvents: (() => void) | null = null;
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private inspector: NodeInspector | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  /** Prometheus metrics of this node (`createRuntime({ metrics })`); null when off. */
  readonly metrics: RuntimeMetrics | null;

  constructor(
    private readonly opts: ResolvedRuntimeOptions,
    readonly backend: StoreBackend,
  ) {
    this.nodeId = opts.nodeId;
    this.role = opts.role;
    const { logger } = opts;
    this.hub = new EventHub<RuntimeEvent>((error) => logger.error(errorFields(error, 'event listener'), `an event listener threw: ${describeError(error)}`), {
      // The node listens to the cluster's events only while someone here listens: events cost
      // nothing to nodes nobody asks.
      firstListener: () => (this.stopEvents = backend.events.subscribe((event) => this.hub.emit(event))),
      lastListenerGone: () => {
        this.stopEvents?.();
        this.stopEvents = null;
      },
    });
    this.waiters = new ResultWaiters(backend);
    this.metrics = opts.metrics
      ? new RuntimeMetrics(
          opts.metrics,
          {
            queueDepth: () => backend.jobs.queueDepth(),
            jobLeasesHeld: () => this.running?.jobs.keeper.size ?? 0,
            slotsInUse: () => this.status.running,
            slots: () => this.opts.maxConcurrentJobs,
          },
          (error) => logger.debug(errorFields(error, 'metrics scrape'), `queue depth not read for a scrape: ${describeError(error)}`),
        )
      : null;
    this.node = {
      nodeId: opts.nodeId,
      backend,
      tasks: this.tasks,
      defaultResultTtlMs: opts.defaultResultTtlMs,
      emit: (type, fields) => this.emit(type, fields),
      reportError: (error, where) => logger.error(errorFields(error, where), `${where}: ${describeError(error)}`),
      logger,
      metrics: this.metrics?.recorder ?? noMetrics,
    };
    this.schedulesApi = new ScheduleOperations(this.node, async (task) => assertTaskName(task));
  }

  // ---- tasks ------------------------------------------------------------------------------

  /**
   * Registers a task this node can run; `rt.task<Args, Result>(name, fn)` types one ad hoc. Options:
   * maxRunning, timeout, retry, misfireGraceTime.
   */
  task<Args = any, Result = unknown, N extends string = string>(name: AdHocTaskName<Tasks, N>, fn: TaskFunction<Args, Result>, opts?: TaskOptions): this;
  /** Registers task `name` of the runtime's task map: args and result typed by it. */
  task<K extends TaskName<Tasks>>(name: K, fn: TaskFunction<TaskArgs<Tasks, K>, TaskResult<Tasks, K>>, opts?: TaskOptions): this;
  task(name: string, fn: TaskFunction, opts: TaskOptions = {}): this {
    this.assertUsable();
    const task = normaliseTask(name, fn, opts);
    if (this.tasks.has(name)) throw new InvalidOptionError('task name', `"${name}" is already registered on this node`);
    this.tasks.set(name, task);
    this.emit('TaskAdded', { task: name });
    return this;
  }

  /** Names of the tasks registered on this node. */
  get taskNames(): string[] {
    return [...this.tasks.keys()];
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  /** Starts the worker and/or scheduler of this node. */
  start(): Promise<void> {
    this.assertUsable();
    this.starting ??= this.startNode();
    return this.starting;
  }

  private async startNode(): Promise<void> {
    this.lifecycle = 'starting';
    this.inspector = createNodeInspector(this.opts.inspect);
    // Heard of before it takes any schedule partition: schedulers starting together then count each
    // other at their first round instead of one taking every partition and handing half over later.
    await this.beat();
    this.running = await startNodeActor(this.node, {
      role: this.opts.role,
      maxConcurrentJobs: this.opts.maxConcurrentJobs,
      pollIntervalMs: this.opts.pollIntervalMs,
      leaseDurationMs: this.opts.leaseDurationMs,
      ...(this.inspector ? { inspect: this.inspector.inspect } : {}),
    });
    // The heartbeat timer is what keeps the process alive while the node runs (on the memory store
    // nothing else would: its timers are unref'd); stop() clears it.
    this.heartbeat = setInterval(() => void this.beat(), Math.max(100, Math.floor(this.opts.leaseDurationMs / 3)));
    this.lifecycle = 'running';
    this.emit('NodeStarted', { role: this.opts.role });
    this.opts.logger.info({ role: this.opts.role, tasks: this.taskNames, store: this.backend.kind }, `node ${this.nodeId} started (${this.opts.role})`);
    await this.beat();
  }

  /**
   * Stops the node: drains (default) or hands running jobs back, releases schedules, closes the
   * store. Called during `start()`, it waits for the start to finish and then stops; every caller
   * gets the same promise. No timer of the runtime fires after it resolves.
   */
  stop(opts: StopOptions = {}): Promise<void> {
    this.stopping ??= this.stopNode(opts);
    return this.stopping;
  }

  private async stopNode(opts: StopOptions): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    const wasStarted = this.lifecycle !== 'created';
    this.lifecycle = 'stopping';
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.running) {
      // DRAIN: running jobs finish; STOP: they are handed back. Either way schedules are released.
      this.running.actor.send({ type: opts.drain === false ? 'STOP' : 'DRAIN' });
      await this.running.stopped;
      // Gone from the node registry first: the other schedulers then count this node out when they
      // see its partitions released, and take them at once.
      await this.backend.nodes.remove(this.nodeId).catch(() => undefined);
      await this.running.detach();
      this.running.actor.stop();
    }
    if (wasStarted) {
      this.emit('NodeStopped', { reason: opts.drain === false ? 'stop' : 'drain' });
      // Sent now, ahead of the write below: its answer then comes after this node's own listeners got
      // the event (the server handles a connection's messages in order), before they are closed.
      this.backend.events.flush();
      await this.backend.nodes.remove(this.nodeId).catch(() => undefined);
      this.opts.logger.info({ reason: opts.drain === false ? 'stop' : 'drain' }, `node ${this.nodeId} stopped`);
    }
    await this.metrics?.close();
    for (const unsubscribe of this.unsubscribers) unsubscribe();
    await this.waiters.close();
    this.hub.close();
    this.inspector?.stop();
    await this.backend.close();
    this.lifecycle = 'stopped';
  }

  /** Changes this node's job capacity live; shrinking never stops running jobs. */
  setMaxConcurrentJobs(n: number): void {
    assertCapacity(n, 'maxConcurrentJobs');
    this.opts.maxConcurrentJobs = n;
    this.running?.actor.send({ type: 'CAPACITY_CHANGED', capacity: n });
  }

  // ---- jobs -------------------------------------------------------------------------------

  /**
   * Queues a job; resolves to its id. One pipelined publish (the record travels in the message);
   * an explicit `id` costs one read more, to refuse an id that is taken (ConflictingIdError). The
   * task need not be registered anywhere yet: the job waits until a worker for it runs.
   */
  async addJob<K extends TaskName<Tasks>>(opts: TypedJobOptions<Tasks, K>): Promise<string> {
    const [id] = await this.addJobs([opts as unknown as AnyTypedJobOptions<Tasks>]);
    return id as string;
  }

  /**
   * Queues several jobs at once (pipelined: one round trip of latency for the lot); resolves to
   * their ids in order. Explicit ids are checked first, and nothing is queued if one is taken.
   */
  async addJobs(list: readonly AnyTypedJobOptions<Tasks>[]): Promise<string[]> {
    this.assertUsable();
    const jobs = list as readonly AddJobOptions[];
    const records = jobs.map((opts) => this.jobRecord(opts));
    const explicit = records.filter((_, i) => jobs[i]?.id !== undefined);
    if (explicit.length > 0) {
      const found = await Promise.all(explicit.map((record) => this.backend.jobs.lookup(record.id)));
      const taken = explicit.find((_, i) => found[i] !== null);
      if (taken) throw new ConflictingIdError('job', taken.id);
    }
    const outcomes = await withinPayloadLimit(records.length === 1 ? `job "${records[0]?.id}" (its args)` : 'a job (its args)', () =>
      this.backend.jobs.add(records),
    );
    const duplicate = records.find((_, i) => outcomes[i] === 'duplicate');
    records.forEach((record, i) => {
      if (outcomes[i] === 'queued') this.emit('JobAdded', { jobId: record.id, task: record.task });
    });
    if (duplicate) throw new ConflictingIdError('job', duplicate.id);
    return records.map((record) => record.id);
  }

  /**
   * The job's result; null while it has none (or, with `wait`, after `timeout`). Throws
   * JobLookupError for an id that never existed or whose result expired.
   */
  async getJobResult(id: string, opts: GetJobResultOptions = {}): Promise<JobResult | null> {
    this.assertUsable();
    const timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout, 'timeout');
    // Listen before reading, so a result committed in between is not missed.
    const wait = opts.wait ? this.waiters.register(id, timeoutMs) : null;
    try {
      // A caller who asked to wait waits through a store outage (a server restart, a reconnect):
      // a failed lookup only means "not known yet", the waiters keep looking.
      const found = await this.backend.jobs.lookup(id).catch((error: unknown) => {
        // An unreadable state is ended `deserialization_failed` by the worker that takes the job.
        if (wait && (isTransientStoreError(error) || error instanceof CorruptRecordError)) return undefined;
        throw error;
      });
      if (found === null) throw new JobLookupError(id);
      if (found?.state.phase === 'done') {
        const { expiresAt, result } = found.state;
        if (expiresAt !== null && expiresAt.getTime() <= this.backend.clock.now()) throw new JobLookupError(id);
        wait?.cancel();
        return result;
      }
      return wait ? await wait.result : null;
    } catch (error) {
      wait?.cancel();
      throw error;
    }
  }

  /**
   * One job: its record, state, every attempt (node, times, outcome, error, log lines) and latest
   * progress. Throws JobLookupError for an id that never existed or whose result expired.
   */
  async getJob(id: string): Promise<JobInfo> {
    this.assertUsable();
    const found = await this.backend.jobs.lookup(id);
    if (found === null) throw new JobLookupError(id);
    const { state } = found;
    if (state.phase === 'done' && state.expiresAt !== null && state.expiresAt.getTime() <= this.backend.clock.now()) throw new JobLookupError(id);
    return toJobInfo({ jobId: id, state, job: found.job });
  }

  /**
   * Jobs newest first, filtered by state (`queued`, `running`, `done` or an outcome), task or
   * schedule; pass `nextCursor` back as `cursor` for the next page. A tool's view: it reads every job
   * key and the queued messages (up to 10,000).
   */
  async listJobs(query: ListJobsQuery = {}): Promise<{ jobs: JobInfo[]; nextCursor: string | null }> {
    this.assertUsable();
    const { jobs, nextCursor } = await this.backend.jobs.list(query);
    return { jobs: jobs.map(toJobInfo), nextCursor };
  }

  /** Adds a job, waits for it, and returns its value or throws JobFailedError. */
  async runJob<K extends TaskName<Tasks>>(task: K, ...[args]: ArgsParameter<TaskArgs<Tasks, K>>): Promise<TaskResult<Tasks, K>> {
    this.assertUsable();
    const record = this.jobRecord({ task, args });
    // Registered before the publish: the completion cannot overtake the wait.
    const wait = this.waiters.register(record.id);
    try {
      const [outcome] = await withinPayloadLimit(`job "${record.id}" (its args)`, () => this.backend.jobs.add([record]));
      if (outcome === 'duplicate') throw new ConflictingIdError('job', record.id);
      this.emit('JobAdded', { jobId: record.id, task });
    } catch (error) {
      wait.cancel();
      throw error;
    }
    const result = await wait.result;
    if (!result) throw new RuntimeStoppedError();
    if (result.outcome === 'success') return result.returnValue as TaskResult<Tasks, K>;
    throw new JobFailedError(record.id, result.outcome, result.error?.message ?? result.outcome, result.error?.name, result.error?.stack);
  }

  /**
   * Cancels a job: a queued one ends `cancelled` at once; a running one has its signal aborted and
   * ends `cancelled` on its node. Resolves to false when the job had already ended.
   */
  async cancelJob(id: string): Promise<boolean> {
    this.assertUsable();
    const now = (): Date => new Date(this.backend.clock.now());
    const cancelled = (job: JobRecord): JobResult => ({ jobId: id, outcome: 'cancelled', finishedAt: now(), attempt: job.attempt });
    const outcome = await this.backend.jobs.cancelQueued(id, cancelled, (job) => job.resultTtlMs);
    if (outcome === 'unknown') throw new JobLookupError(id);
    if (outcome === 'finished') return false;
    if (outcome === 'cancelled') {
      const found = await this.backend.jobs.get(id).catch(() => null);
      const job = found?.state.phase === 'done' ? found.state.job : null;
      this.emit('JobReleased', { jobId: id, task: job?.task ?? '?', outcome: 'cancelled', attempt: job?.attempt ?? 1 });
      this.node.metrics.jobFinished(job?.task ?? '?', 'cancelled', null);
      return true;
    }
    // Running: ask its holder, which aborts the task and commits `cancelled` under its lease.
    const before = await this.backend.jobs.lookup(id);
    const wait = this.waiters.register(id, this.opts.leaseDurationMs * 2);
    this.emit('JobCancelRequested', { jobId: id });
    this.backend.jobs.requestCancel(id);
    const result = await wait.result;
    if (result) return result.outcome === 'cancelled';
    // No answer: if the holder has not written since (it is gone), end the job here, fenced on
    // the revision seen before asking.
    if (before?.state.phase !== 'running') return false;
    const { task, attempt } = before.state;
    const job: JobRecord = before.job ?? { id, task, args: null, createdAt: now(), attempt, resultTtlMs: this.opts.defaultResultTtlMs };
    const written = await this.backend.jobs.cancelAbandoned(id, before.revision, job, cancelled(job), job.resultTtlMs, before.state.attempts);
    if (written) {
      this.emit('JobReleased', { jobId: id, task: job.task, outcome: 'cancelled', attempt: job.attempt });
      this.node.metrics.jobFinished(job.task, 'cancelled', null);
    }
    return written;
  }

  // ---- schedules ----------------------------------------------------------------------------

  /** Adds (or, with onConflict, keeps/replaces) a schedule; resolves to its id. */
  addSchedule<K extends TaskName<Tasks>>(opts: TypedScheduleOptions<Tasks, K>): Promise<string> {
    this.assertUsable();
    return this.schedulesApi.add(opts as AddScheduleOptions);
  }
  getSchedule(id: string): Promise<ScheduleRecord> {
    return this.schedulesApi.get(id);
  }
  listSchedules(): Promise<ScheduleRecord[]> {
    return this.schedulesApi.list();
  }
  removeSchedule(id: string): Promise<boolean> {
    return this.schedulesApi.remove(id);
  }
  pauseSchedule(id: string): Promise<ScheduleRecord> {
    return this.schedulesApi.pause(id);
  }
  resumeSchedule(id: string, opts: ResumeOptions = {}): Promise<ScheduleRecord> {
    return this.schedulesApi.resume(id, opts);
  }

  // ---- events -------------------------------------------------------------------------------

  /** Listens to one event type (or '*') from the whole cluster; returns an unsubscribe function. */
  on<T extends RuntimeEventType>(type: T | '*', listener: (event: RuntimeEventMap[T]) => void): () => void {
    return this.hub.on(type, listener as (event: RuntimeEvent) => void);
  }

  /** Every cluster event from now on, until `stop()` or the loop breaks. */
  events(signal?: AbortSignal): AsyncIterableIterator<RuntimeEvent> {
    return this.hub.iterate(signal);
  }

  /** This node's live view (for status tools and tests). */
  get status(): { lifecycle: Lifecycle; running: number; capacity: number; worker: string | null; schedules: number; partitions: number[] } {
    const snapshot = this.running?.worker()?.getSnapshot() as { context: { running: string[] }; value: unknown } | undefined;
    const value = snapshot?.value;
    return {
      lifecycle: this.lifecycle,
      running: snapshot?.context.running.length ?? 0,
      capacity: this.opts.maxConcurrentJobs,
      // A state name as it is ('waiting'); a nested state value as JSON.
      worker: value === undefined ? null : typeof value === 'string' ? value : JSON.stringify(value),
      schedules: this.running?.schedules?.size ?? 0,
      partitions: this.running?.partitions?.held() ?? [],
    };
  }

  // ---- internals ----------------------------------------------------------------------------

  private async beat(): Promise<void> {
    const status = this.status;
    await this.backend.nodes
      .heartbeat({
        nodeId: this.nodeId,
        role: this.opts.role,
        startedAt: this.startedAt,
        hostname: hostnameSafe(),
        pid: process.pid,
        maxConcurrentJobs: status.capacity,
        runningJobs: status.running,
        tasks: [...this.tasks.keys()],
      })
      .catch(() => undefined);
  }
  private readonly startedAt = new Date();

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
      createdAt: new Date(this.backend.clock.now()),
      attempt: 1,
      resultTtlMs: opts.resultTtl === undefined ? this.opts.defaultResultTtlMs : parseDuration(opts.resultTtl, 'resultTtl'),
    };
    const priority = opts.priority === undefined ? this.tasks.get(opts.task)?.priority ?? 0 : assertPriority(opts.priority, 'priority');
    if (priority !== 0) record.priority = priority;
    return record;
  }

  private emit<T extends RuntimeEventType>(type: T, fields: EventFields<T>): void {
    // Every job this node adds (addJob, runJob, a schedule's fire) passes here: counted whether or not anyone listens.
    if (type === 'JobAdded') this.node.metrics.jobAdded((fields as EventFields<'JobAdded'>).task);
    if (!this.backend.events.wanted()) return;
    const event = buildEvent(type, this.nodeId, new Date(this.backend.clock.now()), fields);
    try {
      this.backend.events.publish(event);
    } catch (error) {
      if (this.lifecycle !== 'stopped') this.node.reportError(error, `publishing ${type}`);
    }
  }

  private assertUsable(): void {
    if (this.lifecycle === 'stopped' || this.lifecycle === 'stopping') throw new RuntimeStoppedError();
  }
}

/** Task names are checked for shape only: a producer may add jobs before any worker for them runs. */
function assertTaskName(task: unknown): asserts task is string {
  if (typeof task !== 'string' || task.length === 0) throw new InvalidOptionError('task', 'must be a task name (a non-empty string)');
}

/** An error that may pass (timeout, no responders, disconnected), as opposed to a corrupt record or a closed store. */
function isTransientStoreError(error: unknown): boolean {
  return !(error instanceof CorruptRecordError || error instanceof StoreClosedError);
}

/** `Name: message` of an error, for a log line's message (the fields carry the stack). */
function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function hostnameSafe(): string {
  try {
    return hostname();
  } catch {
    return 'unknown';
  }
}
