/**
 * BullMQ on a private redis-server: 1..n worker processes each running one `Worker` (concurrency C),
 * and the producer — a `Queue` in the bench process. Each run gets its own redis-server.
 */
import { Queue } from 'bullmq';
import { withTimeout } from '../support/clock.js';
import { processCpuMicros } from '../support/process-cpu.js';
import { prefill, trickle, type JobSink } from '../support/producer.js';
import { WorkerKind, type PrefillReport, type TrickleReport } from '../support/protocol.js';
import { findRedisServerBinary, RedisServer } from '../support/redis-server.js';
import { WorkerFleet } from '../support/worker-fleet.js';
import { closeAll, SystemId, type BenchSystem, type PerJobFigures, type RunCounters, type RunPlan, type SystemRun } from './bench-system.js';

const QUEUE = 'bench';

export const bullmq: BenchSystem = {
  id: SystemId.Bullmq,
  get unavailable() {
    return findRedisServerBinary() ? null : 'redis-server not found (apt-get install redis-server, or set REDIS_SERVER_BIN)';
  },
  async open(plan: RunPlan): Promise<SystemRun> {
    const bin = findRedisServerBinary();
    if (!bin) throw new Error('redis-server not found');
    const server = await RedisServer.start(bin);
    let queue: Queue | null = null;
    let fleet: WorkerFleet | null = null;
    try {
      queue = new Queue(QUEUE, { connection: { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null } });
      await withTimeout(queue.waitUntilReady(), 30_000, 'BullMQ queue: connect');
      const configs = Array.from({ length: plan.workers }, (_, i) => ({
        kind: WorkerKind.Bullmq,
        index: i + 1,
        concurrency: plan.concurrency,
        redisPort: server.port,
        queue: QUEUE,
      }));
      fleet = await WorkerFleet.spawn(configs, configs.map((c) => `bullmq-worker-${c.index}`));
      return new BullmqRun(server, queue, fleet);
    } catch (error) {
      await closeAll([async () => fleet?.kill(), async () => queue?.close(), () => server.stop()]).catch(() => undefined);
      throw error;
    }
  },
};

class BullmqRun implements SystemRun {
  private readonly sink: JobSink;

  constructor(
    private readonly server: RedisServer,
    private readonly queue: Queue,
    readonly fleet: WorkerFleet,
  ) {
    this.sink = {
      addBatch: async (count) => {
        await queue.addBulk(Array.from({ length: count }, () => ({ name: 'noop', data: {} })));
      },
      addOne: async (args) => {
        await queue.add('noop', args);
      },
    };
  }

  prefill(jobs: number, chunk: number, stallMs: number): Promise<PrefillReport> {
    return prefill(this.sink, jobs, chunk, stallMs);
  }

  trickle(rate: number, seconds: number): Promise<TrickleReport> {
    return trickle(this.sink, rate, seconds);
  }

  async counters(): Promise<RunCounters> {
    return { serverCpuMicros: processCpuMicros(this.server.pid), redis: await this.server.counters() };
  }

  messagesPerJob(c0: RunCounters, c1: RunCounters, c2: RunCounters, jobs: number): PerJobFigures {
    if (!c0.redis || !c1.redis || !c2.redis) return {};
    // A script call is one round trip; the command counts include the commands run inside scripts.
    return {
      'producer script calls': (c1.redis.scriptCalls - c0.redis.scriptCalls) / jobs,
      'producer commands': (c1.redis.commands - c0.redis.commands) / jobs,
      'worker script calls': (c2.redis.scriptCalls - c1.redis.scriptCalls) / jobs,
      'worker commands': (c2.redis.commands - c1.redis.commands) / jobs,
    };
  }

  queueState(): Promise<Record<string, number>> {
    return withTimeout(this.queue.getJobCounts(), 5_000, 'BullMQ job counts');
  }

  async diagnose(): Promise<string> {
    const counts = await withTimeout(this.queue.getJobCounts(), 5_000, 'BullMQ job counts');
    return `job counts ${JSON.stringify(counts)}`;
  }

  async close(): Promise<void> {
    await closeAll([() => this.fleet.stop(), () => withTimeout(this.queue.close(), 10_000, 'BullMQ queue: close'), () => this.server.stop()]);
  }
}
