/**
 * The schedule half of the public API: add / get / list / remove / pause / resume. These only
 * write schedule records; the scheduler nodes pick the changes up from the bucket.
 */
import { randomUUID } from 'node:crypto';
import { parseDuration, type DurationLike } from '../duration.js';
import { ConflictingIdError, InvalidOptionError, ScheduleLookupError } from '../errors.js';
import { CoalescePolicy, type ScheduleRecord } from '../records.js';
import { CorruptRecordError } from '../store/index.js';
import { assertTrigger, nextFireTime, type Trigger } from '../triggers/index.js';
import type { NodeContext } from './node-context.js';
import { withinPayloadLimit } from './payload-limit.js';
import { assertPlainData } from './plain-data.js';
import { assertPriority } from './task-registry.js';

export interface AddScheduleOptions {
  /** Schedule id. @defaultValue a random UUID */
  id?: string;
  task: string;
  trigger: Trigger;
  args?: unknown;
  /** Added paused (no fires until resumed). @defaultValue false */
  paused?: boolean;
  /** Missed fire times → jobs: one for the latest, one for the earliest, or one each. @defaultValue 'latest' */
  coalesce?: CoalescePolicy;
  /** A job must start by fire time + jitter + this, or it ends missed_start_deadline. @defaultValue the task's, else none */
  misfireGraceTime?: DurationLike;
  /** Random delay added to each fire time, uniform in [0, min(maxJitter, next − fire)). @defaultValue 0 */
  maxJitter?: DurationLike;
  /** What to do when the id exists: keep it, replace it, or throw ConflictingIdError. @defaultValue 'keep' (as APScheduler 4: re-adding a schedule at every boot is harmless) */
  onConflict?: 'keep' | 'replace' | 'error';
  /** Priority of its jobs: > 0 high, 0 normal, < 0 low. @defaultValue the task's priority on the firing node, else 0 */
  priority?: number;
}

export interface ResumeOptions {
  /** Fire times missed while paused: skip them ('now', default) or resume from a Date (coalesce applies). */
  from?: 'now' | Date;
}

const POLICIES: readonly string[] = Object.values(CoalescePolicy);

export class ScheduleOperations {
  constructor(
    private readonly node: NodeContext,
    private readonly assertTaskKnown: (task: string) => Promise<void>,
  ) {}

  async add(opts: AddScheduleOptions): Promise<string> {
    const id = opts.id ?? randomUUID();
    if (typeof id !== 'string' || id.length === 0) throw new InvalidOptionError('id', 'must be a non-empty string');
    assertTrigger(opts.trigger);
    const coalesce = opts.coalesce ?? 'latest';
    if (!POLICIES.includes(coalesce)) throw new InvalidOptionError('coalesce', `${JSON.stringify(coalesce)} is not one of ${POLICIES.join(', ')}`);
    const onConflict = opts.onConflict ?? 'keep';
    if (!['keep', 'replace', 'error'].includes(onConflict)) {
      throw new InvalidOptionError('onConflict', `${JSON.stringify(onConflict)} is not one of keep, replace, error`);
    }
    await this.assertTaskKnown(opts.task);
    assertPlainData(opts.args, 'args');
    const now = new Date(this.node.backend.clock.now());
    const record: ScheduleRecord = {
      id,
      task: opts.task,
      trigger: opts.trigger,
      args: opts.args ?? null,
      paused: opts.paused ?? false,
      coalesce,
      misfireGraceTimeMs: opts.misfireGraceTime === undefined ? null : parseDuration(opts.misfireGraceTime, 'misfireGraceTime'),
      maxJitterMs: opts.maxJitter === undefined ? 0 : parseDuration(opts.maxJitter, 'maxJitter'),
      nextFireTime: nextFireTime(opts.trigger, now, { inclusive: true }),
      lastFireTime: null,
      createdAt: now,
    };
    if (opts.priority !== undefined) record.priority = assertPriority(opts.priority, 'priority');
    const repo = this.node.backend.schedules;
    const what = `schedule "${id}" (its args and trigger)`;
    const created = await withinPayloadLimit(what, () => repo.create(record));
    if (created) {
      this.node.emit('ScheduleAdded', { scheduleId: id, task: record.task, nextFireTime: record.nextFireTime });
      return id;
    }
    if (onConflict === 'keep') return id;
    if (onConflict === 'error') throw new ConflictingIdError('schedule', id);
    await withinPayloadLimit(what, () => repo.put(record));
    this.node.emit('ScheduleUpdated', { scheduleId: id, task: record.task, nextFireTime: record.nextFireTime });
    return id;
  }

  async get(id: string): Promise<ScheduleRecord> {
    const stored = await this.node.backend.schedules.get(id);
    if (!stored) throw new ScheduleLookupError(id);
    return stored.record;
  }

  /** Every readable schedule; corrupt ones are reported as ScheduleDeserializationFailed events. */
  async list(): Promise<ScheduleRecord[]> {
    const { items, failures } = await this.node.backend.schedules.list();
    for (const failure of failures) this.node.emit('ScheduleDeserializationFailed', { scheduleId: failure.id, error: failure.message });
    return items.map((s) => s.record).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Removes a schedule; false (nothing written, nothing announced) when there is none. */
  async remove(id: string): Promise<boolean> {
    for (let attempt = 0; attempt < 20; attempt++) {
      let stored;
      try {
        stored = await this.node.backend.schedules.get(id);
      } catch (error) {
        if (!(error instanceof CorruptRecordError)) throw error;
        // Unreadable: remove it all the same (it can never fire).
        await this.node.backend.schedules.delete(id);
        this.node.emit('ScheduleRemoved', { scheduleId: id });
        return true;
      }
      if (!stored) return false;
      if (await this.node.backend.schedules.delete(id, stored.revision)) {
        this.node.emit('ScheduleRemoved', { scheduleId: id, task: stored.record.task });
        return true;
      }
      // A scheduler advanced it meanwhile: read it again.
    }
    throw new Error(`schedule "${id}" kept changing while it was being removed; try again`);
  }

  pause(id: string): Promise<ScheduleRecord> {
    return this.modify(id, (record) => ({ ...record, paused: true }));
  }

  resume(id: string, opts: ResumeOptions): Promise<ScheduleRecord> {
    const from = opts.from ?? 'now';
    if (from !== 'now' && !(from instanceof Date && !Number.isNaN(from.getTime()))) {
      throw new InvalidOptionError('from', "must be 'now' or a valid Date");
    }
    return this.modify(id, (record) => {
      const base = from === 'now' ? new Date(this.node.backend.clock.now()) : from;
      return { ...record, paused: false, nextFireTime: nextFireTime(record.trigger, base, { inclusive: true }) };
    });
  }

  /** Read-modify-write with the revision check, retried when a scheduler advanced it meanwhile. */
  private async modify(id: string, change: (record: ScheduleRecord) => ScheduleRecord): Promise<ScheduleRecord> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const stored = await this.node.backend.schedules.get(id);
      if (!stored) throw new ScheduleLookupError(id);
      const next = change(stored.record);
      if (await this.node.backend.schedules.update(next, stored.revision)) {
        this.node.emit('ScheduleUpdated', { scheduleId: id, task: next.task, nextFireTime: next.nextFireTime });
        return next;
      }
    }
    throw new Error(`schedule "${id}" kept changing while it was being updated; try again`);
  }
}
