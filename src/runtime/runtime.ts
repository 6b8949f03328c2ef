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
import { CorruptRecordError, jobLeaseKey, StoreClosedError, type RuntimeEvent, type RuntimeEventMap, type RuntimeEventType, type StoreBackend } from '../store/index.js';
import { EventHub } from './event-hub.js';
import { buildEvent, type EventFields, type NodeContext } from './node-context.js';
import { withinPayloadLimit } from './payload-limit.js';
import { assertPlainData } from './plain-data.js';
import { ResultWaiters } from './result-waiters.js';
import { assertCapacity, resolveRuntimeOptions, type ResolvedRuntimeOptions, type RuntimeOptions } from './runtime-options.js';
import { ScheduleOperations, type AddScheduleOptions, type ResumeOptions } from './schedule-operations.js';
import { normaliseTask, type RegisteredTask, type TaskFunction, type TaskOptions } from './task-registry.js';

export interface AddJobOptions {
  /** Job id; must be unused. @defaultValue a random UUID */
  id?: string;
  task: string;
  args?: unknown;
  /** How long the result is kept. @defaultValue the runtime's defaultResultTtl ('1d') */
  resultTtl?: DurationLike;
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

/** How long task names seen on other nodes count as known without looking again. */
const CLUSTER_TASKS_TTL_MS = 10_000;

type Lifecycle = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/** Creates a node and opens its store. Call `start()` to run jobs and schedules. */
export async function createRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const resolved = resolveRuntimeOptions(options);
  const backend = await resolved.store.open({ leaseDurationMs: resolved.leaseDurationMs });
  return new Runtime(resolved, backend);
}

