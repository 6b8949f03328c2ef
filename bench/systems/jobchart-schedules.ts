/**
 * jobchart on the NATS store for `npm run bench:schedules`: a private nats-server (with HTTP
 * monitoring), the producer — a runtime in the bench process that never starts and only writes
 * schedules and jobs — and the scheduler processes, each one node.
 */
import { dirname } from 'node:path';
import { createRuntime, interval, natsStore, type Runtime } from '../support/jobchart-lib.js';
import { findNatsServerBinary, startNatsServer, type NatsServerHandle } from '../../test/support/nats-server.js';
import { withTimeout } from '../support/clock.js';
import { runConcurrently, type CallsReport } from '../support/concurrent-calls.js';
import { describeJetStream, readNatsCounters } from '../support/nats-monitor.js';
import { ownDir, ownProcess, releaseDir, releaseProcess } from '../support/owned-processes.js';
import { processCpuMicros } from '../support/process-cpu.js';
import { BenchTask, ScheduleNodeKind, scheduleId, scheduleIndex } from '../support/schedule-protocol.js';
import { ScheduleNodeProcess } from '../support/schedule-node-process.js';
import { closeAll } from './bench-system.js';
import { nodeConfig, ScheduleSystemId, type NodeOptions, type PublishedFires, type ScheduleRun, type ScheduleSpec, type ScheduleSystem, type ServerCounters } from './schedule-system.js';

const PREFIX = 'benchsched';

/** jobchart's schedule priority levels: > 0 high, < 0 low. */
const HIGH = 1;
const LOW = -1;

export function jobchartSchedules(leaseDurationMs: number | undefined): ScheduleSystem {
  return {
    id: ScheduleSystemId.Jobchart,
    get unavailable() {
      return findNatsServerBinary() ? null : 'nats-server not found (apt-get install nats-server, or set NATS_SERVER_BIN)';
    },
    async open(): Promise<ScheduleRun> {
      const server = await startNatsServer({ monitoring: true });
      const serverPid = server.pid ?? undefined;
      ownProcess(serverPid, 'nats-server');
      ownDir(dirname(server.storeDir));
      try {
        const producer = await withTimeout(
          createRuntime({
            store: natsStore({ servers: server.url, prefix: PREFIX, name: 'bench-producer' }),
            role: 'worker',
            nodeId: 'bench-producer',
            ...(leaseDurationMs === undefined ? {} : { leaseDuration: leaseDurationMs }),
          }),
          30_000,
          'jobchart producer: open the NATS store',
        );
        return new JobchartScheduleRun(server, serverPid, producer, leaseDurationMs);
      } catch (error) {
        await disposeServer(server, serverPid).catch(() => undefined);
        throw error;
      }
    },
  };
}

async function disposeServer(server: NatsServerHandle, pid: number | undefined): Promise<void> {
  await server.dispose();
  releaseProcess(pid);
  releaseDir(dirname(server.storeDir));
}

class JobchartScheduleRun implements ScheduleRun {
  readonly system = ScheduleSystemId.Jobchart;
  private readonly nodes: ScheduleNodeProcess[] = [];

  constructor(
    private readonly server: NatsServerHandle,
    private readonly serverPid: number | undefined,
    private readonly producer: Runtime,
    private readonly leaseDurationMs: number | undefined,
  ) {}

  addSchedules(count: number, spec: (i: number) => ScheduleSpec, concurrency: number, stallMs: number): Promise<CallsReport> {
    return runConcurrently(
      count,
      concurrency,
      (i) => {
        const s = spec(i);
        return this.producer.addSchedule({
          id: scheduleId(s.index),
          task: BenchTask.Tick,
          trigger: interval(s.everyMs, { start: new Date(s.start) }),
          ...(s.high ? { priority: HIGH } : {}),
        });
      },
      { stallMs, what: 'addSchedule' },
    );
  }

  addBacklog(count: number, chunk: number, stallMs: number): Promise<CallsReport> {
    return runConcurrently(
      Math.ceil(count / chunk),
      1,
      (i) => this.producer.addJobs(Array.from({ length: Math.min(chunk, count - i * chunk) }, () => ({ task: BenchTask.Work, priority: LOW }))),
      { stallMs, what: 'addJobs' },
    );
  }

  async spawnNode(opts: NodeOptions): Promise<ScheduleNodeProcess> {
    const base = { kind: ScheduleNodeKind.Jobchart, servers: this.server.url, prefix: PREFIX };
    const config = nodeConfig(this.leaseDurationMs === undefined ? base : { ...base, leaseDurationMs: this.leaseDurationMs }, opts);
    const node = await ScheduleNodeProcess.spawn(config);
    this.nodes.push(node);
    return node;
  }

  async serverCounters(): Promise<ServerCounters> {
    const nats = this.server.monitorUrl ? await readNatsCounters(this.server.monitorUrl).catch(() => null) : null;
    return { cpuMicros: processCpuMicros(this.serverPid), messages: nats ? nats.server.in + nats.server.out : null };
  }

  async publishedFires(): Promise<PublishedFires> {
    // One listing reads every job key once (no limit to the page), after the nodes have stopped.
    const { jobs } = await withTimeout(this.producer.listJobs({ task: BenchTask.Tick, limit: Number.MAX_SAFE_INTEGER }), 120_000, 'listJobs');
    const out: PublishedFires = { index: [], fireTime: [], publishedAt: [] };
    for (const job of jobs) {
      if (!job.scheduledFireTime || !job.createdAt) continue;
      out.index.push(scheduleIndex(job.scheduleId));
      out.fireTime.push(job.scheduledFireTime.getTime());
      out.publishedAt.push(job.createdAt.getTime());
    }
    return out;
  }

  diagnose(): Promise<string> {
    return describeJetStream(this.server.monitorUrl ?? '');
  }

  async close(): Promise<void> {
    await closeAll([
      () => Promise.all(this.nodes.map((n) => n.stop())),
      () => withTimeout(this.producer.stop({ drain: false }), 10_000, 'jobchart producer: stop'),
      () => disposeServer(this.server, this.serverPid),
    ]);
  }
}
