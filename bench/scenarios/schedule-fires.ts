/**
 * Scenario 1 of `npm run bench:schedules`: S schedules firing every second on one node, counted over
 * F fire times. The node runs in its own process (jobchart: one node of role both, which fires the
 * schedules and runs their no-op jobs — or, with BENCH_SPLIT=1, a scheduler process and a worker
 * process; BullMQ: one Worker, which is also its scheduler) and is started — jobchart: holding every
 * partition — before the schedules are added, all starting at the same whole second T a couple of
 * seconds ahead. The fire times counted are T, T + 1 s, …,
 * T + (F − 1) s; a fire "started in the window" when its task started before T + F s. Lateness is
 * task start − scheduled fire time (BullMQ: the fire time in the job id `repeat:<id>:<ms>`). jobchart
 * also tells fire → publish (the job record's createdAt, listed after the run), which splits the
 * lateness into the scheduler's part and the worker's.
 */
import { percentile } from '../support/stats.js';
import { sleepUntil, waitUntil } from '../support/node-watch.js';
import { SCHEDULE_PARTITIONS, type ScheduleBenchSettings } from '../support/schedule-settings.js';
import type { ScheduleNodeProcess } from '../support/schedule-node-process.js';
import { describeError } from '../support/producer.js';
import type { ScheduleRun, ScheduleSystem } from '../systems/schedule-system.js';
import { diagnoseInto, fail, noteNodes, outcomeOf, wholeSecondAtOrAfter, type ScheduleRunOutcome } from './schedule-outcome.js';

export interface FiresResult extends ScheduleRunOutcome {
  scenario: 'fires';
  schedules: number;
  fireSeconds: number;
  /** schedules × fire seconds. */
  expected: number;
  /** Distinct (schedule, fire time) in the window whose task started before the window's end. */
  startedInWindow: number;
  /** … whose task started after the window's end (within the 2 s the bench waits after it). */
  startedAfterWindow: number;
  /** Task starts beyond the first for one (schedule, fire time). */
  duplicates: number;
  /** Starts of fire times before T (none should exist). */
  beforeWindow: number;
  /** Fire→start lateness (ms) over every fire time of the window that started. */
  p50: number | null;
  p99: number | null;
  /** Lateness p99 of the fire times after the first, and the first fire time's max lateness. */
  p99Later: number | null;
  firstMax: number | null;
  max: number | null;
  /** jobchart: distinct fire times of the window whose job was published, and fire → publish lateness (ms). */
  published: number | null;
  publishP50: number | null;
  publishP99: number | null;
  /** Creating the schedules: seconds, and how long before T it ended (negative: after T). */
  addSeconds: number | null;
  addEndedBeforeFirstFireMs: number | null;
  /** CPU of the node process(es) and of the server over the window, % of one core. */
  nodeCpuPercent: number | null;
  /** The same per node process, in the order they were started (BENCH_SPLIT=1: scheduler, worker). */
  nodeCpuPercentEach: number[];
  serverCpuPercent: number | null;
  /** NATS messages in + out at the server per started fire (BullMQ: Redis commands per started fire). */
  serverMessagesPerFire: number | null;
}

/** After the window, the bench waits this long for late starts before collecting. */
const AFTER_WINDOW_MS = 2_000;
/** Lead before the first fire time, on top of the time creating the schedules is expected to take. */
const LEAD_MS = 2_000;
/** Creation time budgeted per schedule (generous: 1,000 schedules → 2 s). */
const ADD_BUDGET_MS_PER_SCHEDULE = 2;

