/**
 * A system under test for `npm run bench:schedules`, opened once per run on a fresh server: it adds
 * schedules (jobchart `addSchedule`, BullMQ `upsertJobScheduler`) and backlog jobs from the bench
 * process, and spawns the scheduler processes (stopped with the run).
 */
import type { CallsReport } from '../support/concurrent-calls.js';
import type { ScheduleNodeConfig } from '../support/schedule-protocol.js';
import type { ScheduleNodeProcess } from '../support/schedule-node-process.js';

export const ScheduleSystemId = {
  Jobchart: 'jobchart-nats',
  Bullmq: 'bullmq',
} as const;
export type ScheduleSystemId = (typeof ScheduleSystemId)[keyof typeof ScheduleSystemId];

/** One schedule to add: `s<index>`, firing every `everyMs` from `start` (wall ms). */
export interface ScheduleSpec {
  index: number;
  everyMs: number;
  start: number;
  /** High-priority jobs (jobchart priority 1; BullMQ priority 1, above the backlog's 10). */
  high?: boolean;
}

export interface NodeOptions {
  label: string;
  /** jobchart only: 'both' (default), 'scheduler' or 'worker'. */
  role?: 'both' | 'scheduler' | 'worker';
  concurrency: number;
  expectSchedules?: number;
  /** jobchart only: partitions the node should hold when it has everything. */
  expectPartitions?: number;
  workMs?: number;
}

/** Server-side counters for per-fire figures: NATS messages in + out, or Redis commands. */
export interface ServerCounters {
  cpuMicros: number | null;
  /** NATS: messages in + out at the server (/varz); Redis: commands processed (INFO). */
  messages: number | null;
}

/** Parallel arrays: schedule index, scheduled fire time, publish wall time. */
export interface PublishedFires {
  index: number[];
  fireTime: number[];
  publishedAt: number[];
}

export interface ScheduleRun {
  readonly system: ScheduleSystemId;
  /** Adds `count` schedules, `concurrency` calls in flight. */
  addSchedules(count: number, spec: (i: number) => ScheduleSpec, concurrency: number, stallMs: number): Promise<CallsReport>;
  /** Queues `count` low-priority `work` jobs, `chunk` per call. */
  addBacklog(count: number, chunk: number, stallMs: number): Promise<CallsReport>;
  spawnNode(opts: NodeOptions): Promise<ScheduleNodeProcess>;
  serverCounters(): Promise<ServerCounters>;
  /**
   * When each fire's job was published (jobchart: the job record's createdAt, written by the firing
   * node, read with `listJobs` after the run; BullMQ: null, as a scheduler's next job is created
   * when the previous one starts, not at its fire time).
   */
  publishedFires(): Promise<PublishedFires | null>;
  /** What the server holds, for a stalled run's report. */
  diagnose(): Promise<string>;
  /** Stops the nodes it spawned, the producer and the server (by pid), whatever their state. */
  close(): Promise<void>;
}

export interface ScheduleSystem {
  readonly id: ScheduleSystemId;
  readonly unavailable: string | null;
  open(): Promise<ScheduleRun>;
}

/** The config of a scheduler process, from the run's connection details and the node's options. */
export function nodeConfig(base: Pick<ScheduleNodeConfig, 'kind'> & Partial<ScheduleNodeConfig>, opts: NodeOptions): ScheduleNodeConfig {
  const config: ScheduleNodeConfig = { ...base, label: opts.label, concurrency: opts.concurrency };
  if (opts.role !== undefined) config.role = opts.role;
  if (opts.expectSchedules !== undefined) config.expectSchedules = opts.expectSchedules;
  if (opts.expectPartitions !== undefined) config.expectPartitions = opts.expectPartitions;
  if (opts.workMs !== undefined) config.workMs = opts.workMs;
  return config;
}
