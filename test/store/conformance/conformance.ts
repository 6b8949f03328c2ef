/**
 * The store conformance suite's frame: `conformance(topic, body)` runs `body` once per backend
 * (memory, and NATS JetStream on a private nats-server 2.9) via `describe.each`. The suite spans the
 * files of this folder, split by topic; a behaviour difference is a bug in one backend. Real time is
 * needed for server-side TTLs, so durations are short (1 s leases) and assertions are about order.
 */
import { afterAll, beforeAll, describe, expect, type TestContext } from 'vitest';
import type { JobRecord, JobResult, ScheduleRecord } from '../../../src/records.js';
import type { JobDelivery } from '../../../src/store/job-delivery.js';
import type { JobLease } from '../../../src/store/job-store.js';
import type { OpenStoreOptions, StoreBackend } from '../../../src/store/store-backend.js';
import { BackendPool, memoryFixture, natsFixture, type BackendFixture } from '../support/backend-fixtures.js';

/** Lease duration of the suite. */
export const L = 1000;
export const opts: OpenStoreOptions = { leaseDurationMs: L, ackWaitMs: 1000, resultSweepIntervalMs: 0 };
export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

export interface ConformanceContext {
  readonly fixture: BackendFixture;
  /** Opens one backend on a fresh store, closed when the test ends. */
  open(ctx: TestContext, o?: OpenStoreOptions): Promise<StoreBackend>;
  /** Opens two nodes on the same fresh store. */
  openPair(ctx: TestContext, o?: OpenStoreOptions): Promise<readonly [StoreBackend, StoreBackend]>;
  /** A pool bound to the test, for tests that open with their own factory. */
  poolFor(ctx: TestContext): BackendPool;
}

export function conformance(topic: string, body: (c: ConformanceContext) => void): void {
  describe.each([memoryFixture(), natsFixture()])(`store conformance ($name): ${topic}`, (fixture) => {
    beforeAll(() => fixture.setup());
    afterAll(() => fixture.teardown());
    // Per-test pools: tests run concurrently, so each closes only its own backends.
    const poolFor = (ctx: TestContext): BackendPool => {
      const pool = new BackendPool();
      ctx.onTestFinished(() => pool.closeAll());
      return pool;
    };
    body({
      fixture,
      poolFor,
      open: (ctx, o = opts) => poolFor(ctx).open(fixture.factory(), o),
      openPair: async (ctx, o = opts) => {
        const pool = poolFor(ctx);
        const factory = fixture.factory();
        return [await pool.open(factory, o), await pool.open(factory, o)] as const;
      },
    });
  });
}

export const job = (id: string, extra: Partial<JobRecord> = {}): JobRecord => ({
  id,
  task: 'send-mail',
  args: { to: 'a@example.com' },
  createdAt: new Date('2030-01-01T00:00:00Z'),
  attempt: 1,
  resultTtlMs: 60_000,
  ...extra,
});

export const schedule = (id: string, extra: Partial<ScheduleRecord> = {}): ScheduleRecord => ({
  id,
  task: 'report',
  trigger: { kind: 'interval', everyMs: 60_000, start: new Date('2030-01-01T00:00:00Z') } as unknown as ScheduleRecord['trigger'],
  args: null,
  paused: false,
  coalesce: 'latest',
  misfireGraceTimeMs: null,
  maxJitterMs: 0,
  nextFireTime: new Date('2030-01-01T00:01:00Z'),
  lastFireTime: null,
  createdAt: new Date('2030-01-01T00:00:00Z'),
  ...extra,
});

/** The record a done state keeps: the job's record without its args (they travelled in the queue message). */
export const recordKept = (record: JobRecord): JobRecord => {
  const { args: _args, ...kept } = record;
  return kept as JobRecord;
};

export const result = (jobId: string, extra: Partial<JobResult> = {}): JobResult => ({
  jobId,
  outcome: 'success',
  returnValue: 42,
  finishedAt: new Date('2030-01-01T00:00:05Z'),
  attempt: 1,
  nodeId: 'node-a',
  ...extra,
});

/** The next delivery on `store` (waiting up to `expiresMs` for one), which must be `jobId`'s. */
export async function deliveryOf(store: StoreBackend, jobId: string, expiresMs = 3000): Promise<JobDelivery> {
  const [delivery] = await store.jobs.fetch(1, { expiresMs });
  expect(delivery?.jobId).toBe(jobId);
  return delivery!;
}

/** Adds `record` to `store`, fetches it and acquires it for `nodeId`: a job running there. */
export async function running(store: StoreBackend, record: JobRecord, nodeId = 'node-a'): Promise<{ delivery: JobDelivery; lease: JobLease }> {
  expect(await store.jobs.add([record])).toEqual(['queued']);
  const delivery = await deliveryOf(store, record.id);
  const outcome = await store.jobs.acquire(delivery, delivery.job!, nodeId);
  if (outcome.status !== 'acquired') throw new Error(`job ${record.id} not acquired: ${JSON.stringify(outcome)}`);
  return { delivery, lease: outcome.lease };
}
