/**
 * The IPC messages between `npm run bench:schedules` and its scheduler processes: one jobchart node
 * (role both or scheduler) or one BullMQ Worker per process, so that each process's RSS and CPU are
 * its own. The process records every scheduled task start (which schedule, which fire time, when it
 * started) and watches its own status; the bench asks for samples and for the fire records.
 */

export const ScheduleNodeKind = {
  Jobchart: 'jobchart',
  Bullmq: 'bullmq',
} as const;
export type ScheduleNodeKind = (typeof ScheduleNodeKind)[keyof typeof ScheduleNodeKind];

/** The task names (BullMQ: job names) the bench uses. */
export const BenchTask = {
  /** A schedule's no-op task: records its start. */
  Tick: 'tick',
  /** The backlog's task of the priority scenario: sleeps `workMs`. */
  Work: 'work',
} as const;

/** Schedule ids are `s<index>`, so a process can record a fire as two numbers. */
export const scheduleId = (index: number): string => `s${index}`;
export function scheduleIndex(id: string | undefined): number {
  if (id === undefined || !id.startsWith('s')) return -1;
  const n = Number(id.slice(1));
  return Number.isInteger(n) && n >= 0 ? n : -1;
}

/** What a scheduler process is told on its command line (one JSON argument). */
export interface ScheduleNodeConfig {
  kind: ScheduleNodeKind;
  label: string;
  /** jobchart: 'both' (fires and runs the jobs) or 'scheduler' (fires only). */
  role?: 'both' | 'scheduler' | 'worker';
  /** Jobs run at once (jobchart maxConcurrentJobs, BullMQ Worker concurrency). */
  concurrency: number;
  /** jobchart: lease duration (ms) of its partitions. */
  leaseDurationMs?: number;
  /** jobchart over NATS. */
  servers?: string;
  prefix?: string;
  /** BullMQ. */
  redisPort?: number;
  queue?: string;
  /** Duration of one backlog job (priority scenario). */
  workMs?: number;
  /**
   * When set, `allFiredOnceAt` is the time the distinct schedules fired reached this count, and
   * `fullAt` the time the node first held this many schedules and `expectPartitions` partitions.
   */
  expectSchedules?: number;
  expectPartitions?: number;
}

export type ToScheduleNode =
  /** Start the node (jobchart `rt.start()`, BullMQ `worker.run()`); answered by `started`. */
  | { type: 'start' }
  /** Answered by `sample`. */
  | { type: 'sample' }
  /** Answered by `fires` (every scheduled start recorded so far). */
  | { type: 'fires' }
  /** Stop gracefully and exit. */
  | { type: 'stop' };

export interface NodeSample {
  /** Wall ms (performance.timeOrigin + now()), comparable across processes on one machine. */
  wallNow: number;
  /** user + system CPU µs of the process since it started. */
  cpuMicros: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Peak RSS of the process so far (process.resourceUsage().maxRSS). */
  maxRssBytes: number;
}

export interface NodeProgress {
  /** jobchart: status.schedules and status.partitions.length (BullMQ: 0). */
  schedules: number;
  partitions: number;
  /** Scheduled task starts recorded; distinct schedules among them. */
  fires: number;
  distinctFired: number;
  /** Backlog jobs finished (priority scenario). */
  workDone: number;
  /** The most schedules and partitions held at once so far. */
  peakSchedules: number;
  peakPartitions: number;
  /** Wall time the (schedules, partitions) pair last changed; null before any change. */
  statusChangedAt: number | null;
  /** Wall time schedules = expectSchedules and partitions = expectPartitions were first both seen. */
  fullAt: number | null;
  /** Wall time partitions = expectPartitions was first seen (all held, their schedules maybe still loading). */
  partitionsFullAt: number | null;
  /** Wall time the distinct schedules fired reached expectSchedules. */
  allFiredOnceAt: number | null;
  /** Wall time the last backlog job finished. */
  lastWorkAt: number | null;
}

/** Every scheduled task start: parallel arrays (schedule index, scheduled fire time, start wall time). */
export interface FireRecords {
  index: number[];
  fireTime: number[];
  startedAt: number[];
}

export type FromScheduleNode =
  | { type: 'ready'; pid: number; wallNow: number }
  | { type: 'started'; calledAt: number; resolvedAt: number }
  | ({ type: 'progress'; wallNow: number } & NodeProgress)
  | ({ type: 'sample' } & NodeSample & NodeProgress & { partitionList: number[] })
  | ({ type: 'fires' } & FireRecords)
  | { type: 'fatal'; message: string };
