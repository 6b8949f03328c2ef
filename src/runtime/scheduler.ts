/**
 * The scheduler side of a node: claims schedules by their lease (`schedule.<id>`), keeps the
 * leases alive with one LeaseRenewer, and fires each owned schedule at its next fire time.
 *
 * Interim: each owned schedule is driven by a timer here; the schedule statechart (issue 4) is to
 * replace this driver so that schedules show up in the inspector like jobs and workers do. The
 * guarantees do not depend on the driver: job ids are deterministic per fire time and written with
 * `create` (G4), and advancement is revision-checked, so even two owners at once cannot double a fire.
 */
import { planFires, commitFires } from '../actors/schedule-firing.js';
import type { NodeInspector } from '../actors/inspector.js';
import type { ScheduleRecord } from '../records.js';
import { CorruptRecordError, decodeKeyToken, scheduleLeaseKey, type ConnectionState, type LeaseRenewer } from '../store/index.js';
import type { NodeContext } from './node-context.js';

/** Longest single timer wait; longer waits re-arm (setTimeout overflows past 2^31 − 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Owned {
  id: string;
  timer: NodeJS.Timeout | null;
  firing: boolean;
}

export class Scheduler {
  private readonly owned = new Map<string, Owned>();
  private renewer: LeaseRenewer | null = null;
  private stopWatch: (() => void) | null = null;
  private claimTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Corrupt schedule id → the revision already reported. */
  private readonly reportedCorrupt = new Map<string, number>();
  private connected = true;

  constructor(
    private readonly node: NodeContext,
    _inspector: NodeInspector | null,
  ) {}

  get ownedCount(): number {
    return this.owned.size;
  }

  async start(): Promise<void> {
    const { backend } = this.node;
    this.renewer = backend.createLeaseRenewer({
      onLost: (lost) => {
        const id = safeDecode(lost.key.slice('schedule.'.length));
        this.release(id, false);
        this.node.emit('LeaseLost', { key: lost.key, reason: lost.reason, scheduleId: id });
      },
    });
    this.stopWatch = await backend.buckets.schedules.watch('>', (change) => {
      const id = safeDecode(change.key);
      if (change.operation === 'delete') this.release(id, true);
      else if (this.owned.has(id)) void this.arm(id);
      else void this.claim(id);
    });
    await this.claimAll();
    const every = Math.max(50, Math.floor(backend.leaseDurationMs / 3));
    this.claimTimer = setInterval(() => void this.claimAll(), every);
    this.claimTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.claimTimer) clearInterval(this.claimTimer);
    this.stopWatch?.();
    for (const id of [...this.owned.keys()]) this.release(id, true);
    this.renewer?.stop();
  }

  connectionChanged(state: ConnectionState): void {
    this.connected = state === 'up';
  }

  /** Tries to own every schedule nobody owns (failover after a holder's lease expired). */
  private async claimAll(): Promise<void> {
    if (this.stopped || !this.connected) return;
    try {
      const { items, failures } = await this.node.backend.schedules.list();
      for (const failure of failures) this.reportCorrupt(failure);
      await Promise.all(items.filter((s) => !this.owned.has(s.record.id) && isActive(s.record)).map((s) => this.claim(s.record.id)));
    } catch (error) {
      this.node.reportError(error, 'claiming schedules');
    }
  }

  /**
   * Emits ScheduleDeserializationFailed once per corrupt revision: the claim round meets the same
   * corrupt record every leaseDuration/3, and an event per round would flood every listener.
   */
  private reportCorrupt(error: CorruptRecordError): void {
    if (this.reportedCorrupt.get(error.id) === error.revision) return;
    this.reportedCorrupt.set(error.id, error.revision);
    this.node.emit('ScheduleDeserializationFailed', { scheduleId: error.id, error: error.message });
  }

  private async claim(id: string): Promise<void> {
    if (this.stopped || this.owned.has(id)) return;
    const { backend, nodeId } = this.node;
    const lease = await backend.leases.acquire(scheduleLeaseKey(id), nodeId).catch(() => null);
    if (!lease) return;
    if (this.stopped || this.owned.has(id)) {
      await backend.leases.release(lease).catch(() => undefined);
      return;
    }
    this.owned.set(id, { id, timer: null, firing: false });
    this.renewer?.hold(lease);
    await this.arm(id);
  }

  private release(id: string, giveBack: boolean): void {
    const owned = this.owned.get(id);
    if (!owned) return;
    if (owned.timer) clearTimeout(owned.timer);
    this.owned.delete(id);
    if (giveBack) void this.renewer?.release(scheduleLeaseKey(id)).catch(() => undefined);
  }

  /** (Re)sets the owned schedule's timer from its current record. */
  private async arm(id: string): Promise<void> {
    const owned = this.owned.get(id);
    if (!owned || owned.firing) return;
    let record: ScheduleRecord | null;
    try {
      record = (await this.node.backend.schedules.get(id))?.record ?? null;
    } catch (error) {
      if (error instanceof CorruptRecordError) this.reportCorrupt(error);
      this.release(id, true);
      return;
    }
    if (owned.timer) clearTimeout(owned.timer);
    owned.timer = null;
    if (!record || !isActive(record) || !this.owned.has(id)) {
      // Paused, finished or gone: nothing to fire, so let another state change claim it again.
      this.release(id, true);
      return;
    }
    const wait = Math.max(0, (record.nextFireTime as Date).getTime() - this.node.backend.clock.now());
    owned.timer = setTimeout(() => void (wait > MAX_TIMER_MS ? this.arm(id) : this.fire(id)), Math.min(wait, MAX_TIMER_MS));
    owned.timer.unref();
  }

  private async fire(id: string): Promise<void> {
    const owned = this.owned.get(id);
    if (!owned || this.stopped) return;
    owned.firing = true;
    const { backend } = this.node;
    try {
      // Re-prove ownership right before firing: a lease lost meanwhile means another node owns it.
      if (!this.renewer?.current(scheduleLeaseKey(id))) return;
      const stored = await backend.schedules.get(id);
      if (!stored || !isActive(stored.record)) return;
      const now = new Date(backend.clock.now());
      const task = this.node.tasks.get(stored.record.task);
      const grace = stored.record.misfireGraceTimeMs ?? task?.misfireGraceTimeMs ?? null;
      const plan = planFires(stored.record, now, grace, Math.random);
      if (plan.fires.length === 0 && plan.next?.getTime() === stored.record.nextFireTime?.getTime()) return;
      await commitFires(backend, stored, plan, this.node.defaultResultTtlMs, (job) =>
        this.node.emit('JobAdded', {
          jobId: job.id,
          task: job.task,
          scheduleId: id,
          ...(job.scheduledFireTime ? { scheduledFireTime: job.scheduledFireTime } : {}),
        }),
      );
      if (plan.next === null) this.node.emit('ScheduleUpdated', { scheduleId: id, task: stored.record.task, nextFireTime: null });
    } catch (error) {
      if (error instanceof CorruptRecordError) this.reportCorrupt(error);
      else this.node.reportError(error, `firing schedule ${id}`);
    } finally {
      owned.firing = false;
      if (this.owned.get(id) === owned) await this.arm(id);
    }
  }
}

function isActive(record: ScheduleRecord): boolean {
  return !record.paused && record.nextFireTime !== null;
}

function safeDecode(token: string): string {
  try {
    return decodeKeyToken(token);
  } catch {
    return token;
  }
}
