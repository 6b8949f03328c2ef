/**
 * Medians, ratios and the targets for `npm run bench:schedules`. Each scenario names its
 * figures once (label, unit, how to read it from a run); the summary gives every figure's value per
 * pair and its median for each system, and jobchart / BullMQ per pair and of the medians.
 */
import type { FiresResult } from '../scenarios/schedule-fires.js';
import type { PriorityResult } from '../scenarios/schedule-priority.js';
import type { ScaleResult } from '../scenarios/schedule-scale.js';
import type { StartupResult } from '../scenarios/schedule-startup.js';
import type { ScheduleSystemId } from '../systems/schedule-system.js';
import type { fmt } from './report.js';
import { median, ratio } from './stats.js';

export type ScheduleResult = FiresResult | StartupResult | ScaleResult | PriorityResult;
export type ScenarioKey = ScheduleResult['scenario'];

export interface Series {
  /** One value per pair (null where that run failed or has no such figure). */
  perPair: (number | null)[];
  median: number | null;
}

export interface Figure<R> {
  key: string;
  label: string;
  kind: NonNullable<Parameters<typeof fmt>[1]>;
  pick: (run: R) => number | null;
  /** Show jobchart / BullMQ. */
  ratio?: boolean;
  /** Only jobchart has it (partitions held, the NATS-only scenario). */
  jobchartOnly?: boolean;
}

export interface FigureSummary {
  key: string;
  label: string;
  kind: Figure<unknown>['kind'];
  bySystem: Partial<Record<ScheduleSystemId, Series>>;
  ratio?: Series;
}

const pct = (a: number, b: number): number | null => (b > 0 ? (100 * a) / b : null);

export const FIRES_FIGURES: Figure<FiresResult>[] = [
  { key: 'startedPct', label: 'fires started in the window, %', kind: 'ratio', pick: (r) => pct(r.startedInWindow, r.expected) },
  { key: 'p50', label: 'fire→start lateness p50, ms', kind: 'ms', pick: (r) => r.p50, ratio: true },
  { key: 'p99', label: 'fire→start lateness p99, ms', kind: 'ms', pick: (r) => r.p99, ratio: true },
  { key: 'max', label: 'fire→start lateness max, ms', kind: 'ms', pick: (r) => r.max },
  { key: 'firstMax', label: '  of the first fire time (cold start): max, ms', kind: 'ms', pick: (r) => r.firstMax, ratio: true },
  { key: 'p99Later', label: '  of the later fire times: p99, ms', kind: 'ms', pick: (r) => r.p99Later, ratio: true },
  { key: 'publishedPct', label: 'fires published (job created), %', kind: 'ratio', pick: (r) => (r.published === null ? null : pct(r.published, r.expected)), jobchartOnly: true },
  { key: 'publishP50', label: 'fire→publish p50, ms', kind: 'ms', pick: (r) => r.publishP50, jobchartOnly: true },
  { key: 'publishP99', label: 'fire→publish p99, ms', kind: 'ms', pick: (r) => r.publishP99, jobchartOnly: true },
  { key: 'nodeCpu', label: 'node process CPU over the window, % of a core', kind: 'ratio', pick: (r) => r.nodeCpuPercent },
  { key: 'serverCpu', label: 'server CPU over the window, % of a core', kind: 'ratio', pick: (r) => r.serverCpuPercent },
  { key: 'msgsPerFire', label: 'per started fire: NATS msgs in+out / Redis commands', kind: 'count', pick: (r) => r.serverMessagesPerFire },
];

