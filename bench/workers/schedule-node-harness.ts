/**
 * What both kinds of scheduler process share: the config, the IPC answers, the fire records, the
 * status watch (every 10 ms, so a milestone is timed to within that) and the samples of CPU and
 * memory. An entry supplies how to prepare, start and stop its node, and its status.
 */
import { wallNow } from '../support/clock.js';
import { ownCpuMicros } from '../support/process-cpu.js';
import type { FireRecords, FromScheduleNode, NodeProgress, NodeSample, ScheduleNodeConfig, ToScheduleNode } from '../support/schedule-protocol.js';

export interface ScheduleNodeHooks {
  /** Connects and registers the tasks; nothing may fire or run yet. */
  prepare(harness: ScheduleNodeHarness): Promise<void>;
  start(): Promise<void>;
  /** Stops without draining (the run is over). */
  stop(): Promise<void>;
  /** Schedules held and partitions held (jobchart's status; BullMQ has neither). */
  status(): { schedules: number; partitions: number[] };
}

const STATUS_POLL_MS = 10;
const PROGRESS_EVERY_MS = 100;

export class ScheduleNodeHarness {
  private readonly fires: FireRecords = { index: [], fireTime: [], startedAt: [] };
  private readonly fired = new Set<number>();
  private workDone = 0;
  private lastWorkAt: number | null = null;
  private statusKey = '';
  private statusChangedAt: number | null = null;
  private fullAt: number | null = null;
  private partitionsFullAt: number | null = null;
  private allFiredOnceAt: number | null = null;
  private lastStatus = { schedules: 0, partitions: [] as number[] };
  private peakSchedules = 0;
  private peakPartitions = 0;

  constructor(readonly config: ScheduleNodeConfig) {}

  /** A scheduled task started: its schedule's index and its scheduled fire time (ms). */
  fireStarted(index: number, fireTime: number): void {
    const now = wallNow();
    this.fires.index.push(index);
    this.fires.fireTime.push(fireTime);
    this.fires.startedAt.push(now);
    if (index >= 0 && !this.fired.has(index)) {
      this.fired.add(index);
      if (this.allFiredOnceAt === null && this.config.expectSchedules !== undefined && this.fired.size >= this.config.expectSchedules) {
        this.allFiredOnceAt = now;
      }
    }
  }

  /** A backlog job finished. */
  workFinished(): void {
    this.workDone++;
    this.lastWorkAt = wallNow();
  }

  observeStatus(status: { schedules: number; partitions: number[] }): void {
    this.lastStatus = status;
    this.peakSchedules = Math.max(this.peakSchedules, status.schedules);
    this.peakPartitions = Math.max(this.peakPartitions, status.partitions.length);
    const key = `${status.schedules}/${status.partitions.length}`;
    const now = wallNow();
    if (key !== this.statusKey) {
      this.statusKey = key;
      this.statusChangedAt = now;
    }
    const { expectSchedules, expectPartitions } = this.config;
    if (this.partitionsFullAt === null && expectPartitions !== undefined && status.partitions.length >= expectPartitions) this.partitionsFullAt = now;
    if (
      this.fullAt === null &&
      expectSchedules !== undefined &&
      expectPartitions !== undefined &&
      status.schedules >= expectSchedules &&
      status.partitions.length >= expectPartitions
    ) {
      this.fullAt = now;
    }
  }

  progress(): NodeProgress {
    return {
      schedules: this.lastStatus.schedules,
      partitions: this.lastStatus.partitions.length,
      peakSchedules: this.peakSchedules,
      peakPartitions: this.peakPartitions,
      fires: this.fires.index.length,
      distinctFired: this.fired.size,
      workDone: this.workDone,
      statusChangedAt: this.statusChangedAt,
      fullAt: this.fullAt,
      partitionsFullAt: this.partitionsFullAt,
      allFiredOnceAt: this.allFiredOnceAt,
      lastWorkAt: this.lastWorkAt,
    };
  }

  sample(): NodeSample & NodeProgress & { partitionList: number[] } {
    const memory = process.memoryUsage();
    return {
      wallNow: wallNow(),
      cpuMicros: ownCpuMicros(),
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      ...this.progress(),
      partitionList: [...this.lastStatus.partitions],
    };
  }

  fireRecords(): FireRecords {
    return this.fires;
  }
}

function send(msg: FromScheduleNode): void {
  if (process.connected) process.send?.(msg);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Runs a scheduler process: call from the entry module with its hooks. */
export function runScheduleNode(hooks: ScheduleNodeHooks): void {
  const raw = process.argv[2];
  if (!raw || !process.send) {
    console.error('a bench scheduler process runs as a child of `npm run bench:schedules` (IPC and a JSON config argument)');
    process.exit(2);
  }
  const harness = new ScheduleNodeHarness(JSON.parse(raw) as ScheduleNodeConfig);
  // The bench is gone (crashed, killed): so is this process.
  process.on('disconnect', () => process.exit(1));

  const watch = setInterval(() => {
    try {
      harness.observeStatus(hooks.status());
    } catch {
      // The node is stopping.
    }
  }, STATUS_POLL_MS);
  let progress: NodeJS.Timeout | null = null;

  const stop = async (): Promise<void> => {
    clearInterval(watch);
    if (progress) clearInterval(progress);
    const forced = setTimeout(() => process.exit(0), 8_000);
    forced.unref();
    await hooks.stop().catch((error: unknown) => console.error('stop failed:', error));
    process.exit(0);
  };

  process.on('message', (raw: unknown) => {
    const msg = raw as ToScheduleNode;
    void (async () => {
      try {
        switch (msg.type) {
          case 'start': {
            const calledAt = wallNow();
            progress ??= setInterval(() => send({ type: 'progress', wallNow: wallNow(), ...harness.progress() }), PROGRESS_EVERY_MS);
            await hooks.start();
            send({ type: 'started', calledAt, resolvedAt: wallNow() });
            break;
          }
          case 'sample':
            harness.observeStatus(hooks.status());
            send({ type: 'sample', ...harness.sample() });
            break;
          case 'fires':
            send({ type: 'fires', ...harness.fireRecords() });
            break;
          case 'stop':
            await stop();
            break;
        }
      } catch (error) {
        send({ type: 'fatal', message: describe(error) });
      }
    })();
  });

  hooks.prepare(harness).then(
    () => send({ type: 'ready', pid: process.pid, wallNow: wallNow() }),
    (error: unknown) => {
      send({ type: 'fatal', message: `prepare failed: ${describe(error)}` });
      setTimeout(() => process.exit(1), 100);
    },
  );
}
