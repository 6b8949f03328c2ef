/**
 * jobchart on the memory store: producer and worker runtimes share one `memoryStore()` in one child
 * process (see bench/workers/jobchart-memory-node.ts); the bench drives its producer over IPC. There
 * is no server, so no message counts.
 */
import { WorkerKind, type PrefillReport, type TrickleReport } from '../support/protocol.js';
import { WorkerFleet } from '../support/worker-fleet.js';
import type { WorkerProcess } from '../support/worker-process.js';
import { SystemId, type BenchSystem, type PerJobFigures, type RunCounters, type RunPlan, type SystemRun } from './bench-system.js';

export const jobchartMemory: BenchSystem = {
  id: SystemId.JobchartMemory,
  unavailable: null,
  async open(plan: RunPlan): Promise<SystemRun> {
    const fleet = await WorkerFleet.spawn([{ kind: WorkerKind.JobchartMemory, index: 1, concurrency: plan.concurrency }], ['jobchart-memory']);
    return new JobchartMemoryRun(fleet);
  },
};

class JobchartMemoryRun implements SystemRun {
  constructor(readonly fleet: WorkerFleet) {}

  private get node(): WorkerProcess {
    const node = this.fleet.workers[0];
    if (!node) throw new Error('jobchart-memory: no process');
    return node;
  }

  async prefill(jobs: number, chunk: number, stallMs: number): Promise<PrefillReport> {
    // The process answers when done or when one add hung for stallMs; the extra minute is for IPC.
    const { type: _, ...report } = await this.node.request({ type: 'prefill', jobs, chunk, stallMs }, 'prefilled', stallMs * Math.ceil(jobs / chunk) + 60_000);
    return report;
  }

  async trickle(rate: number, seconds: number): Promise<TrickleReport> {
    const { type: _, ...report } = await this.node.request({ type: 'trickle', rate, seconds }, 'trickled', seconds * 1000 + 60_000);
    return report;
  }

  async counters(): Promise<RunCounters> {
    return { serverCpuMicros: null };
  }

  messagesPerJob(): PerJobFigures {
    return {};
  }

  async queueState(): Promise<Record<string, number>> {
    return {};
  }

  async diagnose(): Promise<string> {
    return `worker process ${this.node.alive ? 'alive' : `exited (${this.node.describeExit()})`}`;
  }

  async close(): Promise<void> {
    await this.fleet.stop();
  }
}
