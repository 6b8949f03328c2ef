/**
 * One BullMQ Worker in its own process: it promotes the job schedulers' delayed jobs and runs them
 * (BullMQ has no separate scheduler). A scheduler's job id is `repeat:<schedulerId>:<fire ms>`, so
 * its scheduled fire time is read from the id (the job's timestamp + delay as a fallback); `work`
 * (the priority scenario's backlog) sleeps.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker, type Job } from 'bullmq';
import { BenchTask, scheduleIndex } from '../support/schedule-protocol.js';
import { runScheduleNode } from './schedule-node-harness.js';

let worker: Worker | null = null;
let running: Promise<void> | null = null;

function scheduledFireTime(job: Job): number {
  const fromId = Number(job.id?.slice(job.id.lastIndexOf(':') + 1));
  if (Number.isFinite(fromId) && fromId > 0) return fromId;
  return job.timestamp + (job.opts.delay ?? 0);
}

runScheduleNode({
  async prepare(harness) {
    const { redisPort, queue, concurrency, workMs } = harness.config;
    if (!redisPort || !queue) throw new Error('a BullMQ scheduler process needs redisPort and queue');
    worker = new Worker(
      queue,
      async (job) => {
        if (job.name === BenchTask.Work) {
          await sleep(workMs ?? 20);
          harness.workFinished();
          return null;
        }
        harness.fireStarted(scheduleIndex(job.repeatJobKey), scheduledFireTime(job));
        return null;
      },
      { connection: { host: '127.0.0.1', port: redisPort, maxRetriesPerRequest: null }, concurrency, autorun: false },
    );
    worker.on('error', (error) => console.error('[bullmq worker]', error.message));
    await worker.waitUntilReady();
  },
  async start() {
    running = worker?.run().catch((error: unknown) => console.error('[bullmq worker] run failed:', error)) ?? null;
  },
  async stop() {
    // Not forced: a forced close cuts the connection under the jobs still running, and each then
    // logs "Failed to add repeatable job for next iteration". The harness exits after 8 s regardless.
    await worker?.close();
    await running;
  },
  status() {
    return { schedules: 0, partitions: [] };
  },
});
