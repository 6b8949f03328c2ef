/**
 * One jobchart worker node on the NATS store, in its own process (the bench starts one or two).
 * Finished jobs are counted as task starts minus the jobs the node still holds (`rt.status.running`):
 * a job leaves that set when its result is committed and its slot released.
 */
import { createRuntime, natsStore, type Runtime } from '../support/jobchart-lib.js';
import type { BenchJobArgs } from '../support/protocol.js';
import { runningJobs } from './running-jobs.js';
import { runWorker } from './worker-harness.js';

let rt: Runtime | null = null;
let started = (): number => 0;

runWorker({
  async prepare(harness) {
    const { servers, prefix, index, concurrency } = harness.config;
    if (!servers || !prefix) throw new Error('jobchart-nats worker needs servers and prefix');
    rt = await createRuntime({
      store: natsStore({ servers, prefix, name: `bench-worker-${index}` }),
      role: 'worker',
      maxConcurrentJobs: concurrency,
      nodeId: `bench-worker-${index}-${process.pid}`,
    });
    rt.task('noop', (args: BenchJobArgs | null) => {
      harness.taskStarted(args);
      return null;
    });
    started = () => harness.started;
  },
  async start() {
    await rt?.start();
  },
  async stop() {
    await rt?.stop({ drain: false });
  },
  completedJobs() {
    return rt ? Math.max(0, started() - runningJobs(rt)) : 0;
  },
});
