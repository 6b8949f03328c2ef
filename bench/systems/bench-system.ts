/**
 * A system under test, opened once per run: its servers, its worker processes (connected, not yet
 * consuming) and its producer. Every run gets fresh servers, so no run inherits another's state.
 */
import type { NatsCounters } from '../support/nats-monitor.js';
import type { PrefillReport, TrickleReport } from '../support/protocol.js';
import type { RedisCounters } from '../support/redis-server.js';
import type { WorkerFleet } from '../support/worker-fleet.js';

export const SystemId = {
  JobchartNats: 'jobchart-nats',
  JobchartMemory: 'jobchart-memory',
  Bullmq: 'bullmq',
} as const;
export type SystemId = (typeof SystemId)[keyof typeof SystemId];

export interface RunPlan {
  /** Worker processes (the memory store always has one, in the producer's process). */
  workers: number;
  /** Jobs each worker runs at once. */
  concurrency: number;
}

export interface RunCounters {
  /** CPU µs the server process (nats-server, redis-server) has used; null without a server. */
  serverCpuMicros: number | null;
  nats?: NatsCounters;
  redis?: RedisCounters;
}

/** Per-job figures at the server between three snapshots: before the pre-fill, after it, after the run. */
export type PerJobFigures = Record<string, number | null>;

export interface SystemRun {
  readonly fleet: WorkerFleet;
  /** Adds `jobs` no-op jobs, `chunk` per call; the report's CPU is the producer's. */
  prefill(jobs: number, chunk: number, stallMs: number): Promise<PrefillReport>;
  /** Adds single stamped jobs at `rate` per second for `seconds`. */
  trickle(rate: number, seconds: number): Promise<TrickleReport>;
  counters(): Promise<RunCounters>;
  messagesPerJob(beforePrefill: RunCounters, afterPrefill: RunCounters, afterRun: RunCounters, jobs: number): PerJobFigures;
  /** A one-line account of the queue's state, for a run that stalled. */
  diagnose(): Promise<string>;
  /** Counts that show trouble after a run (NATS: redelivered dispatch messages; BullMQ: job counts). */
  queueState(): Promise<Record<string, number>>;
  /** Stops workers, producer and servers (by pid), whatever state they are in. */
  close(): Promise<void>;
}

export interface BenchSystem {
  readonly id: SystemId;
  /** Null when the system can run here; otherwise why not (e.g. "redis-server not found"). */
  readonly unavailable: string | null;
  open(plan: RunPlan): Promise<SystemRun>;
}

/** Runs every cleanup step even when one throws, and reports the first failure after all ran. */
export async function closeAll(steps: readonly (() => Promise<unknown>)[]): Promise<void> {
  let first: unknown = null;
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      first ??= error;
    }
  }
  if (first !== null) throw first;
}