export const STARTUP_FIGURES: Figure<StartupResult>[] = [
  { key: 'addSeconds', label: 'create the schedules (200 calls in flight), s', kind: 'ms', pick: (r) => r.addSeconds, ratio: true },
  { key: 'partitionsS', label: 'start() → 64 partitions held, s', kind: 'ms', pick: (r) => sec(r.partitionsHeldMs), jobchartOnly: true },
  { key: 'heldS', label: 'start() → all schedules + 64 partitions held, s', kind: 'ms', pick: (r) => sec(r.heldMs), jobchartOnly: true },
  { key: 'allFiredS', label: 'start() → every schedule fired once, s', kind: 'ms', pick: (r) => sec(r.allFiredMs), ratio: true },
  { key: 'afterLastS', label: '  of which after the last first fire time, s', kind: 'ms', pick: (r) => sec(r.afterLastFireTimeMs), ratio: true },
  { key: 'firstP50', label: 'first fire lateness p50, ms', kind: 'ms', pick: (r) => r.firstFireP50, ratio: true },
  { key: 'firstP99', label: 'first fire lateness p99, ms', kind: 'ms', pick: (r) => r.firstFireP99, ratio: true },
  { key: 'cpuS', label: 'node CPU, start() → all fired once, s', kind: 'ms', pick: (r) => r.cpuSecondsToAllFired, ratio: true },
  { key: 'cpuPct', label: '  as % of a core', kind: 'ratio', pick: (r) => r.cpuPercentToAllFired },
  { key: 'idleCpu', label: 'idle CPU afterwards, % of a core', kind: 'ratio', pick: (r) => r.idleCpuPercent, ratio: true },
  { key: 'rss', label: 'RSS after, MB', kind: 'rate', pick: (r) => r.rssMB, ratio: true },
  { key: 'maxRss', label: 'peak RSS, MB', kind: 'rate', pick: (r) => r.maxRssMB, ratio: true },
];

const worst = (r: ScaleResult, pick: (n: ScaleResult['perNode'][number]) => number | null): number | null => {
  const xs = r.perNode.map(pick).filter((x): x is number => x !== null);
  return r.ok && xs.length > 0 ? Math.max(...xs) : null;
};

export const SCALE_FIGURES: Figure<ScaleResult>[] = [
  { key: 'addSeconds', label: 'create the schedules (200 calls in flight), s', kind: 'ms', pick: (r) => r.addSeconds, jobchartOnly: true },
  { key: 'addsPerSecond', label: '  schedules created per second', kind: 'rate', pick: (r) => r.addsPerSecond, jobchartOnly: true },
  { key: 'coveredS', label: 'start() → every schedule held by some process, s', kind: 'ms', pick: (r) => sec(r.coveredMs), jobchartOnly: true },
  { key: 'settledS', label: 'start() → settled (slowest process), s', kind: 'ms', pick: (r) => (r.ok ? sec(r.settledMs) : null), jobchartOnly: true },
  { key: 'startupS', label: 'start-up per process, s (worst)', kind: 'ms', pick: (r) => sec(worst(r, (n) => n.startupMs)), jobchartOnly: true },
  { key: 'rss', label: 'RSS per process, MB (worst)', kind: 'rate', pick: (r) => worst(r, (n) => n.rssMB), jobchartOnly: true },
  { key: 'maxRss', label: 'peak RSS per process, MB (worst)', kind: 'rate', pick: (r) => worst(r, (n) => n.maxRssMB), jobchartOnly: true },
  { key: 'idleCpu', label: 'idle CPU per process, % of a core (worst)', kind: 'ratio', pick: (r) => worst(r, (n) => n.idleCpuPercent), jobchartOnly: true },
];

export const PRIORITY_FIGURES: Figure<PriorityResult>[] = [
  { key: 'samples', label: 'fires inside the backlog', kind: 'count', pick: (r) => r.samples },
  { key: 'p50', label: 'fire→start lateness p50, ms', kind: 'ms', pick: (r) => r.p50, ratio: true },
  { key: 'p99', label: 'fire→start lateness p99, ms', kind: 'ms', pick: (r) => r.p99, ratio: true },
  { key: 'max', label: 'fire→start lateness max, ms', kind: 'ms', pick: (r) => r.max },
  { key: 'backlogS', label: 'backlog drained in, s', kind: 'ms', pick: (r) => r.backlogSeconds, ratio: true },
  { key: 'backlogRate', label: 'backlog jobs/s', kind: 'rate', pick: (r) => r.backlogJobsPerSecond, ratio: true },
];

function sec(ms: number | null): number | null {
  return ms === null ? null : ms / 1000;
}

const nn = (x: number): number | null => (Number.isFinite(x) ? x : null);

function series(values: (number | null)[]): Series {
  return { perPair: values, median: nn(median(values)) };
}

