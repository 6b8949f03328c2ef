/**
 * The schedule host with the real scheduler and schedule machines on the memory store. First: a firing
 * refused because the partition's lease could not be proven held at that moment (a renewal running
 * late under load, or across a store outage) must not silence the schedule while the partition
 * stays held. Found by the chaos run under CPU load: after a nats-server restart one firing ended
 * `partition_lost`, the schedule was never armed again, and its partition — still held, its
 * renewals through — fired nothing until the run ended. Then: due schedules beyond the
 * scheduler's firing slots wait in line, and each fires once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { ScheduleHost } from '../../src/actors/schedule-host.js';
import { schedulerMachine } from '../../src/machines/scheduler-machine.js';
import type { ScheduleRecord } from '../../src/records.js';
import { pino } from 'pino';
import { noMetrics } from '../../src/runtime/metrics.js';
import type { NodeContext } from '../../src/runtime/node-context.js';
import { memoryStore } from '../../src/store/memory/memory-store.js';
import type { StoreBackend } from '../../src/store/store-backend.js';
import { schedulePartition } from '../../src/store/index.js';
import { interval } from '../../src/triggers/index.js';

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function waitFor(what: string, done: () => boolean, limitMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function nodeContext(backend: StoreBackend, errors: string[]): NodeContext {
  return {
    nodeId: 'host-test',
    backend,
    tasks: new Map(),
    defaultResultTtlMs: 60_000,
    emit: () => undefined,
    reportError: (error, where) => void errors.push(`${where}: ${String(error)}`),
    logger: pino({ level: 'silent' }),
    metrics: noMetrics,
  };
}

describe('ScheduleHost', () => {
  it('a firing refused for a lease not provable at that moment is offered again, and fires once the lease proves held', async () => {
    const backend = await memoryStore().open({ leaseDurationMs: 3_000, resultSweepIntervalMs: 0 });
    stops.push(() => backend.close());
    const now = backend.clock.now();
    const schedule: ScheduleRecord = {
      id: 'every-100ms',
      task: 'tick',
      args: null,
      trigger: interval(100, { start: new Date(now + 100) }),
      coalesce: 'all',
      maxJitterMs: 0,
      misfireGraceTimeMs: null,
      paused: false,
      nextFireTime: new Date(now + 100),
      lastFireTime: null,
      createdAt: new Date(now),
    };
    await backend.schedules.create(schedule);

    // The partition is held throughout, but for a while its lease cannot be proven (holds → false).
    const partition = schedulePartition(schedule.id);
    let provable = false;
    const errors: string[] = [];
    const host = new ScheduleHost(nodeContext(backend, errors), (p) => p === partition && provable);
    const ends: string[] = [];
    const scheduler = createActor(
      schedulerMachine.provide({
        actions: {
          startFiring: ({ self }, params) => host.startFiring(self, params.scheduleId),
          deferFiring: (_, params) => host.deferFiring(params.scheduleId),
          firingEnded: (_, params) => {
            ends.push(params.output?.end ?? 'crashed');
            host.firingEnded(params.scheduleId, params.output);
          },
        },
      }),
      { input: {} },
    );
    scheduler.start();
    host.attach(scheduler);
    stops.push(() => host.stop(), () => void scheduler.stop());
    host.partitionAcquired(partition);
    await waitFor('the partition loaded', () => host.size === 1);

    await waitFor('a firing refused for the lease', () => ends.includes('partition_lost'));
    const refusedAt = ends.length;
    // The renewal comes through: the schedule fires again (before the fix it stayed silent for good).
    provable = true;
    await waitFor('a firing after the lease proved held', () => ends.slice(refusedAt).includes('advanced'), 3_000);
    const jobs = await backend.jobs.list({ scheduleId: schedule.id });
    // coalesce 'all': every fire time missed while refused was published when it fired.
    expect(jobs.jobs.length).toBeGreaterThanOrEqual(2);
    expect(errors).toEqual([]);
  });
  it('due schedules beyond the firing slots wait their turn: each fires once, and one removed while waiting does not fire', async () => {
    const backend = await memoryStore().open({ leaseDurationMs: 3_000, resultSweepIntervalMs: 0 });
    stops.push(() => backend.close());
    const now = backend.clock.now();
    const at = new Date(now + 200);
    const ids = Array.from({ length: 12 }, (_, i) => `s${String(i).padStart(2, '0')}`);
    for (const id of ids) {
      await backend.schedules.create({
        id,
        task: 'tick',
        args: null,
        trigger: interval('1h', { start: at }),
        coalesce: 'all',
        maxJitterMs: 0,
        misfireGraceTimeMs: null,
        paused: false,
        nextFireTime: at,
        lastFireTime: null,
        createdAt: new Date(now),
      });
    }
    const errors: string[] = [];
    const host = new ScheduleHost(nodeContext(backend, errors), () => true);
    const ends: { id: string; end: string }[] = [];
    let removed = false;
    const scheduler = createActor(
      schedulerMachine.provide({
        actions: {
          startFiring: ({ self }, params) => host.startFiring(self, params.scheduleId),
          deferFiring: (_, params) => {
            host.deferFiring(params.scheduleId);
            // The last one is removed while it waits (the partition watch takes it out of memory).
            if (params.scheduleId === 's11' && !removed) {
              removed = true;
              void backend.schedules.delete('s11');
            }
          },
          firingEnded: (_, params) => {
            ends.push({ id: params.scheduleId, end: params.output?.end ?? 'crashed' });
            host.firingEnded(params.scheduleId, params.output);
          },
        },
      }),
      { input: { maxFirings: 2 } },
    );
    scheduler.start();
    host.attach(scheduler);
    stops.push(() => host.stop(), () => void scheduler.stop());
    for (let p = 0; p < 64; p++) host.partitionAcquired(p);
    await waitFor('the schedules loaded', () => host.size === ids.length);
    await waitFor('eleven firings', () => ends.filter((e) => e.end === 'advanced').length === 11);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(removed).toBe(true);
    expect(ends.map((e) => e.id).sort()).toEqual(ids.slice(0, 11));
    expect(ends.every((e) => e.end === 'advanced')).toBe(true);
    expect((await backend.jobs.list({})).jobs.map((listed) => listed.job?.scheduleId).sort()).toEqual(ids.slice(0, 11));
    expect(errors).toEqual([]);
  });
});
