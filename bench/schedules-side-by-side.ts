/**
 * `npm run bench:schedules`: jobchart schedules and BullMQ job schedulers, each scenario as
 * interleaved pairs (jobchart, then BullMQ, with the same plan) — see bench/README.md. Progress on
 * stderr, the report and the JSON line on stdout. A run that fails is reported and the bench goes on.
 */
import { loadavg } from 'node:os';
import { runFires } from './scenarios/schedule-fires.js';
import { runPriority } from './scenarios/schedule-priority.js';
import { runScale } from './scenarios/schedule-scale.js';
import { runStartup } from './scenarios/schedule-startup.js';
import { describeMachine } from './side-by-side.js';
import { fmt } from './support/report.js';
import { printScheduleReport, scheduleRunNotes } from './support/schedule-report.js';
import type { ScheduleBenchSettings } from './support/schedule-settings.js';
import { summarizeSchedules, type ScheduleResult } from './support/schedule-summary.js';
import { round } from './support/stats.js';
import { bullmqSchedules } from './systems/bullmq-schedules.js';
import { jobchartSchedules } from './systems/jobchart-schedules.js';
import type { ScheduleSystem } from './systems/schedule-system.js';

type Runner = (system: ScheduleSystem, pair: number, settings: ScheduleBenchSettings) => Promise<ScheduleResult>;

export async function runSchedulesSideBySide(settings: ScheduleBenchSettings): Promise<void> {
  const loadStart = loadavg();
  const jobchart = jobchartSchedules(settings.leaseDurationMs);
  const unavailable = [jobchart, bullmqSchedules].flatMap((s) => (s.unavailable ? [`${s.id}: ${s.unavailable}`] : []));
  const both = [jobchart, bullmqSchedules].filter((s) => s.unavailable === null);
  const machine = describeMachine();
  log(`bench:schedules: ${Object.entries(machine).map(([k, v]) => `${k} ${v}`).join(', ')}; load ${loadStart.map((x) => x.toFixed(2)).join(' ')}`);
  log(`bench:schedules: ${settings.pairs} pair(s) · scenarios ${settings.scenarios.join(',')} · ${JSON.stringify(settings)}`);
  for (const why of unavailable) log(`bench:schedules: NOT RUN — ${why}`);

  const plan: [ScheduleBenchSettings['scenarios'][number], Runner, ScheduleSystem[]][] = [
    ['fires', runFires, both],
    ['startup', runStartup, both],
    ['big', runScale, settings.bigSchedules > 0 ? both.filter((s) => s.id === 'jobchart-nats') : []],
    ['priority', runPriority, both],
  ];
  const runs: ScheduleResult[] = [];
  const t0 = Date.now();
  for (let pair = 1; pair <= settings.pairs; pair++) {
    for (const [scenario, runner, systems] of plan) {
      if (!settings.scenarios.includes(scenario)) continue;
      for (const system of systems) {
        log(`[${elapsed(t0)}] pair ${pair} ${scenario} ${system.id}…`);
        const result = await runner(system, pair, settings);
        runs.push(result);
        log(`[${elapsed(t0)}] pair ${pair} ${scenario} ${system.id}: ${headline(result)}`);
        const notes = scheduleRunNotes(result);
        if (notes.length > 0) log(`    ! ${notes.join('; ')}`);
      }
    }
  }

  const loadEnd = loadavg();
  const summary = summarizeSchedules(runs, settings.pairs);
  printScheduleReport({ settings, machine, load: { start: loadStart, end: loadEnd }, unavailable, runs, summary });
  console.log(
    JSON.stringify(
      {
        bench: 'jobchart-schedules-vs-bullmq',
        settings,
        machine,
        load: { start: loadStart.map((x) => round(x)), end: loadEnd.map((x) => round(x)) },
        notRun: unavailable,
        summary,
        runs,
      },
      (_key, value: unknown) => (typeof value === 'number' ? round(value, 3) : value),
    ),
  );
}

/** One progress line per run. */
function headline(r: ScheduleResult): string {
  const head = r.ok ? '' : 'FAILED; ';
  switch (r.scenario) {
    case 'fires':
      return (
        `${head}${r.startedInWindow} of ${r.expected} fires started in the window (+${r.startedAfterWindow} after), ` +
        `lateness p50 ${fmt(r.p50, 'ms')} ms, p99 ${fmt(r.p99, 'ms')} ms, max ${fmt(r.max, 'ms')} ms; node CPU ${fmt(r.nodeCpuPercent, 'ratio')}%${r.nodeCpuPercentEach.length > 1 ? ` (${r.nodeCpuPercentEach.map((v) => fmt(v, 'ratio')).join(' + ')})` : ''}`
      );
    case 'startup':
      return (
        `${head}created in ${fmt(r.addSeconds, 'ms')} s; start → held ${fmt(r.heldMs === null ? null : r.heldMs / 1000, 'ms')} s, ` +
        `→ all fired once ${fmt(r.allFiredMs === null ? null : r.allFiredMs / 1000, 'ms')} s; first fire p99 ${fmt(r.firstFireP99, 'ms')} ms; ` +
        `RSS ${fmt(r.rssMB, 'rate')} MB; idle CPU ${fmt(r.idleCpuPercent, 'ratio')}%`
      );
    case 'big':
      return (
        `${head}created in ${fmt(r.addSeconds, 'ms')} s; settled after ${fmt(r.settledMs === null ? null : r.settledMs / 1000, 'ms')} s; ` +
        r.perNode
          .map((p) => `${p.label}: ${p.schedules}/${p.partitions} schedules/partitions, start-up ${fmt(p.startupMs === null ? null : p.startupMs / 1000, 'ms')} s, RSS ${fmt(p.rssMB, 'rate')} MB, idle CPU ${fmt(p.idleCpuPercent, 'ratio')}%`)
          .join('; ')
      );
    case 'priority':
      return (
        `${head}${r.samples} fires inside the backlog, lateness p50 ${fmt(r.p50, 'ms')} ms, p99 ${fmt(r.p99, 'ms')} ms, max ${fmt(r.max, 'ms')} ms; ` +
        `backlog drained in ${fmt(r.backlogSeconds, 'ms')} s (${fmt(r.backlogJobsPerSecond, 'rate')} jobs/s)`
      );
  }
}

function elapsed(t0: number): string {
  const s = Math.round((Date.now() - t0) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}
