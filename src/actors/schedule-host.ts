/**
 * Hosts this node's schedules: every schedule of the partitions it owns (PartitionKeeper) is kept in
 * memory — its record and revision, loaded and kept current by a watch on the partition's keys
 * (`p<NN>.>`) — and armed on ONE timer heap at its next fire time. When that time comes the heap
 * sends FIRE_DUE to the scheduler actor, which asks this host to run a schedule actor for the firing
 * (created with the scheduler as its parent); the firing's end re-arms the heap. Adding, updating or
 * removing a schedule is O(log n) here; an idle schedule costs a map entry and a heap slot, no actor
 * and no timer of its own.
 *
 * The schedule machine's effects live here too: publish the fires' jobs (deterministic ids, one
 * pipelined publish each), the revision-checked advance, and a reload after a conflict.
 */
import { createActor, type AnyActorRef } from 'xstate';
import { createScheduleMachine } from '../machines/schedule-machine.js';
import type { AdvanceScheduleParams, LoadScheduleParams, PublishJobsParams, ScheduleEvent, ScheduleOutput } from '../machines/schedule-types.js';
import type { JobRecord, ScheduleRecord } from '../records.js';
import { CorruptRecordError, jobIdForFire, partitionFilter, schedulePartition, type KvChange } from '../store/index.js';
import { nextFireTime } from '../triggers/index.js';
import { assertTrigger } from '../triggers/index.js';
import type { NodeContext } from '../runtime/node-context.js';
import { TimerHeap } from './timer-heap.js';

/**
 * The id of every schedule actor (a firing). XState relays a child's end to its parent as
 * `xstate.done.actor.<id>` and memoizes transition candidates per event type for good: an id per
 * schedule would grow that memo with every schedule ever fired here. The schedule id is in the input.
 */
const FIRING_ACTOR_ID = 'firing';
/** A firing refused because the partition's lease could not be proven held is offered again after this. */
const PARTITION_RECHECK_MS = 200;
/** A firing that failed (store error) is tried again after this. */
const RETRY_AFTER_FAILURE_MS = 1_000;
/**
 * Partitions loaded at once: each load is a watch that replays the partition's schedules, and 64 of
 * them at once (a node taking every partition of a big store) made their consumer requests time out.
 */
const CONCURRENT_PARTITION_LOADS = 4;
/**
 * A partition whose load failed is tried again after this, doubling up to the maximum, while still
 * held. The maximum is short: a held partition that is not loaded fires nothing, and a store outage
 * of a second fails every load in flight (loads run a few at a time, so retries cannot pile up).
 */
const LOAD_RETRY_MS = 250;
const LOAD_RETRY_MAX_MS = 2_000;

interface HostedSchedule {
  record: ScheduleRecord;
  revision: number;
  partition: number;
  firing: AnyActorRef | null;
}

type Sender = (event: ScheduleEvent) => void;

export class ScheduleHost {
  readonly logic;
  readonly #schedules = new Map<string, HostedSchedule>();
  readonly #watches = new Map<number, () => void>();
  readonly #heap: TimerHeap;
  readonly #reportedCorrupt = new Set<string>();
  /**
   * Due schedules waiting for a firing slot (offered again as firings end): the set says who waits,
   * the array their order from `#waitingHead` on (ids no longer in the set are skipped). Not the set
   * alone: taking the first of a set over and over scans the holes its deletions leave, quadratic in
   * a burst of hundreds of waiting schedules.
   */
  readonly #waiting = new Set<string>();
  readonly #waitingOrder: string[] = [];
  #waitingHead = 0;
  #scheduler: AnyActorRef | null = null;
  #stopped = false;
  /** Partitions waiting to be loaded, in order, and how many loads run now. */
  readonly #toLoad: number[] = [];
  #loading = 0;
  /**
   * Partitions this node holds (from partitionAcquired until partitionReleased): they are loaded,
   * and kept loaded, whatever a momentary `holds` says; a firing still needs `holds` (lease proof).
   */
  readonly #assigned = new Set<number>();
  /** The next retry delay of partitions whose load failed. */
  readonly #loadRetries = new Map<number, number>();

