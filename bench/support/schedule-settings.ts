/**
 * Knobs of `npm run bench:schedules`, all from the environment
 * (`BENCH_PAIRS=1 BENCH_FIRE_SECONDS=5 BENCH_BIG=20000 npm run bench:schedules`).
 */
import { intEnv, wordsEnv } from './settings.js';

export const SCHEDULE_SCENARIOS = ['fires', 'startup', 'big', 'priority'] as const;
export type ScheduleScenarioName = (typeof SCHEDULE_SCENARIOS)[number];

/**
 * jobchart's schedule partitions (SCHEDULE_PARTITIONS in src/store/store-keys.ts, not public API):
 * a node alone should hold all of them.
 */
export const SCHEDULE_PARTITIONS = 64;

export interface ScheduleBenchSettings {
  /** Interleaved jobchart/BullMQ pairs (BENCH_PAIRS, default 3). */
  pairs: number;
  /** Which scenarios run (BENCH_SCHEDULE_SCENARIOS, default fires,startup,big,priority). */
  scenarios: ScheduleScenarioName[];
  /** 1. Schedules firing every second (BENCH_SCHEDULES, default 1,000). */
  fireSchedules: number;
  /** 1. Fire times counted: start, start + 1 s, … (BENCH_FIRE_SECONDS, default 15). */
  fireSeconds: number;
  /** 1. jobchart as two processes, a scheduler and a worker, instead of one of role both (BENCH_SPLIT=1; default 0). */
  split: boolean;
  /** 1, 2. Jobs the one node (jobchart role both / BullMQ Worker) runs at once (BENCH_SCHEDULE_CONCURRENCY, default 100). */
  concurrency: number;
  /** 2. Schedules on one node (BENCH_STARTUP_SCHEDULES, default 10,000). */
  startupSchedules: number;
  /** 2. Their first fire times are spread evenly over this many seconds from start() (BENCH_STARTUP_SPREAD_SECONDS, default 5). */
  startupSpreadSeconds: number;
  /** 2. Their interval (BENCH_STARTUP_INTERVAL_SECONDS, default 60: each fires once during the measurement). */
  startupIntervalSeconds: number;
  /** 2, 3. Idle CPU is measured over this long once everything is loaded (BENCH_IDLE_SECONDS, default 10). */
  idleSeconds: number;
  /** 3. Hourly schedules over the scheduler processes; 0 skips the scenario (BENCH_BIG, default 100,000). */
  bigSchedules: number;
  /** 3. Scheduler processes (BENCH_BIG_NODES, default 2). */
  bigNodes: number;
  /** 3. The split must hold still this long to count as settled (BENCH_SETTLE_SECONDS, default 3). */
  settleSeconds: number;
  /** 2, 3. addSchedule / upsertJobScheduler calls in flight while creating (BENCH_ADD_CONCURRENCY, default 200). */
  addConcurrency: number;
  /** 4. Low-priority backlog jobs (BENCH_PRIORITY_JOBS, default 10,000). */
  priorityJobs: number;
  /** 4. Duration of one backlog job, ms (BENCH_PRIORITY_WORK_MS, default 20). */
  priorityWorkMs: number;
  /** 4. Worker concurrency (BENCH_PRIORITY_CONCURRENCY, default 50). */
  priorityConcurrency: number;
  /** 4. High-priority 1 s schedules (BENCH_PRIORITY_SCHEDULES, default 1). */
  prioritySchedules: number;
  /** jobchart lease duration, ms (BENCH_LEASE_MS; default: jobchart's, 30 s). */
  leaseDurationMs: number | undefined;
  /** No progress for this long ends a wait as stalled (BENCH_STALL_SECONDS, default 30). */
  stallMs: number;
  /** Hard cap on one run's waits (BENCH_RUN_TIMEOUT_SECONDS, default 300). */
  runTimeoutMs: number;
}

export function readScheduleSettings(): ScheduleBenchSettings {
  const lease = process.env['BENCH_LEASE_MS'];
  return {
    pairs: intEnv('BENCH_PAIRS', 3),
    scenarios: wordsEnv('BENCH_SCHEDULE_SCENARIOS', SCHEDULE_SCENARIOS, SCHEDULE_SCENARIOS) as ScheduleScenarioName[],
    fireSchedules: intEnv('BENCH_SCHEDULES', 1_000),
    fireSeconds: intEnv('BENCH_FIRE_SECONDS', 15),
    split: intEnv('BENCH_SPLIT', 0, 0) !== 0,
    concurrency: intEnv('BENCH_SCHEDULE_CONCURRENCY', 100),
    startupSchedules: intEnv('BENCH_STARTUP_SCHEDULES', 10_000),
    startupSpreadSeconds: intEnv('BENCH_STARTUP_SPREAD_SECONDS', 5),
    startupIntervalSeconds: intEnv('BENCH_STARTUP_INTERVAL_SECONDS', 60),
    idleSeconds: intEnv('BENCH_IDLE_SECONDS', 10),
    bigSchedules: intEnv('BENCH_BIG', 100_000, 0),
    bigNodes: intEnv('BENCH_BIG_NODES', 2),
    settleSeconds: intEnv('BENCH_SETTLE_SECONDS', 3),
    addConcurrency: intEnv('BENCH_ADD_CONCURRENCY', 200),
    priorityJobs: intEnv('BENCH_PRIORITY_JOBS', 10_000),
    priorityWorkMs: intEnv('BENCH_PRIORITY_WORK_MS', 20, 0),
    priorityConcurrency: intEnv('BENCH_PRIORITY_CONCURRENCY', 50),
    prioritySchedules: intEnv('BENCH_PRIORITY_SCHEDULES', 1),
    leaseDurationMs: lease === undefined || lease === '' ? undefined : intEnv('BENCH_LEASE_MS', 30_000, 300),
    stallMs: intEnv('BENCH_STALL_SECONDS', 30) * 1000,
    runTimeoutMs: intEnv('BENCH_RUN_TIMEOUT_SECONDS', 300) * 1000,
  };
}