export async function runFires(system: ScheduleSystem, pair: number, settings: ScheduleBenchSettings): Promise<FiresResult> {
  const S = settings.fireSchedules;
  const F = settings.fireSeconds;
  const result: FiresResult = {
    ...outcomeOf(system.id, pair),
    scenario: 'fires',
    schedules: S,
    fireSeconds: F,
    expected: S * F,
    startedInWindow: 0,
    startedAfterWindow: 0,
    duplicates: 0,
    beforeWindow: 0,
    p50: null,
    p99: null,
    p99Later: null,
    firstMax: null,
    max: null,
    published: null,
    publishP50: null,
    publishP99: null,
    addSeconds: null,
    addEndedBeforeFirstFireMs: null,
    nodeCpuPercent: null,
    nodeCpuPercentEach: [],
    serverCpuPercent: null,
    serverMessagesPerFire: null,
  };
  let run: ScheduleRun | null = null;
  const nodes: ScheduleNodeProcess[] = [];
  try {
    run = await system.open();
    const split = settings.split && system.id === 'jobchart-nats';
    const node = await run.spawnNode({
      label: `${system.id}-${split ? 'scheduler' : 'node'}`,
      role: split ? 'scheduler' : 'both',
      concurrency: settings.concurrency,
      expectSchedules: 0,
      expectPartitions: system.id === 'jobchart-nats' ? SCHEDULE_PARTITIONS : 0,
    });
    nodes.push(node);
    // The process whose tasks run the fires: the node itself, or the worker beside the scheduler.
    const runner = split ? await run.spawnNode({ label: `${system.id}-worker`, role: 'worker', concurrency: settings.concurrency }) : node;
    if (split) nodes.push(runner);
    await Promise.all(nodes.map((n) => n.request({ type: 'start' }, 'started', settings.runTimeoutMs)));
    const held = await waitUntil(nodes, () => node.progress?.fullAt != null, {
      what: 'the node held every partition',
      progress: () => `${node.progress?.partitions ?? 0} partitions`,
      stallMs: settings.stallMs,
      timeoutMs: settings.runTimeoutMs,
    });
    if (!held.ok) throw new Error(held.failure);

    const T = wholeSecondAtOrAfter(Date.now() + LEAD_MS + S * ADD_BUDGET_MS_PER_SCHEDULE);
    const windowEnd = T + F * 1000;
    const added = await run.addSchedules(S, (index) => ({ index, everyMs: 1000, start: T }), settings.addConcurrency, settings.stallMs);
    result.addSeconds = added.seconds;
    result.addEndedBeforeFirstFireMs = T - Date.now();
    if (added.failure) throw new Error(added.failure);
    if (result.addEndedBeforeFirstFireMs < 0) {
      result.warnings.push(`creating the schedules ended ${-result.addEndedBeforeFirstFireMs} ms after the first fire time`);
    }

    const atStart = await sleepUntil(T, nodes);
    if (!atStart.ok) throw new Error(atStart.failure);
    const [s0, c0] = await Promise.all([Promise.all(nodes.map((n) => n.sample())), run.serverCounters()]);
    const atEnd = await sleepUntil(windowEnd, nodes);
    if (!atEnd.ok) throw new Error(atEnd.failure);
    const [s1, c1] = await Promise.all([Promise.all(nodes.map((n) => n.sample())), run.serverCounters()]);
    const wallMs = (s1[0]?.wallNow ?? 0) - (s0[0]?.wallNow ?? 0);
    result.nodeCpuPercentEach = s1.map((s, i) => (100 * (s.cpuMicros - (s0[i]?.cpuMicros ?? s.cpuMicros))) / 1000 / wallMs);
    result.nodeCpuPercent = result.nodeCpuPercentEach.reduce((sum, percent) => sum + percent, 0);
    if (c0.cpuMicros !== null && c1.cpuMicros !== null) result.serverCpuPercent = (100 * (c1.cpuMicros - c0.cpuMicros)) / 1000 / wallMs;
    const afterWindow = await sleepUntil(windowEnd + AFTER_WINDOW_MS, nodes);
    if (!afterWindow.ok) throw new Error(afterWindow.failure);

    const fires = await runner.fires();
    const seen = new Set<string>();
    const lateness: number[] = [];
    /** The same without the first fire time (the node's first burst runs on cold code and a small heap). */
    const latenessLater: number[] = [];
    let firstBurstMax = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < fires.index.length; i++) {
      const fireTime = fires.fireTime[i] as number;
      const startedAt = fires.startedAt[i] as number;
      if (fireTime >= windowEnd) continue; // the schedules go on firing while the bench collects
      if (!(fireTime >= T)) {
        result.beforeWindow++;
        continue;
      }
      const key = `${fires.index[i]}@${fireTime}`;
      if (seen.has(key)) {
        result.duplicates++;
        continue;
      }
      seen.add(key);
      lateness.push(startedAt - fireTime);
      if (fireTime > T) latenessLater.push(startedAt - fireTime);
      else firstBurstMax = Math.max(firstBurstMax, startedAt - fireTime);
      if (startedAt < windowEnd) result.startedInWindow++;
      else result.startedAfterWindow++;
    }
    result.p50 = nullIfNaN(percentile(lateness, 50));
    result.p99 = nullIfNaN(percentile(lateness, 99));
    result.p99Later = nullIfNaN(percentile(latenessLater, 99));
    result.firstMax = Number.isFinite(firstBurstMax) ? firstBurstMax : null;
    result.max = lateness.length > 0 ? Math.max(...lateness) : null;
    const started = result.startedInWindow + result.startedAfterWindow;
    if (c0.messages !== null && c1.messages !== null && started > 0) result.serverMessagesPerFire = (c1.messages - c0.messages) / started;
    if (result.duplicates > 0) result.warnings.push(`${result.duplicates} fires started twice`);

    // Stopped first, so the listing reads a bucket nobody writes to.
    await Promise.all(nodes.map((n) => n.stop()));
    const published = await run.publishedFires();
    if (published) {
      const publishedKeys = new Set<string>();
      const publishLateness: number[] = [];
      for (let i = 0; i < published.index.length; i++) {
        const fireTime = published.fireTime[i] as number;
        if (fireTime < T || fireTime >= windowEnd) continue;
        publishedKeys.add(`${published.index[i]}@${fireTime}`);
        publishLateness.push((published.publishedAt[i] as number) - fireTime);
      }
      result.published = publishedKeys.size;
      result.publishP50 = nullIfNaN(percentile(publishLateness, 50));
      result.publishP99 = nullIfNaN(percentile(publishLateness, 99));
      const unstarted = [...publishedKeys].filter((k) => !seen.has(k)).length;
      if (unstarted > 0) result.warnings.push(`${unstarted} published fires of the window had not started ${AFTER_WINDOW_MS / 1000} s after it`);
    }
    if (result.beforeWindow > 0) result.warnings.push(`${result.beforeWindow} starts of fire times before the first one`);
  } catch (error) {
    fail(result, describeError(error));
    await diagnoseInto(result, run);
  } finally {
    noteNodes(result, nodes);
    await run?.close().catch((error: unknown) => result.warnings.push(`close: ${describeError(error)}`));
  }
  return result;
}

function nullIfNaN(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
