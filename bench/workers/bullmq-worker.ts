/** One BullMQ Worker (concurrency C) on the bench's redis-server, in its own process. */
import { Worker } from 'bullmq';
import type { BenchJobArgs } from '../support/protocol.js';
import { runWorker } from './worker-harness.js';

let worker: Worker | null = null;
let running: Promise<void> | null = null;
let completed = 0;

runWorker({
  async prepare(harness) {
    const { redisPort, queue, concurrency } = harness.config;
    if (!redisPort || !queue) throw new Error('bullmq worker needs redisPort and queue');
    worker = new Worker(
      queue,
      async (job) => {
        harness.taskStarted(job.data as BenchJobArgs);
        return null;
      },
      { connection: { host: '127.0.0.1', port: redisPort, maxRetriesPerRequest: null }, concurrency, autorun: false },
    );
    worker.on('completed', () => void completed++);
    worker.on('failed', () => void harness.failed++);
    worker.on('error', (error) => console.error('[bullmq worker]', error.message));
    await worker.waitUntilReady();
  },
  async start() {
    running = worker?.run().catch((error: unknown) => console.error('[bullmq worker] run failed:', error)) ?? null;
  },
  async stop() {
    await worker?.close(true);
    await running;
  },
  completedJobs() {
    return completed;
  },
});