function summarizeFigures<R extends ScheduleResult>(runs: readonly R[], figures: readonly Figure<R>[], pairs: number): FigureSummary[] {
  const systems = [...new Set(runs.map((r) => r.system))];
  return figures.map((f) => {
    const bySystem: FigureSummary['bySystem'] = {};
    for (const system of systems) {
      if (f.jobchartOnly && system !== 'jobchart-nats') continue;
      bySystem[system] = series(
        Array.from({ length: pairs }, (_, i) => {
          const run = runs.find((r) => r.system === system && r.pair === i + 1);
          return run ? f.pick(run) : null;
        }),
      );
    }
    const out: FigureSummary = { key: f.key, label: f.label, kind: f.kind, bySystem };
    const a = bySystem['jobchart-nats'];
    const b = bySystem.bullmq;
    if (f.ratio && a && b) {
      out.ratio = { perPair: a.perPair.map((x, i) => nn(ratio(x, b.perPair[i]))), median: nn(ratio(a.median, b.median)) };
    }
    return out;
  });
}

export interface Target {
  figure: string;
  target: string;
  /** The median the target is judged on. */
  value: number | null;
  unit: string;
  met: boolean | null;
}

export interface ScheduleSummary {
  fires: FigureSummary[];
  startup: FigureSummary[];
  big: FigureSummary[];
  priority: FigureSummary[];
  targets: Target[];
}

export function summarizeSchedules(runs: readonly ScheduleResult[], pairs: number): ScheduleSummary {
  const of = <S extends ScenarioKey>(scenario: S) => runs.filter((r): r is Extract<ScheduleResult, { scenario: S }> => r.scenario === scenario);
  const fires = summarizeFigures(of('fires'), FIRES_FIGURES, pairs);
  const startup = summarizeFigures(of('startup'), STARTUP_FIGURES, pairs);
  const big = summarizeFigures(of('big'), SCALE_FIGURES, pairs);
  const priority = summarizeFigures(of('priority'), PRIORITY_FIGURES, pairs);
  const pick = (s: FigureSummary[], key: string, which: 'jobchart' | 'ratio' = 'jobchart'): number | null => {
    const f = s.find((x) => x.key === key);
    return (which === 'ratio' ? f?.ratio?.median : f?.bySystem['jobchart-nats']?.median) ?? null;
  };
  const target = (figure: string, text: string, value: number | null, unit: string, met: (v: number) => boolean): Target => ({
    figure,
    target: text,
    value,
    unit,
    met: value === null ? null : met(value),
  });
  const targets: Target[] = [];
  const n = (x: number): string => x.toLocaleString('en-US');
  const firstFires = of('fires')[0];
  if (firstFires) {
    targets.push(target(`${n(firstFires.schedules)} schedules @1 s: fires started in the window`, '100%', pick(fires, 'startedPct'), '%', (v) => v >= 100));
    targets.push(target(`${n(firstFires.schedules)} schedules @1 s: lateness p99 vs BullMQ p99`, '≤ 1.0×', pick(fires, 'p99', 'ratio'), '×', (v) => v <= 1));
  }
  const firstStartup = of('startup')[0];
  if (firstStartup) {
    targets.push(target(`${n(firstStartup.schedules)} schedules, one node: all held after start()`, '≤ 3 s', pick(startup, 'heldS'), 's', (v) => v <= 3));
  }
  const firstBig = of('big')[0];
  if (firstBig) {
    const what = `${n(firstBig.schedules)} schedules over ${firstBig.nodes} processes`;
    targets.push(target(`${what}: start-up (worst process)`, '≤ 30 s', pick(big, 'startupS'), 's', (v) => v <= 30));
    targets.push(target(`${what}: RSS (worst process)`, '≤ 300 MB', pick(big, 'rss'), 'MB', (v) => v <= 300));
    targets.push(target(`${what}: idle CPU (worst process)`, '≤ 5%', pick(big, 'idleCpu'), '%', (v) => v <= 5));
  }
  const firstPriority = of('priority')[0];
  if (firstPriority) {
    const what = `high-priority 1 s schedule behind ${n(firstPriority.jobs)} queued jobs: fire→start p99`;
    targets.push(target(what, '≤ 200 ms', pick(priority, 'p99'), 'ms', (v) => v <= 200));
  }
  return { fires, startup, big, priority, targets };
}
