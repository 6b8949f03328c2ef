/**
 * BullMQ 6 job schedulers for `npm run bench:schedules`: a private redis-server, a `Queue` in the
 * bench process that upserts the schedulers (`every`, `startDate`) and the backlog, and the Worker
 * processes — a BullMQ Worker is also what turns a scheduler's delayed job into the next one.
 */
import { Queue } from 'bullmq';
import { withTimeout } from '../support/clock.js';
import { runConcurrently, type CallsReport } from '../support/concurrent-calls.js';
import { processCpuMicros } from '../support/process-cpu.js';
import { findRedisServerBinary, RedisServer } from '../support/redis-server.js';
import { BenchTask, ScheduleNodeKind, scheduleId } from '../support/schedule-protocol.js';
import { ScheduleNodeProcess } from '../support/schedule-node-process.js';
import { closeAll } from './bench-system.js';
import { nodeConfig, ScheduleSystemId, type NodeOptions, type ScheduleRun, type ScheduleSpec, type ScheduleSystem, type ServerCounters } from './schedule-system.js';

const QUEUE = 'benchsched';
/** BullMQ: 1 is the highest priority, larger is lower (a job without one goes before all). */
const HIGH = 1;
const LOW = 10;

export const bullmqSchedules: ScheduleSystem = {
  id: ScheduleSystemId.Bullmq,
  get unavailable() {
    return findRedisServerBinary() ? null : 'redis-server not found (apt-get install redis-server, or set REDIS_SERVER_BIN)';
  },
  async open(): Promise<ScheduleRun> {
    const bin = findRedisServerBinary();
    if (!bin) throw new Error('redis-server not found');
    const server = await RedisServer.start(bin);
    let queue: Queue | null = null;
    try {
      queue = new Queue(QUEUE, { connection: { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null } });
      await withTimeout(queue.waitUntilReady(), 30_000, 'BullMQ queue: connect');
      return new BullmqScheduleRun(server, queue);
    } catch (error) {
      await closeAll([async () => queue?.close(), () => server.stop()]).catch(() => undefined);
      throw error;
    }
  },
};

class BullmqScheduleRun implements ScheduleRun {
  readonly system = ScheduleSystemId.Bullmq;
  private readonly nodes: ScheduleNodeProcess[] = [];

  constructor(
    private readonly server: RedisServer,
    private readonly queue: Queue,
  ) {}

  addSchedules(count: number, spec: (i: number) => ScheduleSpec, concurrency: number, stallMs: number): Promise<CallsReport> {
    return runConcurrently(
      count,
      concurrency,
      (i) => {
        const s = spec(i);
        return this.queue.upsertJobScheduler(
          scheduleId(s.index),
          { every: s.everyMs, startDate: s.start },
          { name: BenchTask.Tick, data: {}, ...(s.high ? { opts: { priority: HIGH } } : {}) },
        );
      },
      { stallMs, what: 'upsertJobScheduler' },
    );
  }

  addBacklog(count: number, chunk: number, stallMs: number): Promise<CallsReport> {
    return runConcurrently(
      Math.ceil(count / chunk),
      1,
      (i) => this.queue.addBulk(Array.from({ length: Math.min(chunk, count - i * chunk) }, () => ({ name: BenchTask.Work, data: {}, opts: { priority: LOW } }))),
      { stallMs, what: 'addBulk' },
    );
  }

  async spawnNode(opts: NodeOptions): Promise<ScheduleNodeProcess> {
    const node = await ScheduleNodeProcess.spawn(nodeConfig({ kind: ScheduleNodeKind.Bullmq, redisPort: this.server.port, queue: QUEUE }, opts));
    this.nodes.push(node);
    return node;
  }

  async serverCounters(): Promise<ServerCounters> {
    const redis = await this.server.counters().catch(() => null);
    return { cpuMicros: processCpuMicros(this.server.pid), messages: redis ? redis.commands : null };
  }

  async publishedFires(): Promise<null> {
    return null;
  }

  async diagnose(): Promise<string> {
    const counts = await withTimeout(this.queue.getJobCounts(), 5_000, 'BullMQ job counts');
    const schedulers = await withTimeout(this.queue.getJobSchedulersCount(), 5_000, 'BullMQ scheduler count');
    return `job counts ${JSON.stringify(counts)}, ${schedulers} job schedulers`;
  }

  async close(): Promise<void> {
    await closeAll([
      () => Promise.all(this.nodes.map((n) => n.stop())),
      () => withTimeout(this.queue.close(), 10_000, 'BullMQ queue: close'),
      () => this.server.stop(),
    ]);
  }
}
