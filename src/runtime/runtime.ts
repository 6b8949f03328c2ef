/**
 * `createRuntime`: one jobchart node. It opens the store at once (so schedules and jobs can be
 * added before `start()`, and admin tools never start at all), registers tasks, and on `start()`
 * runs the worker machine (role worker/both) and the scheduler (role scheduler/both) as XState
 * actors with the effects of src/actors. The job and schedule methods are job-operations.ts and
 * schedule-operations.ts; this class holds the node's lifecycle, tasks and events.
 */
import { hostname } from 'node:os';
import { startNodeActor, type RunningNode } from '../actors/node-actor.js';
import { createNodeInspector, type NodeInspector } from '../actors/inspector.js';
import { InvalidOptionError, RuntimeStoppedError } from '../errors.js';
import type { JobResult, ScheduleRecord } from '../records.js';
import { noMetrics } from './metrics.js';
import type { ListJobsQuery, RuntimeEvent, RuntimeEventMap, RuntimeEventType, StoreBackend } from '../store/index.js';
import { EventHub } from './event-hub.js';
import type { JobInfo } from './job-info.js';
import { JobOperations, type AddJobOptions, type GetJobResultOptions } from './job-operations.js';
import { errorFields } from './log-fields.js';
import { RuntimeMetrics } from './metrics.js';
import type { AdHocTaskName, AnyTypedJobOptions, ArgsParameter, TaskArgs, TaskName, TaskResult, TypedJobOptions, TypedScheduleOptions, UntypedTasks } from './task-types.js';
import { buildEvent, type EventFields, type NodeContext } from './node-context.js';
import { ResultWaiters } from './result-waiters.js';
import { assertCapacity, resolveRuntimeOptions, type ResolvedRuntimeOptions, type RuntimeOptions } from './runtime-options.js';
import { ScheduleOperations, type AddScheduleOptions, type ResumeOptions } from './schedule-operations.js';
import { assertTaskName, normaliseTask, type RegisteredTask, type TaskFunction, type TaskOptions } from './task-registry.js';

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
  private readonly jobsApi: JobOperations;
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
    this.jobsApi = new JobOperations(this.node, this.waiters, opts, () => this.assertUsable());
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
  addJobs(list: readonly AnyTypedJobOptions<Tasks>[]): Promise<string[]> {
    return this.jobsApi.add(list as readonly AddJobOptions[]);
  }

  /**
   * The job's result; null while it has none (or, with `wait`, after `timeout`). Throws
   * JobLookupError for an id that never existed or whose result expired.
   */
  getJobResult(id: string, opts: GetJobResultOptions = {}): Promise<JobResult | null> {
    return this.jobsApi.result(id, opts);
  }

  /**
   * One job: its record, state, every attempt (node, times, outcome, error, log lines) and latest
   * progress. Throws JobLookupError for an id that never existed or whose result expired.
   */
  getJob(id: string): Promise<JobInfo> {
    return this.jobsApi.get(id);
  }

  /**
   * Jobs newest first, filtered by state (`queued`, `running`, `done` or an outcome), task or
   * schedule; pass `nextCursor` back as `cursor` for the next page. A tool's view: it reads every job
   * key and the queued messages (up to 10,000).
   */
  listJobs(query: ListJobsQuery = {}): Promise<{ jobs: JobInfo[]; nextCursor: string | null }> {
    return this.jobsApi.list(query);
  }

  /** Adds a job, waits for it, and returns its value or throws JobFailedError. */
  runJob<K extends TaskName<Tasks>>(task: K, ...[args]: ArgsParameter<TaskArgs<Tasks, K>>): Promise<TaskResult<Tasks, K>> {
    return this.jobsApi.run(task, args) as Promise<TaskResult<Tasks, K>>;
  }

  /**
   * Cancels a job: a queued one ends `cancelled` at once; a running one has its signal aborted and
   * ends `cancelled` on its node. Resolves to false when the job had already ended.
   */
  cancelJob(id: string): Promise<boolean> {
    return this.jobsApi.cancel(id);
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
