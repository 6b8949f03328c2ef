/**
 * Scenario 4 of `npm run bench:schedules`: scheduled work behind a backlog. One node (jobchart role
 * both / one BullMQ Worker) with concurrency 50 runs a high-priority schedule every second (jobchart
 * priority 1; BullMQ priority 1); once it has fired once, 10,000 low-priority jobs (jobchart priority
 * −1; BullMQ priority 10) of ~20 ms each are queued. Measured: fire→start lateness of the schedule's
 * fires whose fire time falls after the backlog was queued and before the backlog's last job finished.
 */
import { percentile } from '../support/stats.js';
import { sleep } from '../support/clock.js';
import { waitUntil } from '../support/node-watch.js';
import { describeError } from '../support/producer.js';
import type { ScheduleBenchSettings } from '../support/schedule-settings.js';
import type { ScheduleNodeProcess } from '../support/schedule-node-process.js';
import type { ScheduleRun, ScheduleSystem } from '../systems/schedule-system.js';
import { diagnoseInto, fail, noteNodes, outcomeOf, wholeSecondAtOrAfter, type ScheduleRunOutcome } from './schedule-outcome.js';

export interface PriorityResult extends ScheduleRunOutcome {
  scenario: 'priority';
  jobs: number;
  workMs: number;
  concurrency: number;
  schedules: number;
  /** Queuing the backlog, and the backlog's drain (queued → last job finished), seconds. */
  backlogAddSeconds: number | null;
  backlogSeconds: number | null;
  backlogJobsPerSecond: number | null;
  /** Fires measured (fire time inside the backlog) and their fire→start lateness, ms. */
  samples: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

export async function runPriority(system: ScheduleSystem, pair: number, settings: ScheduleBenchSettings): Promise<PriorityResult> {
  const N = settings.priorityJobs;
  const P = settings.prioritySchedules;
  const result: PriorityResult = {
    ...outcomeOf(system.id, pair),
    scenario: 'priority',
    jobs: N,
    workMs: settings.priorityWorkMs,
    concurrency: settings.priorityConcurrency,
    schedules: P,
    backlogAddSeconds: null,
    backlogSeconds: null,
    backlogJobsPerSecond: null,
    samples: 0,
    p50: null,
    p99: null,
    max: null,
  };
  let run: ScheduleRun | null = null;
  const nodes: ScheduleNodeProcess[] = [];
  try {
    run = await system.open();
    const node = await run.spawnNode({
      label: `${system.id}-node`,
      role: 'both',
      concurrency: settings.priorityConcurrency,
      workMs: settings.priorityWorkMs,
      expectSchedules: P,
    });
    nodes.push(node);
    await node.request({ type: 'start' }, 'started', settings.runTimeoutMs);
    // P schedules every second, spread over the second.
    const start = wholeSecondAtOrAfter(Date.now() + 1_500);
    const added = await run.addSchedules(P, (index) => ({ index, everyMs: 1000, start: start + Math.floor((index * 1000) / P), high: true }), 50, settings.stallMs);
    if (added.failure) throw new Error(added.failure);
    const warm = await waitUntil(nodes, () => node.progress?.allFiredOnceAt != null, {
      what: 'the high-priority schedules fired once (before the backlog)',
      progress: () => `${node.progress?.distinctFired ?? 0} of ${P} fired`,
      stallMs: settings.stallMs,
      timeoutMs: settings.runTimeoutMs,
    });
    if (!warm.ok) throw new Error(warm.failure);

    const backlog = await run.addBacklog(N, 1_000, settings.stallMs);
    result.backlogAddSeconds = backlog.seconds;
    if (backlog.failure) throw new Error(backlog.failure);
    const queuedAt = Date.now();
    const drained = await waitUntil(nodes, () => (node.progress?.workDone ?? 0) >= N, {
      what: `the backlog of ${N} jobs finished`,
      progress: () => `${node.progress?.workDone ?? 0} of ${N} backlog jobs finished, ${node.progress?.fires ?? 0} fires`,
      stallMs: settings.stallMs,
      timeoutMs: settings.runTimeoutMs,
    });
    // Fires due just before the drain may still be starting.
    await sleep(1_500);
    const sample = await node.sample();
    const drainedAt = sample.lastWorkAt;
    if (drainedAt !== null) {
      result.backlogSeconds = (drainedAt - queuedAt) / 1000;
      result.backlogJobsPerSecond = sample.workDone / result.backlogSeconds;
    }
    const fires = await node.fires();
    const lateness: number[] = [];
    const end = drained.ok && drainedAt !== null ? drainedAt : sample.wallNow;
    for (let i = 0; i < fires.index.length; i++) {
      const fireTime = fires.fireTime[i] as number;
      if (fireTime >= queuedAt && fireTime < end) lateness.push((fires.startedAt[i] as number) - fireTime);
    }
    result.samples = lateness.length;
    result.p50 = lateness.length > 0 ? percentile(lateness, 50) : null;
    result.p99 = lateness.length > 0 ? percentile(lateness, 99) : null;
    result.max = lateness.length > 0 ? Math.max(...lateness) : null;
    const expected = Math.floor(((end - queuedAt) / 1000) * P);
    if (lateness.length < expected - P) result.warnings.push(`${lateness.length} fires started of ~${expected} due during the backlog`);
    if (result.samples < 5) result.warnings.push(`only ${result.samples} fires fell inside the backlog (it drained in ${result.backlogSeconds?.toFixed(1) ?? '?'} s)`);
    if (!drained.ok) throw new Error(drained.failure);
  } catch (error) {
    fail(result, describeError(error));
    await diagnoseInto(result, run);
  } finally {
    noteNodes(result, nodes);
    await run?.close().catch((error: unknown) => result.warnings.push(`close: ${describeError(error)}`));
  }
  return result;
}
