/**
 * jobchart on the NATS store: a private nats-server (with HTTP monitoring), 1..n worker processes
 * each running one worker node, and the producer — a runtime in the bench process that never starts.
 * Connections are named (`bench-producer`, `bench-worker-<i>`) so `/connz` can tell them apart.
 */
import { dirname } from 'node:path';
import { createRuntime, natsStore, type Runtime } from '../support/jobchart-lib.js';
import { findNatsServerBinary, startNatsServer, type NatsServerHandle } from '../../test/support/nats-server.js';
import { withTimeout } from '../support/clock.js';
import { connectionDelta, describeJetStream, readNatsCounters, streamState } from '../support/nats-monitor.js';
import { ownDir, ownProcess, releaseDir, releaseProcess } from '../support/owned-processes.js';
import { processCpuMicros } from '../support/process-cpu.js';
import { prefill, trickle, type JobSink } from '../support/producer.js';
import { WorkerKind, type PrefillReport, type TrickleReport } from '../support/protocol.js';
import { WorkerFleet } from '../support/worker-fleet.js';
import { closeAll, SystemId, type BenchSystem, type PerJobFigures, type RunCounters, type RunPlan, type SystemRun } from './bench-system.js';

const PREFIX = 'bench';
const PRODUCER = 'bench-producer';
const workerName = (i: number): string => `bench-worker-${i}`;

export const jobchartNats: BenchSystem = {
  id: SystemId.JobchartNats,
  get unavailable() {
    return findNatsServerBinary() ? null : 'nats-server not found (apt-get install nats-server, or set NATS_SERVER_BIN)';
  },
  async open(plan: RunPlan): Promise<SystemRun> {
    const server = await startNatsServer({ monitoring: true });
    const serverPid = server.pid ?? undefined;
    ownProcess(serverPid, 'nats-server');
    ownDir(dirname(server.storeDir));
    let producer: Runtime | null = null;
    let fleet: WorkerFleet | null = null;
    try {
      // The producer opens the store first (creates buckets and stream), then the workers join.
      producer = await withTimeout(
        createRuntime({ store: natsStore({ servers: server.url, prefix: PREFIX, name: PRODUCER }), role: 'worker', nodeId: PRODUCER }),
        30_000,
        'jobchart producer: open the NATS store',
      );
      // The producer knows the task name, so `addJob` needs no lookup of the cluster's tasks (the
      // workers have not started yet when the pre-fill runs, so no node would announce it anyway).
      producer.task('noop', () => null);
      const configs = Array.from({ length: plan.workers }, (_, i) => ({
        kind: WorkerKind.JobchartNats,
        index: i + 1,
        concurrency: plan.concurrency,
        servers: server.url,
        prefix: PREFIX,
      }));
      fleet = await WorkerFleet.spawn(configs, configs.map((c) => `jobchart-worker-${c.index}`));
      return new JobchartNatsRun(server, serverPid, producer, fleet, plan.workers);
    } catch (error) {
      await closeAll([async () => fleet?.kill(), async () => producer?.stop({ drain: false }), () => disposeServer(server, serverPid)]).catch(() => undefined);
      throw error;
    }
  },
};

async function disposeServer(server: NatsServerHandle, pid: number | undefined): Promise<void> {
  await server.dispose();
  releaseProcess(pid);
  releaseDir(dirname(server.storeDir));
}

class JobchartNatsRun implements SystemRun {
  private readonly sink: JobSink;

  constructor(
    private readonly server: NatsServerHandle,
    private readonly serverPid: number | undefined,
    private readonly producer: Runtime,
    readonly fleet: WorkerFleet,
    private readonly workers: number,
  ) {
    this.sink = {
      addBatch: async (count) => {
        await producer.addJobs(Array.from({ length: count }, () => ({ task: 'noop' })));
      },
      addOne: async (args) => {
        await producer.addJob({ task: 'noop', args });
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
    return {
      serverCpuMicros: processCpuMicros(this.serverPid),
      nats: await readNatsCounters(this.server.monitorUrl ?? ''),
    };
  }

  messagesPerJob(c0: RunCounters, c1: RunCounters, c2: RunCounters, jobs: number): PerJobFigures {
    if (!c0.nats || !c1.nats || !c2.nats) return {};
    const per = (n: number): number => n / jobs;
    const producer = connectionDelta(c0.nats, c2.nats, PRODUCER);
    let workersIn = 0;
    let workersOut = 0;
    for (let i = 1; i <= this.workers; i++) {
      const d = connectionDelta(c1.nats, c2.nats, workerName(i));
      workersIn += d.in;
      workersOut += d.out;
    }
    return {
      'server msgs in': per(c2.nats.server.in - c0.nats.server.in),
      'server msgs out': per(c2.nats.server.out - c0.nats.server.out),
      'producer → server': per(producer.in),
      'server → producer': per(producer.out),
      'workers → server': per(workersIn),
      'server → workers': per(workersOut),
    };
  }

  queueState(): Promise<Record<string, number>> {
    return streamState(this.server.monitorUrl ?? '', `${PREFIX}_dispatch`);
  }

  diagnose(): Promise<string> {
    return describeJetStream(this.server.monitorUrl ?? '');
  }

  async close(): Promise<void> {
    await closeAll([
      () => this.fleet.stop(),
      () => withTimeout(this.producer.stop({ drain: false }), 10_000, 'jobchart producer: stop'),
      () => disposeServer(this.server, this.serverPid),
    ]);
  }
}