  constructor(
    private readonly node: NodeContext,
    /** Whether this node still holds the partition (its lease cannot have run out). */
    private readonly holds: (partition: number) => boolean,
  ) {
    const { backend } = node;
    this.#heap = new TimerHeap(() => backend.clock.now(), (scheduleId) => this.#scheduler?.send({ type: 'FIRE_DUE', scheduleId }));
    this.logic = createScheduleMachine({ nextFireTime, random: Math.random }).provide({
      actions: {
        publishJobs: ({ self }, params: PublishJobsParams) => void this.#publish(params, sender(self)),
        advanceSchedule: ({ self }, params: AdvanceScheduleParams) => void this.#advance(params, sender(self)),
        loadSchedule: ({ self }, params: LoadScheduleParams) => void this.#load(params, sender(self)),
      },
    });
  }

  /** Schedules held in memory. */
  get size(): number {
    return this.#schedules.size;
  }

  /** The scheduler actor that gets FIRE_DUE and hosts the schedule actors. */
  attach(scheduler: AnyActorRef): void {
    this.#scheduler = scheduler;
  }

  /**
   * Starts hosting a partition: its schedules are loaded (and watched) and armed. Loads run a few at
   * a time; a load that fails is retried, later each time, for as long as the partition is held.
   */
  partitionAcquired(partition: number): void {
    if (this.#stopped) return;
    this.#assigned.add(partition);
    if (this.#watches.has(partition) || this.#toLoad.includes(partition)) return;
    this.#toLoad.push(partition);
    this.#loadNext();
  }

  #loadNext(): void {
    while (this.#loading < CONCURRENT_PARTITION_LOADS && this.#toLoad.length > 0) {
      const partition = this.#toLoad.shift() as number;
      this.#loading++;
      void this.#loadPartition(partition).finally(() => {
        this.#loading--;
        this.#loadNext();
      });
    }
  }

  async #loadPartition(partition: number): Promise<void> {
    if (this.#stopped || !this.#assigned.has(partition) || this.#watches.has(partition)) return;
    let stop: () => void;
    try {
      stop = await this.node.backend.buckets.schedules.watch(partitionFilter(partition), (change) => this.#onChange(partition, change), {
        includeCurrent: true,
      });
    } catch (error) {
      const retryMs = this.#loadRetries.get(partition) ?? LOAD_RETRY_MS;
      this.#loadRetries.set(partition, Math.min(LOAD_RETRY_MAX_MS, retryMs * 2));
      this.node.reportError(error, `loading the schedules of partition ${partition} (trying again in ${retryMs} ms)`);
      const retry = setTimeout(() => {
        if (this.#stopped || !this.#assigned.has(partition)) return;
        this.#toLoad.push(partition);
        this.#loadNext();
      }, retryMs);
      retry.unref();
      return;
    }
    this.#loadRetries.delete(partition);
    this.#watches.set(partition, stop);
    // Released (or the node stopped) while the watch was being set up.
    if (this.#stopped || !this.#assigned.has(partition)) this.partitionReleased(partition);
  }

  /** Stops hosting a partition: its schedules leave memory; a firing in flight is told. */
  partitionReleased(partition: number): void {
    this.#assigned.delete(partition);
    const queued = this.#toLoad.indexOf(partition);
    if (queued >= 0) this.#toLoad.splice(queued, 1);
    this.#watches.get(partition)?.();
    this.#watches.delete(partition);
    for (const [id, hosted] of this.#schedules) {
      if (hosted.partition !== partition) continue;
      this.#heap.disarm(id);
      this.#schedules.delete(id);
      send(hosted.firing, { type: 'PARTITION_LOST' });
    }
  }

  /** The scheduler's startFiring: a schedule actor for this firing, if the schedule is still ours. */
  startFiring(scheduler: AnyActorRef, scheduleId: string): void {
    // Created just after the scheduler's action, not inside it (its first transition assigns).
    queueMicrotask(() => {
      const hosted = this.#schedules.get(scheduleId);
      if (!hosted || this.#stopped || !this.holds(hosted.partition)) {
        scheduler.send({ type: 'FIRING_ENDED', output: { scheduleId, end: 'partition_lost', schedule: hosted?.record ?? null, recordRevision: hosted?.revision ?? 0, jobIds: [] } });
        return;
      }
      const actor = createActor(this.logic, {
        parent: scheduler,
        id: FIRING_ACTOR_ID,
        input: { schedule: hosted.record, recordRevision: hosted.revision, now: this.node.backend.clock.now() },
      });
      hosted.firing = actor;
      // A crashed firing never reaches its final state, which reports FIRING_ENDED.
      actor.subscribe({
        error: (error) => {
          if (scheduler.getSnapshot().status === 'active') scheduler.send({ type: 'FIRING_CRASHED', scheduleId, error });
        },
      });
      actor.start();
    });
  }

  /** The scheduler's deferFiring: no firing slot free now; offered again as soon as a firing ends. */
  deferFiring(scheduleId: string): void {
    if (!this.#schedules.has(scheduleId) || this.#waiting.has(scheduleId)) return;
    this.#waiting.add(scheduleId);
    this.#waitingOrder.push(scheduleId);
  }

  /** The scheduler's firingEnded: book where the schedule stands and arm its next fire time. */
  firingEnded(scheduleId: string, output: ScheduleOutput | null): void {
    this.#offerWaiting();
    const hosted = this.#schedules.get(scheduleId);
    if (!hosted) return;
    hosted.firing = null;
    if (output === null || output.end === 'failed') {
      // A crash or a store failure: try again later (a redo publishes the same job ids).
      if (output?.error) this.node.reportError(new Error(output.error), `firing schedule ${scheduleId}`);
      this.#heap.arm(scheduleId, this.node.backend.clock.now() + RETRY_AFTER_FAILURE_MS);
      return;
    }
    if (output.end === 'removed') {
      this.#forget(scheduleId);
      return;
    }
    if (output.end === 'partition_lost') {
      // The partition's lease could not be proven held when the firing began (a renewal running late
      // under load, or across a store outage) — it may well be renewed a moment later. A partition
      // really lost is taken out of memory by partitionReleased, which disarms the schedule; until
      // then, look again shortly (not re-armed, the schedule stayed silent while its partition held).
      this.#heap.arm(scheduleId, this.node.backend.clock.now() + PARTITION_RECHECK_MS);
      return;
    }
    if (output.schedule && output.recordRevision >= hosted.revision) {
      hosted.record = output.schedule;
      hosted.revision = output.recordRevision;
    }
    this.#arm(scheduleId, hosted);
  }

  /** A slot came free: the longest-waiting due schedule gets it. */
  #offerWaiting(): void {
    while (this.#waitingHead < this.#waitingOrder.length) {
      const scheduleId = this.#waitingOrder[this.#waitingHead++] as string;
      if (!this.#waiting.delete(scheduleId) || !this.#schedules.has(scheduleId)) continue;
      this.#scheduler?.send({ type: 'FIRE_DUE', scheduleId });
      break;
    }
    // Emptied: reset in place (every firing's end comes here, most often with nobody waiting).
    if (this.#waitingHead === this.#waitingOrder.length) this.#waitingOrder.length = 0;
    else if (this.#waitingHead > 1024) this.#waitingOrder.splice(0, this.#waitingHead);
    else return;
    this.#waitingHead = 0;
  }

  /** Stops every watch and the heap (the node is stopping). */
  stop(): void {
    this.#stopped = true;
    for (const stop of this.#watches.values()) stop();
    this.#watches.clear();
    this.#heap.stop();
  }

  // ---- the partition watch ------------------------------------------------------------------

  #onChange(partition: number, change: KvChange): void {
    if (this.#stopped) return;
    const repo = this.node.backend.schedules;
    const scheduleId = repo.idOfKey(change.key);
    if (scheduleId === null) return; // not a key this store writes
    const known = this.#schedules.get(scheduleId);
    // Our own advance coming back (or something older): nothing to decode.
    if (known && change.revision <= known.revision) return;
    if (change.operation === 'delete') {
      if (known) this.#forget(scheduleId);
      return;
    }
    const decoded = repo.decodeEntry({ key: change.key, value: change.value, revision: change.revision });
    if (decoded instanceof CorruptRecordError) {
      this.#reportCorrupt(scheduleId, change.revision, decoded.message);
      return;
    }
    try {
      assertTrigger(decoded.record.trigger);
    } catch (error) {
      this.#reportCorrupt(scheduleId, change.revision, error instanceof Error ? error.message : String(error));
      return;
    }
    const next: HostedSchedule = known ?? { record: decoded.record, revision: decoded.revision, partition, firing: null };
    next.record = decoded.record;
    next.revision = decoded.revision;
    this.#schedules.set(scheduleId, next);
    this.#arm(scheduleId, next);
  }

  #reportCorrupt(scheduleId: string, revision: number, message: string): void {
    const tag = `${scheduleId}@${revision}`;
    if (this.#reportedCorrupt.has(tag)) return;
    this.#reportedCorrupt.add(tag);
    this.node.emit('ScheduleDeserializationFailed', { scheduleId, error: message });
  }

  #arm(scheduleId: string, hosted: HostedSchedule): void {
    const { record } = hosted;
    if (record.paused || record.nextFireTime === null) this.#heap.disarm(scheduleId);
    else this.#heap.arm(scheduleId, record.nextFireTime.getTime());
  }

  #forget(scheduleId: string): void {
    this.#heap.disarm(scheduleId);
    this.#schedules.delete(scheduleId);
    this.#waiting.delete(scheduleId);
  }

  // ---- effects of the schedule machine ------------------------------------------------------

  async #publish({ schedule, fires }: PublishJobsParams, send: Sender): Promise<void> {
    const { backend, defaultResultTtlMs, tasks } = this.node;
    const createdAt = new Date(backend.clock.now());
    const priority = schedule.priority ?? tasks.get(schedule.task)?.priority ?? 0;
    const jobs = fires.map((fire) => {
      const job: JobRecord = {
        id: jobIdForFire(schedule.id, fire.fireTime),
        task: schedule.task,
        args: schedule.args,
        createdAt,
        scheduleId: schedule.id,
        scheduledFireTime: fire.fireTime,
        attempt: 1,
        resultTtlMs: defaultResultTtlMs,
      };
      if (fire.startDeadline) job.startDeadline = fire.startDeadline;
      if (fire.jitterMs > 0) job.notBefore = fire.runAt;
      if (priority !== 0) job.priority = priority;
      return job;
    });
    try {
      // G4: the fire's deterministic id is the message id, so a second publish of the same fire
      // time is dropped as a duplicate (and a worker drops one beyond the dedup window).
      const outcomes = await backend.jobs.add(jobs);
      // Not gated on listeners: emit also counts jobchart_jobs_added_total (and builds the event only if
      // someone listens). Gated here, a node's scheduled jobs went uncounted once its start-up grace ended.
      jobs.forEach((job, i) => {
        if (outcomes[i] === 'queued') this.node.emit('JobAdded', { jobId: job.id, task: job.task, scheduleId: schedule.id, scheduledFireTime: job.scheduledFireTime as Date });
      });
      send({ type: 'JOBS_PUBLISHED', jobIds: jobs.map((job) => job.id) });
    } catch (error) {
      send({ type: 'EFFECT_FAILED', error: messageOf(error) });
    }
  }

  async #advance({ schedule, recordRevision, nextFireTime: next, lastFireTime }: AdvanceScheduleParams, send: Sender): Promise<void> {
    const advanced: ScheduleRecord = { ...schedule, nextFireTime: next, lastFireTime };
    try {
      const written = await this.node.backend.schedules.update(advanced, recordRevision);
      if (!written) return send({ type: 'ADVANCE_CONFLICT' });
      if (next === null) this.node.emit('ScheduleUpdated', { scheduleId: schedule.id, task: schedule.task, nextFireTime: null });
      send({ type: 'SCHEDULE_ADVANCED', recordRevision: written.revision });
    } catch (error) {
      send({ type: 'EFFECT_FAILED', error: messageOf(error) });
    }
  }

  async #load({ scheduleId }: LoadScheduleParams, send: Sender): Promise<void> {
    try {
      const stored = await this.node.backend.schedules.get(scheduleId);
      if (!stored) return send({ type: 'SCHEDULE_GONE' });
      send({ type: 'SCHEDULE_LOADED', schedule: stored.record, recordRevision: stored.revision, now: this.node.backend.clock.now() });
    } catch (error) {
      if (error instanceof CorruptRecordError) {
        this.#reportCorrupt(scheduleId, error.revision, error.message);
        return send({ type: 'SCHEDULE_GONE' });
      }
      send({ type: 'EFFECT_FAILED', error: messageOf(error) });
    }
  }
}

/** The partition a hosted schedule belongs to (exported for tests and tools). */
export { schedulePartition };

function sender(self: AnyActorRef): Sender {
  return (event) => send(self, event);
}

function send(actor: AnyActorRef | null, event: ScheduleEvent): void {
  if (actor && actor.getSnapshot().status === 'active') actor.send(event);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
