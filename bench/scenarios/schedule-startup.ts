/**
 * Scenario 2 of `npm run bench:schedules`: N schedules on one node, created before the node starts.
 * Schedule i first fires at G + i/N × spread (G: the whole second at which the node is started),
 * then every `startupIntervalSeconds` (default 60 s, so each fires once while measured). Measured
 * from the node's start (jobchart `rt.start()`, BullMQ `worker.run()`): until it holds every schedule
 * and partition (jobchart: status.schedules = N and 64 partitions), and until every schedule has
 * fired once (a task started); then RSS, and CPU over an idle stretch. Creating the schedules is
 * timed too (jobchart `addSchedule`, BullMQ `upsertJobScheduler`, 200 calls in flight).
 */
import { percentile } from '../support/stats.js';
import { sleep } from '../support/clock.js';
import { sleepUntil, waitUntil } from '../support/node-watch.js';
import { describeError } from '../support/producer.js';
import { SCHEDULE_PARTITIONS, type ScheduleBenchSettings } from '../support/schedule-settings.js';
import type { ScheduleNodeProcess } from '../support/schedule-node-process.js';
import type { ScheduleRun, ScheduleSystem, ScheduleSystemId } from '../systems/schedule-system.js';
import { diagnoseInto, fail, noteNodes, outcomeOf, wholeSecondAtOrAfter, type ScheduleRunOutcome } from './schedule-outcome.js';

export interface StartupResult extends ScheduleRunOutcome {
  scenario: 'startup';
  schedules: number;
  spreadSeconds: number;
  addSeconds: number | null;
  /** start() called → it resolved. */
  startCallMs: number | null;
  /** start() called → every partition held (jobchart only; its schedules may still be loading). */
  partitionsHeldMs: number | null;
  /** start() called → every schedule and partition held (jobchart only). */
  heldMs: number | null;
  /** start() called → every schedule fired once. */
  allFiredMs: number | null;
  /** Every schedule fired once, after the last first fire time (G + spread): ideally ~0. */
  afterLastFireTimeMs: number | null;
  /** Lateness of each schedule's first fire (task start − its first fire time), ms. */
  firstFireP50: number | null;
  firstFireP99: number | null;
  firstFireMax: number | null;
  /** CPU of the node process from start() until every schedule fired once: seconds, and % of a core. */
  cpuSecondsToAllFired: number | null;
  cpuPercentToAllFired: number | null;
  /** % of a core over `idleSeconds` once every schedule fired once. */
  idleCpuPercent: number | null;
  /** At the end of the idle stretch; peak over the process's life. */
  rssMB: number | null;
  maxRssMB: number | null;
}

/** Lead before G beyond the creation time expected. */
const LEAD_MS = 2_000;
/** First guess of creation time per schedule, before a run of the same system measured it. */
const FIRST_ADD_BUDGET_MS = 2;
const measuredAddMs = new Map<ScheduleSystemId, number>();

