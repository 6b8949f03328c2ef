/** The bench's side of one worker process (see child-node-process.ts): its jobs started and completed. */
import { ChildNodeProcess, spawnChild } from './child-node-process.js';
import type { FromWorker, ToWorker, WorkerConfig, WorkerProgress } from './protocol.js';

const workerEntries: Record<WorkerConfig['kind'], string> = {
  'jobchart-nats': 'bench/workers/jobchart-nats-worker.ts',
  'jobchart-memory': 'bench/workers/jobchart-memory-node.ts',
  bullmq: 'bench/workers/bullmq-worker.ts',
};

export class WorkerProcess extends ChildNodeProcess<ToWorker, FromWorker> {
  progress: WorkerProgress = { started: 0, completed: 0 };

  /** Spawns the worker for `config` and waits (up to `readyTimeoutMs`) until it is connected and idle. */
  static async spawn(config: WorkerConfig, label: string, readyTimeoutMs = 60_000): Promise<WorkerProcess> {
    const worker = new WorkerProcess(label, spawnChild(workerEntries[config.kind], config, label));
    await worker.untilReady(readyTimeoutMs);
    return worker;
  }

  protected received(msg: FromWorker): void {
    if (msg.type === 'progress') this.progress = { started: msg.started, completed: msg.completed };
  }

  /** Silence is measured from `go` (the worker sends progress every 50 ms from a timer once started). */
  override send(msg: ToWorker): void {
    if (msg.type === 'go') {
      this.lastProgressAt = Date.now();
      this.longestSilenceMs = 0;
    }
    super.send(msg);
  }

  override stop(graceMs = 5_000): Promise<void> {
    return super.stop(graceMs);
  }
}
