/**
 * One jobchart node on the NATS store, in its own process: role `both` (fires its schedules and runs
 * their no-op jobs), `scheduler` (fires only) or `worker` (runs the jobs only). The `tick` task records its schedule's index and
 * scheduled fire time at its first line; `work` (the priority scenario's backlog) sleeps.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createRuntime, natsStore, type Runtime } from '../support/jobchart-lib.js';
import { BenchTask, scheduleIndex } from '../support/schedule-protocol.js';
import { runScheduleNode } from './schedule-node-harness.js';

let rt: Runtime | null = null;

runScheduleNode({
  async prepare(harness) {
    const { servers, prefix, label, role, concurrency, leaseDurationMs, workMs } = harness.config;
    if (!servers || !prefix) throw new Error('a jobchart scheduler process needs servers and prefix');
    rt = await createRuntime({
      store: natsStore({ servers, prefix, name: label }),
      role: role ?? 'both',
      nodeId: `${label}-${process.pid}`,
      maxConcurrentJobs: concurrency,
      ...(leaseDurationMs === undefined ? {} : { leaseDuration: leaseDurationMs }),
    });
    rt.task(BenchTask.Tick, (_args, ctx) => {
      harness.fireStarted(scheduleIndex(ctx.scheduleId), ctx.scheduledFireTime?.getTime() ?? Number.NaN);
      return null;
    });
    rt.task(BenchTask.Work, async () => {
      await sleep(workMs ?? 20);
      harness.workFinished();
      return null;
    });
  },
  async start() {
    await rt?.start();
  },
  async stop() {
    await rt?.stop({ drain: false });
  },
  status() {
    const status = rt?.status;
    return { schedules: status?.schedules ?? 0, partitions: status?.partitions ?? [] };
  },
});
