/** The report of `npm run bench:schedules`: aligned tables for people (the JSON line is printed by the caller). */
import type { ScheduleSystemId } from '../systems/schedule-system.js';
import { fmt, table } from './report.js';
import type { ScheduleBenchSettings } from './schedule-settings.js';
import type { FigureSummary, ScheduleResult, ScheduleSummary, Series } from './schedule-summary.js';

const SYSTEM_LABEL: Record<ScheduleSystemId, string> = {
  'jobchart-nats': 'jobchart (NATS)',
  bullmq: 'BullMQ',
};

/** Characters of a failed run's server state shown in the notes (a stalled run can list hundreds of consumers). */
const DIAGNOSIS_SHOWN = 600;

/** A process blocked this long is worth a note (it reports every 100 ms from a timer). */
const SILENCE_WORTH_NOTING_MS = 2_000;

export interface ScheduleReportInput {
  settings: ScheduleBenchSettings;
  machine: Record<string, string | number>;
  load: { start: number[]; end: number[] };
  unavailable: string[];
  runs: ScheduleResult[];
  summary: ScheduleSummary;
}

/** What went wrong or looks odd in one run. */
export function scheduleRunNotes(r: ScheduleResult): string[] {
  const notes: string[] = [];
  if (r.failure) notes.push(r.failure);
  notes.push(...r.warnings);
  if (r.longestSilenceMs >= SILENCE_WORTH_NOTING_MS) notes.push(`a process sent no progress for ${(r.longestSilenceMs / 1000).toFixed(1)} s (its event loop was blocked)`);
  if (r.nodeOutputLines > 0) notes.push(`the scheduler processes wrote ${r.nodeOutputLines} lines (the first ones are echoed above)`);
  if (r.diagnosis) notes.push(`state: ${r.diagnosis.length > DIAGNOSIS_SHOWN ? `${r.diagnosis.slice(0, DIAGNOSIS_SHOWN)}… (in full in the JSON)` : r.diagnosis}`);
  return notes;
}

function figureRows(figures: readonly FigureSummary[], runs: readonly ScheduleResult[], pairs: number): string[][] {
  const rows: string[][] = [['', ...Array.from({ length: pairs }, (_, i) => `pair ${i + 1}`), 'median']];
  const cells = (s: Series, kind: FigureSummary['kind'], system: ScheduleSystemId | null): string[] => [
    ...s.perPair.map((v, i) => {
      if (v !== null) return fmt(v, kind);
      const run = system === null ? undefined : runs.find((r) => r.system === system && r.pair === i + 1);
      return run && !run.ok ? 'FAIL' : '–';
    }),
    fmt(s.median, kind),
  ];
  for (const f of figures) {
    const systems = Object.keys(f.bySystem) as ScheduleSystemId[];
    if (systems.length === 0) continue;
    if (systems.length === 1 && !f.ratio) {
      const only = systems[0] as ScheduleSystemId;
      rows.push([`${f.label} — ${SYSTEM_LABEL[only]}`, ...cells(f.bySystem[only] as Series, f.kind, only)]);
      continue;
    }
    rows.push([f.label]);
    for (const system of systems) rows.push([`  ${SYSTEM_LABEL[system]}`, ...cells(f.bySystem[system] as Series, f.kind, system)]);
    if (f.ratio) rows.push(['  ratio', ...cells(f.ratio, 'ratio', null)]);
  }
  return rows;
}

