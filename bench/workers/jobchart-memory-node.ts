/**
 * jobchart on the memory store: a producer runtime and a worker runtime sharing one `memoryStore()`
 * in one process (a memory store cannot span processes). The bench drives the producer over IPC
 * (`prefill`, `trickle`), so this process's CPU while the worker runs is the worker's alone.
 */
import { createRuntime, memoryStore, type Runtime } from '../support/jobchart-lib.js';
import { prefill, trickle, type JobSink } from '../support/producer.js';
import type { BenchJobArgs } from '../support/protocol.js';
import { runningJobs } from './running-jobs.js';
import { runWorker } from './worker-harness.js';

let producer: Runtime | null = null;
let worker: Runtime | null = null;
let started = (): number => 0;

runWorker({
  async prepare(harness) {
    const store = memoryStore();
    // The producer knows the task name, so `addJob` needs no lookup of the cluster's tasks.
    producer = await createRuntime({ store, role: 'worker', nodeId: 'bench-producer' });
    producer.task('noop', () => null);
    worker = await createRuntime({ store, role: 'worker', maxConcurrentJobs: harness.config.concurrency, nodeId: 'bench-worker-1' });
    worker.task('noop', (args: BenchJobArgs | null) => {
      harness.taskStarted(args);
      return null;
    });
    started = () => harness.started;
  },
  async start() {
    await worker?.start();
  },
  async stop() {
    await worker?.stop({ drain: false });
    await producer?.stop();
  },
  completedJobs() {
    return worker ? Math.max(0, started() - runningJobs(worker)) : 0;
  },
  async handle(msg) {
    if (!producer) throw new Error('producer not ready');
    const rt = producer;
    const sink: JobSink = {
      addBatch: async (count) => {
        await rt.addJobs(Array.from({ length: count }, () => ({ task: 'noop' })));
      },
      addOne: async (args) => {
        await rt.addJob({ task: 'noop', args });
      },
    };
    if (msg.type === 'prefill') return { type: 'prefilled', ...(await prefill(sink, msg.jobs, msg.chunk, msg.stallMs)) };
    if (msg.type === 'trickle') return { type: 'trickled', ...(await trickle(sink, msg.rate, msg.seconds)) };
    return null;
  },
});
