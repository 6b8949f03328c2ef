/**
 * Scenario 3 of `npm run bench:schedules` (jobchart on NATS only): N hourly schedules (first fire an
 * hour ahead, so none fires during the test) created first, then K scheduler processes (role
 * scheduler) started at the same moment. Settled when the processes hold every partition and every
 * schedule between them, each its fair share of partitions (⌊64/K⌋ or ⌈64/K⌉), and nothing has moved
 * for `settleSeconds`. Per process: its start-up time (start() → the last change of what it holds,
 * as it stands when settled), its RSS, and its CPU over `idleSeconds` once settled.
 */
import { sleep } from '../support/clock.js';
import { waitUntil } from '../support/node-watch.js';
import { describeError } from '../support/producer.js';
import { SCHEDULE_PARTITIONS, type ScheduleBenchSettings } from '../support/schedule-settings.js';
import type { NodeSampleMessage, ScheduleNodeProcess } from '../support/schedule-node-process.js';
import type { ScheduleRun, ScheduleSystem } from '../systems/schedule-system.js';
import { diagnoseInto, fail, noteNodes, outcomeOf, type ScheduleRunOutcome } from './schedule-outcome.js';

export interface ScaleNodeFigures {
  label: string;
  /** start() called → resolved. */
  startCallMs: number;
  /** start() called → its holdings last changed (as they stand when settled). */
  startupMs: number | null;
  schedules: number;
  partitions: number;
  /** The most it held at once on the way (a process that starts alone may take every partition first). */
  peakSchedules: number;
  peakPartitions: number;
  rssMB: number;
  maxRssMB: number;
  idleCpuPercent: number | null;
}

export interface ScaleResult extends ScheduleRunOutcome {
  scenario: 'big';
  schedules: number;
  nodes: number;
  addSeconds: number | null;
  addsPerSecond: number | null;
  /** start() → every schedule and partition held by some process (not yet balanced, maybe). */
  coveredMs: number | null;
  /** start() → settled (the slowest process's start-up). */
  settledMs: number | null;
  perNode: ScaleNodeFigures[];
}

const HOUR_MS = 3_600_000;