export async function runStartup(system: ScheduleSystem, pair: number, settings: ScheduleBenchSettings): Promise<StartupResult> {
  const N = settings.startupSchedules;
  const spreadMs = settings.startupSpreadSeconds * 1000;
  const result: StartupResult = {
    ...outcomeOf(system.id, pair),
    scenario: 'startup',
    schedules: N,
    spreadSeconds: settings.startupSpreadSeconds,
    addSeconds: null,
    startCallMs: null,
    partitionsHeldMs: null,
    heldMs: null,
    allFiredMs: null,
    afterLastFireTimeMs: null,
    firstFireP50: null,
    firstFireP99: null,
    firstFireMax: null,
    cpuSecondsToAllFired: null,
    cpuPercentToAllFired: null,
    idleCpuPercent: null,
    rssMB: null,
    maxRssMB: null,
  };
  const jobchart = system.id === 'jobchart-nats';
  let run: ScheduleRun | null = null;
  const nodes: ScheduleNodeProcess[] = [];
  try {
    run = await system.open();
    const node = await run.spawnNode({
      label: `${system.id}-node`,
      role: 'both',
      concurrency: settings.concurrency,
      expectSchedules: N,
      expectPartitions: jobchart ? SCHEDULE_PARTITIONS : 0,
    });
    nodes.push(node);

    // Creation time budgeted from the last run of this system (×1.5), so G is as near as it can be.
    const budgetMs = 1.5 * (measuredAddMs.get(system.id) ?? FIRST_ADD_BUDGET_MS) * N;
    const G = wholeSecondAtOrAfter(Date.now() + LEAD_MS + budgetMs);
    const firstFire = (i: number): number => G + Math.floor((i * spreadMs) / N);
    const added = await run.addSchedules(
      N,
      (index) => ({ index, everyMs: settings.startupIntervalSeconds * 1000, start: firstFire(index) }),
      settings.addConcurrency,
      settings.stallMs,
    );
    result.addSeconds = added.seconds;
    if (added.failure) throw new Error(added.failure);
    measuredAddMs.set(system.id, (added.seconds * 1000) / N);
    const lateBy = Date.now() - G;
    if (lateBy > 0) result.warnings.push(`creating the schedules ended ${lateBy} ms after G (the planned start and first fire time)`);

    const ready = await sleepUntil(G, nodes);
    if (!ready.ok) throw new Error(ready.failure);
    const s0 = await node.sample();
    const started = await node.request({ type: 'start' }, 'started', settings.runTimeoutMs);
    result.startCallMs = started.resolvedAt - started.calledAt;
    const progress = (): string => {
      const p = node.progress;
      return p ? `${p.schedules} schedules and ${p.partitions} partitions held, ${p.distinctFired} of ${N} schedules fired` : 'no progress yet';
    };
    const done = await waitUntil(nodes, () => node.progress?.allFiredOnceAt != null && (!jobchart || node.progress.fullAt != null), {
      what: jobchart ? `every schedule held and fired once` : 'every schedule fired once',
      progress,
      stallMs: settings.stallMs,
      timeoutMs: settings.runTimeoutMs,
    });
    const s1 = await node.sample();
    if (s1.fullAt !== null) result.heldMs = s1.fullAt - started.calledAt;
    if (jobchart && s1.partitionsFullAt !== null) result.partitionsHeldMs = s1.partitionsFullAt - started.calledAt;
    if (s1.allFiredOnceAt !== null) {
      result.allFiredMs = s1.allFiredOnceAt - started.calledAt;
      result.afterLastFireTimeMs = s1.allFiredOnceAt - firstFire(N - 1);
      result.cpuSecondsToAllFired = (s1.cpuMicros - s0.cpuMicros) / 1e6;
      result.cpuPercentToAllFired = (100 * (s1.cpuMicros - s0.cpuMicros)) / 1000 / (s1.allFiredOnceAt - s0.wallNow);
    }
    if (!done.ok) {
      if (jobchart && s1.fullAt === null) result.warnings.push(`held at most ${s1.schedules} schedules and ${s1.partitions} partitions`);
      throw new Error(done.failure);
    }

    await sleep(settings.idleSeconds * 1000);
    const s2 = await node.sample();
    result.idleCpuPercent = (100 * (s2.cpuMicros - s1.cpuMicros)) / 1000 / (s2.wallNow - s1.wallNow);
    result.rssMB = s2.rssBytes / 2 ** 20;
    result.maxRssMB = s2.maxRssBytes / 2 ** 20;
    if (s2.schedules !== s1.schedules || s2.partitions !== s1.partitions) {
      result.warnings.push(`holdings moved while idle: ${s1.schedules}/${s1.partitions} → ${s2.schedules}/${s2.partitions} schedules/partitions`);
    }

    const fires = await node.fires();
    const first = new Map<number, number>();
    for (let i = 0; i < fires.index.length; i++) {
      const index = fires.index[i] as number;
      if (!first.has(index)) first.set(index, (fires.startedAt[i] as number) - firstFire(index));
    }
    const lateness = [...first.values()];
    result.firstFireP50 = finiteOrNull(percentile(lateness, 50));
    result.firstFireP99 = finiteOrNull(percentile(lateness, 99));
    result.firstFireMax = lateness.length > 0 ? Math.max(...lateness) : null;
    const early = lateness.filter((ms) => ms < -5).length;
    if (early > 0) result.warnings.push(`${early} schedules fired before their first fire time`);
  } catch (error) {
    fail(result, describeError(error));
    await diagnoseInto(result, run);
  } finally {
    noteNodes(result, nodes);
    await run?.close().catch((error: unknown) => result.warnings.push(`close: ${describeError(error)}`));
  }
  return result;
}

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