export class Runtime {
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
  private inspector: NodeInspector | null = null;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly opts: ResolvedRuntimeOptions,
    readonly backend: StoreBackend,
  ) {
    this.nodeId = opts.nodeId;
    this.role = opts.role;
    this.hub = new EventHub<RuntimeEvent>((error) => console.error('[jobchart] an event listener threw:', error));
    this.unsubscribers.push(backend.events.subscribe((event) => this.hub.emit(event)));
    this.waiters = new ResultWaiters(backend);
    this.node = {
      nodeId: opts.nodeId,
      backend,
      tasks: this.tasks,
      defaultResultTtlMs: opts.defaultResultTtlMs,
      emit: (type, fields) => this.emit(type, fields),
      reportError: (error, where) => console.error(`[jobchart] ${where}:`, error),
      wakeWorkerAfter: (delayMs) => {
        // +5 ms: the queue's own delay timer must have fired first for the fetch to find the job.
        setTimeout(() => this.running?.actor.send({ type: 'JOB_AVAILABLE' }), delayMs + 5).unref();
      },
    };
    this.schedulesApi = new ScheduleOperations(this.node, (task) => this.assertTaskKnown(task));
  }

  // ---- tasks ------------------------------------------------------------------------------

  /** Registers a task this node can run. Options: maxRunning, timeout, retry, misfireGraceTime. */
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
  async start(): Promise<void> {
    this.assertUsable();
    if (this.lifecycle !== 'created') return;
    this.lifecycle = 'starting';
    this.inspector = createNodeInspector(this.opts.inspect);
    this.running = await startNodeActor(this.node, {
      role: this.opts.role,
      maxConcurrentJobs: this.opts.maxConcurrentJobs,
      pollIntervalMs: this.opts.pollIntervalMs,
      leaseDurationMs: this.opts.leaseDurationMs,
      ...(this.inspector ? { inspect: this.inspector.inspect } : {}),
    });
    await this.beat();
    this.heartbeat = setInterval(() => void this.beat(), Math.max(100, Math.floor(this.opts.leaseDurationMs / 3)));
    this.heartbeat.unref();
    this.lifecycle = 'running';
    this.emit('NodeStarted', { role: this.opts.role });
  }

  /** Stops the node: drains (default) or hands running jobs back, releases schedules, closes the store. */
  async stop(opts: StopOptions = {}): Promise<void> {
    if (this.lifecycle === 'stopping' || this.lifecycle === 'stopped') return;
    const wasStarted = this.lifecycle !== 'created';
    this.lifecycle = 'stopping';
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.running) {
      // DRAIN: running jobs finish; STOP: they are handed back. Either way schedules are released.
      this.running.actor.send({ type: opts.drain === false ? 'STOP' : 'DRAIN' });
      await this.running.stopped;
      this.running.detach();
      this.running.actor.stop();
    }
    if (wasStarted) {
      this.emit('NodeStopped', { reason: opts.drain === false ? 'stop' : 'drain' });
      await this.backend.nodes.remove(this.nodeId).catch(() => undefined);
    }
    for (const unsubscribe of this.unsubscribers) unsubscribe();
    await this.waiters.close();
    // Let the NodeStopped publication leave before the connection closes.
    await new Promise((r) => setTimeout(r, 20));
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

  /** Queues a job; resolves to its id. */
  async addJob(opts: AddJobOptions): Promise<string> {
    this.assertUsable();
    const id = opts.id ?? randomUUID();
    if (typeof id !== 'string' || id.length === 0) throw new InvalidOptionError('id', 'must be a non-empty string');
    await this.assertTaskKnown(opts.task);
    assertPlainData(opts.args, 'args');
    const record: JobRecord = {
      id,
      task: opts.task,
      args: opts.args ?? null,
      createdAt: new Date(this.backend.clock.now()),
      attempt: 1,
      resultTtlMs: opts.resultTtl === undefined ? this.opts.defaultResultTtlMs : parseDuration(opts.resultTtl, 'resultTtl'),
    };
    const created = await withinPayloadLimit(`job "${id}" (its args)`, () => this.backend.jobs.create(record));
    if (!created) throw new ConflictingIdError('job', id);
    await this.backend.dispatch.enqueue(id);
    this.emit('JobAdded', { jobId: id, task: opts.task });
    return id;
  }

  /** Queues several jobs at once; resolves to their ids in order. (Interim: one add each, concurrently.) */
  async addJobs(jobs: readonly AddJobOptions[]): Promise<string[]> {
    return Promise.all(jobs.map((job) => this.addJob(job)));
  }

  /**
   * The job's result; null while it has none (or, with `wait`, after `timeout`). Throws
   * JobLookupError for an id that never existed or whose result expired.
   */
  async getJobResult(id: string, opts: GetJobResultOptions = {}): Promise<JobResult | null> {
    this.assertUsable();
    const timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout, 'timeout');
    const askedAt = Date.now();
    // A caller who asked to wait waits through a store outage (a server restart, a reconnect):
    // a failed first lookup only means "not known yet", the waiters keep looking.
    const stored = await this.backend.results.get(id).catch((error: unknown) => {
      if (opts.wait && isTransientStoreError(error)) return null;
      throw error;
    });
    if (stored) return stored.record;
    if (!(await this.backend.jobs.get(id).catch(() => true))) throw new JobLookupError(id);
    if (!opts.wait) return null;
    return this.waiters.wait(id, timeoutMs === undefined ? undefined : Math.max(0, timeoutMs - (Date.now() - askedAt)));
  }

  /** Adds a job, waits for it, and returns its value or throws JobFailedError. */
  async runJob(task: string, args?: unknown): Promise<unknown> {
    const id = await this.addJob({ task, args });
    const result = await this.getJobResult(id, { wait: true });
    if (!result) throw new RuntimeStoppedError();
    if (result.outcome === 'success') return result.returnValue;
    throw new JobFailedError(id, result.outcome, result.error?.message ?? result.outcome, result.error?.name, result.error?.stack);
  }

  /**
   * Cancels a job: a queued one ends `cancelled` at once; a running one has its signal aborted and
   * ends `cancelled` on its node. Resolves to false when the job had already ended.
   */
  async cancelJob(id: string): Promise<boolean> {
    this.assertUsable();
    const stored = await this.backend.jobs.get(id);
    if (!stored) {
      if (await this.backend.results.get(id)) return false;
      throw new JobLookupError(id);
    }
    if (await this.backend.results.get(id)) return false;
    const holder = await this.backend.leases.holder(jobLeaseKey(id));
    if (holder) {
      this.emit('JobCancelRequested', { jobId: id });
      const result = await this.waiters.wait(id, this.opts.leaseDurationMs * 2);
      if (result) return result.outcome === 'cancelled';
    }
    const now = new Date(this.backend.clock.now());
    const written = await this.backend.results.create(
      { jobId: id, outcome: 'cancelled', finishedAt: now, attempt: stored.record.attempt },
      { ttlMs: stored.record.resultTtlMs },
    );
    if (written) this.emit('JobReleased', { jobId: id, task: stored.record.task, outcome: 'cancelled', attempt: stored.record.attempt });
    return written !== null;
  }

  // ---- schedules ----------------------------------------------------------------------------

  /** Adds (or, with onConflict, keeps/replaces) a schedule; resolves to its id. */
  addSchedule(opts: AddScheduleOptions): Promise<string> {
    this.assertUsable();
    return this.schedulesApi.add(opts);
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
  get status(): { lifecycle: Lifecycle; running: number; capacity: number; worker: string | null; schedules: number } {
    const snapshot = this.running?.worker()?.getSnapshot() as { context: { running: string[] }; value: unknown } | undefined;
    return {
      lifecycle: this.lifecycle,
      running: snapshot?.context.running.length ?? 0,
      capacity: this.opts.maxConcurrentJobs,
      worker: snapshot ? JSON.stringify(snapshot.value) : null,
      schedules: Object.keys((this.running?.actor.getSnapshot().children['scheduler']?.getSnapshot() as { children?: object } | undefined)?.children ?? {}).length,
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
  private clusterTasks = new Set<string>();
  private clusterTasksAt = 0;

  private async assertTaskKnown(task: string): Promise<void> {
    if (typeof task !== 'string' || task.length === 0) throw new InvalidOptionError('task', 'must be a task name');
    if (this.tasks.has(task)) return;
    // Listing nodes costs a scan of the nodes bucket (a consumer on NATS): cache the cluster's task
    // names briefly, and look again at most once a second for a name not seen yet.
    const now = Date.now();
    const fresh = now - this.clusterTasksAt < CLUSTER_TASKS_TTL_MS;
    if (fresh && this.clusterTasks.has(task)) return;
    if (now - this.clusterTasksAt >= 1_000) {
      const nodes = await this.backend.nodes.listNodes();
      this.clusterTasks = new Set(nodes.flatMap((n) => n.tasks ?? []));
      this.clusterTasksAt = now;
    }
    if (this.clusterTasks.has(task)) return;
    throw new UnknownTaskError(task);
  }

  private emit<T extends RuntimeEventType>(type: T, fields: EventFields<T>): void {
    const event = buildEvent(type, this.nodeId, new Date(this.backend.clock.now()), fields);
    this.backend.events.publish(event).catch((error: unknown) => {
      if (this.lifecycle !== 'stopped') console.error(`[jobchart] publishing ${type} failed:`, error);
    });
  }

  private assertUsable(): void {
    if (this.lifecycle === 'stopped' || this.lifecycle === 'stopping') throw new RuntimeStoppedError();
  }
}

/** An error that may pass (timeout, no responders, disconnected), as opposed to a corrupt record or a closed store. */
function isTransientStoreError(error: unknown): boolean {
  return !(error instanceof CorruptRecordError || error instanceof StoreClosedError);
}

function hostnameSafe(): string {
  try {
    return hostname();
  } catch {
    return 'unknown';
  }
}