export function printScheduleReport(input: ScheduleReportInput): void {
  const { settings, summary, runs } = input;
  const pairs = settings.pairs;
  const n = (x: number): string => x.toLocaleString('en-US');
  const load = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  const out: string[] = [];
  out.push('', '=== jobchart schedules vs BullMQ job schedulers (runs interleaved A B A B; medians over pairs; ratio = jobchart / BullMQ) ===');
  out.push(Object.entries(input.machine).map(([k, v]) => `${k}: ${v}`).join(' · '));
  out.push(`load average (1/5/15 min) at start: ${load(input.load.start)} · at end: ${load(input.load.end)}`);
  for (const why of input.unavailable) out.push(`NOT RUN: ${why}`);
  const ran = (scenario: ScheduleResult['scenario']): boolean => runs.some((r) => r.scenario === scenario);

  if (ran('fires')) {
    out.push(
      '',
      `1. ${n(settings.fireSchedules)} interval schedules every 1 s, ${settings.fireSeconds} fire times each (${n(settings.fireSchedules * settings.fireSeconds)} fires), one node`,
      settings.split
        ? `   jobchart: a scheduler process (role scheduler, holding all 64 partitions) and a worker process (role worker, concurrency ${settings.concurrency});`
        : `   jobchart: one process, role both (fires the schedules and runs their no-op jobs), concurrency ${settings.concurrency}, holding all 64 partitions;`,
      `   BullMQ: one Worker process (concurrency ${settings.concurrency}), which is also its scheduler. Schedules created with the node running,`,
      '   all starting at the same whole second T a few seconds ahead; "started in the window" = task started before T + F s;',
      '   lateness = task start − scheduled fire time (BullMQ: the fire time in the job id repeat:<id>:<ms>); jobchart\'s fire→publish is',
      '   its job record\'s createdAt − fire time (listed after the run): the scheduler\'s share of the lateness.',
    );
    out.push(table(figureRows(summary.fires, runs.filter((r) => r.scenario === 'fires'), pairs)));
  }
  if (ran('startup')) {
    out.push(
      '',
      `2. ${n(settings.startupSchedules)} schedules on one node, created before it starts; schedule i first fires at start() + i/N × ${settings.startupSpreadSeconds} s,`,
      `   then every ${settings.startupIntervalSeconds} s. Same processes as 1. Idle CPU over ${settings.idleSeconds} s once every schedule fired once.`,
    );
    out.push(table(figureRows(summary.startup, runs.filter((r) => r.scenario === 'startup'), pairs)));
  }
  const bigRuns = runs.filter((r): r is Extract<ScheduleResult, { scenario: 'big' }> => r.scenario === 'big');
  if (bigRuns.length > 0) {
    out.push(
      '',
      `3. ${n(settings.bigSchedules)} hourly schedules over ${settings.bigNodes} scheduler processes (jobchart on NATS, role scheduler), created first,`,
      `   then the processes started together. Settled = every schedule and partition held, each process ⌊64/K⌋..⌈64/K⌉ partitions,`,
      `   nothing moved for ${settings.settleSeconds} s; a process's start-up = start() → its holdings' last change. Idle CPU over ${settings.idleSeconds} s after.`,
    );
    out.push(table(figureRows(summary.big, bigRuns, pairs)));
    const rows: string[][] = [['per process', 'start-up s', 'schedules', 'partitions', 'peak held', 'RSS MB', 'peak RSS MB', 'idle CPU %']];
    for (const r of bigRuns) {
      for (const p of r.perNode) {
        rows.push([
          `pair ${r.pair} ${p.label.replace(/^jobchart-nats-/, '')}`,
          fmt(p.startupMs === null ? null : p.startupMs / 1000, 'ms'),
          n(p.schedules),
          String(p.partitions),
          `${n(p.peakSchedules)}/${p.peakPartitions}`,
          fmt(p.rssMB, 'rate'),
          fmt(p.maxRssMB, 'rate'),
          fmt(p.idleCpuPercent, 'ratio'),
        ]);
      }
    }
    out.push(table(rows, '    '));
  }
  if (ran('priority')) {
    out.push(
      '',
      `4. A high-priority 1 s schedule (${settings.prioritySchedules} schedule${settings.prioritySchedules > 1 ? 's' : ''}) behind ${n(settings.priorityJobs)} low-priority jobs of ${settings.priorityWorkMs} ms, one node, concurrency ${settings.priorityConcurrency}`,
      '   jobchart: priority 1 vs −1; BullMQ: priority 1 vs 10. The backlog is queued once the schedule has fired once; counted: fires whose',
      '   fire time falls between the backlog being queued and its last job finishing.',
    );
    out.push(table(figureRows(summary.priority, runs.filter((r) => r.scenario === 'priority'), pairs)));
  }

  if (summary.targets.length > 0) {
    out.push('', "Targets (issue 9), judged on jobchart's medians:");
    const rows: string[][] = [['', 'target', 'median', 'met']];
    for (const t of summary.targets) {
      const kind = t.unit === 'ms' || t.unit === 's' ? 'ms' : t.unit === 'MB' ? 'rate' : 'ratio';
      rows.push([t.figure, t.target, `${fmt(t.value, kind)} ${t.unit}`, t.met === null ? '–' : t.met ? 'yes' : 'NO']);
    }
    out.push(table(rows));
  }

  const noted = runs.map((r) => ({ r, notes: scheduleRunNotes(r) })).filter((x) => x.notes.length > 0);
  if (noted.length > 0) {
    out.push('', 'Failures and warnings:');
    for (const { r, notes } of noted) out.push(`  - ${r.scenario} pair ${r.pair} ${SYSTEM_LABEL[r.system]}: ${notes.join('; ')}`);
  }
  console.log(out.join('\n'));
}