export async function runScale(system: ScheduleSystem, pair: number, settings: ScheduleBenchSettings): Promise<ScaleResult> {
  const N = settings.bigSchedules;
  const K = settings.bigNodes;
  const result: ScaleResult = {
    ...outcomeOf(system.id, pair),
    scenario: 'big',
    schedules: N,
    nodes: K,
    addSeconds: null,
    addsPerSecond: null,
    coveredMs: null,
    settledMs: null,
    perNode: [],
  };
  let run: ScheduleRun | null = null;
  const nodes: ScheduleNodeProcess[] = [];
  try {
    run = await system.open();
    const firstFire = Date.now() + HOUR_MS;
    process.stderr.write(`    creating ${N.toLocaleString('en-US')} hourly schedules…\n`);
    const added = await run.addSchedules(N, (index) => ({ index, everyMs: HOUR_MS, start: firstFire }), settings.addConcurrency, settings.stallMs);
    result.addSeconds = added.seconds;
    result.addsPerSecond = added.done / added.seconds;
    if (added.failure) throw new Error(added.failure);

    for (let i = 1; i <= K; i++) nodes.push(await run.spawnNode({ label: `${system.id}-scheduler-${i}`, role: 'scheduler', concurrency: 1 }));
    const starts = await Promise.all(nodes.map((n) => n.request({ type: 'start' }, 'started', settings.runTimeoutMs)));
    const startedAt = Math.min(...starts.map((s) => s.calledAt));

    const low = Math.floor(SCHEDULE_PARTITIONS / K);
    const high = Math.ceil(SCHEDULE_PARTITIONS / K);
    const settleMs = settings.settleSeconds * 1000;
    const holdings = (): string => nodes.map((n) => `${n.progress?.schedules ?? 0}/${n.progress?.partitions ?? 0}`).join(' + ');
    const balanced = (): boolean => {
      let schedules = 0;
      let partitions = 0;
      for (const n of nodes) {
        const p = n.progress;
        if (!p || p.partitions < low || p.partitions > high) return false;
        schedules += p.schedules;
        partitions += p.partitions;
      }
      return schedules === N && partitions === SCHEDULE_PARTITIONS;
    };
    // Settled: balanced, and no process's holdings changed for settleMs (each reports its last change).
    const covered = (): boolean => {
      let schedules = 0;
      let partitions = 0;
      for (const n of nodes) {
        schedules += n.progress?.schedules ?? 0;
        partitions += n.progress?.partitions ?? 0;
      }
      return schedules === N && partitions === SCHEDULE_PARTITIONS;
    };
    const settled = (): boolean => {
      if (result.coveredMs === null && covered()) result.coveredMs = Date.now() - startedAt;
      return balanced() && nodes.every((n) => n.progress?.statusChangedAt != null && n.progress.wallNow - n.progress.statusChangedAt >= settleMs);
    };
    const done = await waitUntil(nodes, settled, {
      what: `${K} processes held their share of ${N.toLocaleString('en-US')} schedules (schedules/partitions each)`,
      progress: holdings,
      stallMs: Math.max(settings.stallMs, 2 * settleMs),
      timeoutMs: settings.runTimeoutMs,
    });
    const s1 = await Promise.all(nodes.map((n) => n.sample()));
    if (!done.ok) {
      // A stall leaves the processes idle all the same: their RSS and idle CPU are still worth reporting.
      const alive = nodes.every((n) => n.alive);
      if (alive) await sleep(settings.idleSeconds * 1000);
      const s2 = alive ? await Promise.all(nodes.map((n) => n.sample())) : null;
      result.perNode = (s2 ?? s1).map((s, i) => figures(nodes[i] as ScheduleNodeProcess, starts[i] as Started, s, s2 ? (s1[i] as NodeSampleMessage) : null));
      const schedules = s1.reduce((sum, s) => sum + s.schedules, 0);
      const partitions = new Set(s1.flatMap((s) => s.partitionList)).size;
      if (partitions === SCHEDULE_PARTITIONS && schedules < N) {
        result.warnings.push(
          `every partition is held but only ${schedules.toLocaleString('en-US')} of ${N.toLocaleString('en-US')} schedules are loaded: ` +
            'partitions held without their schedules (see the processes\' output)',
        );
      }
      throw new Error(done.failure);
    }
    result.settledMs = Math.max(...s1.map((s) => (s.statusChangedAt ?? startedAt) - startedAt));
    await sleep(settings.idleSeconds * 1000);
    const s2 = await Promise.all(nodes.map((n) => n.sample()));
    result.perNode = s2.map((s, i) => figures(nodes[i] as ScheduleNodeProcess, starts[i] as Started, s, s1[i] as NodeSampleMessage));
    const moved = s2.filter((s, i) => s.schedules !== s1[i]?.schedules || s.partitions !== s1[i]?.partitions);
    if (moved.length > 0) result.warnings.push(`holdings moved while idle: ${s1.map((s) => `${s.schedules}/${s.partitions}`).join(' + ')} → ${s2.map((s) => `${s.schedules}/${s.partitions}`).join(' + ')}`);
    const overlap = s2.flatMap((s) => s.partitionList).length - new Set(s2.flatMap((s) => s.partitionList)).size;
    if (overlap > 0) result.warnings.push(`${overlap} partitions held by two processes at once`);
  } catch (error) {
    fail(result, describeError(error));
    await diagnoseInto(result, run);
  } finally {
    noteFailedLoads(result, nodes);
    noteNodes(result, nodes);
    await run?.close().catch((error: unknown) => result.warnings.push(`close: ${describeError(error)}`));
  }
  return result;
}

type Started = { calledAt: number; resolvedAt: number };

/**
 * A partition whose schedules a process failed to load (it says so on stderr) and that it still
 * holds has schedules that never fire; one it released since was loaded by the other process.
 */
function noteFailedLoads(result: ScaleResult, nodes: readonly ScheduleNodeProcess[]): void {
  for (const node of nodes) {
    if (node.failedPartitionLoads.length === 0) continue;
    const failed = [...new Set(node.failedPartitionLoads)].sort((a, b) => a - b);
    const held = new Set(node.lastPartitions ?? []);
    const stillHeld = failed.filter((p) => held.has(p));
    result.warnings.push(
      `${node.label} failed to load the schedules of ${failed.length} partition${failed.length > 1 ? 's' : ''} (${failed.join(', ')}); ` +
        (stillHeld.length > 0 ? `it still holds ${stillHeld.join(', ')} without their schedules` : 'it released them all since, so the other process loaded them'),
    );
  }
}

function figures(node: ScheduleNodeProcess, started: Started, sample: NodeSampleMessage, before: NodeSampleMessage | null): ScaleNodeFigures {
  return {
    label: node.label,
    startCallMs: started.resolvedAt - started.calledAt,
    startupMs: sample.statusChangedAt === null ? null : sample.statusChangedAt - started.calledAt,
    schedules: sample.schedules,
    partitions: sample.partitions,
    peakSchedules: sample.peakSchedules,
    peakPartitions: sample.peakPartitions,
    rssMB: sample.rssBytes / 2 ** 20,
    maxRssMB: sample.maxRssBytes / 2 ** 20,
    idleCpuPercent: before === null ? null : (100 * (sample.cpuMicros - before.cpuMicros)) / 1000 / (sample.wallNow - before.wallNow),
  };
}
