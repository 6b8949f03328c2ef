/** The side-by-side report: aligned tables for people, then one JSON line for tools. */
import type { LatencyResult } from '../scenarios/latency.js';
import type { ThroughputResult } from '../scenarios/throughput.js';
import type { SystemId } from '../systems/bench-system.js';
import type { BenchSettings } from './settings.js';
import type { Series, Summary } from './summary.js';

const SYSTEM_LABEL: Record<SystemId, string> = {
  'jobchart-nats': 'jobchart (NATS)',
  'jobchart-memory': 'jobchart (memory)',
  bullmq: 'BullMQ',
};

/** A number for a table cell: thousands separators for big ones, a few significant digits for small. */
export function fmt(x: number | null | undefined, kind: 'rate' | 'ratio' | 'ms' | 'us' | 'count' = 'count'): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '–';
  switch (kind) {
    case 'rate':
      return Math.round(x).toLocaleString('en-US');
    case 'ratio':
      return x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(2);
    case 'ms':
      return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
    case 'us':
      return Math.round(x).toLocaleString('en-US');
    case 'count':
      return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(2);
  }
}

/** Left-aligns the first column, right-aligns the others. */
export function table(rows: readonly (readonly string[])[], indent = '  '): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => indent + row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ').trimEnd())
    .join('\n');
}

const pairHeaders = (pairs: number): string[] => Array.from({ length: pairs }, (_, i) => `pair ${i + 1}`);
const seriesCells = (s: Series, kind: Parameters<typeof fmt>[1], failed: (i: number) => string | null = () => null): string[] => [
  ...s.perPair.map((v, i) => (v === null ? (failed(i) ?? '–') : fmt(v, kind))),
  fmt(s.median, kind),
];

/** A worker's event loop blocked this long is worth a warning (its progress timer fires every 50 ms). */
const SILENCE_WORTH_NOTING_MS = 2_000;

/** What went wrong or looks odd in one run: its failure, duplicate runs, worker output, blocked loops, leftovers in the queue. */
export function runNotes(r: ThroughputResult | LatencyResult): string[] {
  const notes: string[] = [];
  if (r.failure) notes.push(r.failure);
  if (r.scenario === 'throughput' && r.started > r.jobs) notes.push(`${r.started - r.jobs} task runs beyond ${r.jobs} jobs (a job ran twice)`);
  if (r.workerLongestSilenceMs >= SILENCE_WORTH_NOTING_MS) {
    notes.push(`a worker sent no progress for ${(r.workerLongestSilenceMs / 1000).toFixed(1)} s (its event loop ran no timers or I/O)`);
  }
  if (r.scenario === 'throughput') {
    const q = r.queueAfter;
    if ((q['redelivered'] ?? 0) > 0) notes.push(`${q['redelivered']} dispatch messages redelivered`);
    if (r.ok && ((q['stream msgs'] ?? 0) > 0 || (q['ack pending'] ?? 0) > 0)) notes.push(`queue not empty after the run: ${JSON.stringify(q)}`);
    if ((q['failed'] ?? 0) > 0) notes.push(`${q['failed']} BullMQ jobs failed`);
  }
  if (r.workerOutputLines > 0) notes.push(`worker processes wrote ${r.workerOutputLines} lines (the first ones are echoed above)`);
  if (r.diagnosis) notes.push(`state: ${r.diagnosis}`);
  return notes;
}

export interface ReportInput {
  settings: BenchSettings;
  machine: Record<string, string | number>;
  load: { start: number[]; end: number[] };
  unavailable: string[];
  throughput: ThroughputResult[];
  latency: LatencyResult[];
  summary: Summary;
}

export function printReport(input: ReportInput): void {
  const { settings, summary } = input;
  const out: string[] = [];
  const pairs = settings.pairs;
  const load = (xs: number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  out.push('', '=== jobchart vs BullMQ, side by side (runs interleaved A B A B; medians over pairs; ratio = jobchart / BullMQ) ===');
  out.push(Object.entries(input.machine).map(([k, v]) => `${k}: ${v}`).join(' · '));
  out.push(`load average (1/5/15 min) at start: ${load(input.load.start)} · at end: ${load(input.load.end)}`);
  for (const why of input.unavailable) out.push(`NOT RUN: ${why}`);

  const failedCell = (system: SystemId, workers: number, concurrency: number) => (i: number) => {
    const run = input.throughput.find((r) => r.system === system && r.workers === workers && r.concurrency === concurrency && r.pair === i + 1);
    if (!run || run.ok) return null;
    return run.completed > 0 ? `FAIL@${run.completed}` : 'FAIL';
  };

  if (summary.throughput.length > 0 || summary.memory.length > 0) {
    out.push('', `1. No-op jobs/s — ${settings.jobs.toLocaleString('en-US')} jobs pre-filled, then the workers start; timed until every job is finished`);
    const bullmqRan = input.throughput.some((r) => r.system === 'bullmq');
    const rows: string[][] = [['', ...pairHeaders(pairs), 'median']];
    for (const row of summary.throughput) {
      rows.push([`concurrency ${row.concurrency}, ${row.workers} worker process${row.workers > 1 ? 'es' : ''}`]);
      rows.push([`  ${SYSTEM_LABEL['jobchart-nats']}`, ...seriesCells(row.jobchart, 'rate', failedCell('jobchart-nats', row.workers, row.concurrency))]);
      if (!bullmqRan) continue;
      rows.push([`  ${SYSTEM_LABEL.bullmq}`, ...seriesCells(row.bullmq, 'rate', failedCell('bullmq', row.workers, row.concurrency))]);
      rows.push(['  ratio', ...seriesCells(row.ratio, 'ratio')]);
    }
    for (const m of summary.memory) {
      rows.push([`concurrency ${m.concurrency}, memory store (producer + worker in one process)`]);
      rows.push([`  ${SYSTEM_LABEL['jobchart-memory']}`, ...seriesCells(m.jobchart, 'rate', failedCell('jobchart-memory', 1, m.concurrency))]);
      if (bullmqRan) rows.push(['  ratio to BullMQ 1 worker (medians)', ...Array<string>(pairs).fill(''), fmt(m.vsBullmqOneWorker, 'ratio')]);
    }
    out.push(table(rows));
    const scaling = summary.scaling.filter((sc) => bullmqRan || sc.system !== 'bullmq');
    if (scaling.length > 0) {
      out.push(`  scaling, ${scaling[0]?.workers ?? 2} worker processes / 1 — ratio of the medians (per pair):`);
      for (const sc of scaling) {
        out.push(`    ${SYSTEM_LABEL[sc.system]} c${sc.concurrency}: ${fmt(sc.factor.median, 'ratio')}× (${sc.factor.perPair.map((x) => fmt(x, 'ratio')).join(', ')})`);
      }
    }

    out.push('', '2. Cost per job (medians of the throughput runs): CPU µs of the worker processes (go → last job), of the producer (pre-fill), of the server (during the run)');
    const costRows: string[][] = [['', 'worker µs', 'producer µs', 'server µs', 'pre-fill jobs/s']];
    for (const c of summary.costs) {
      costRows.push([`c${c.concurrency} ${c.system === 'jobchart-memory' ? '' : `${c.workers}w `}${SYSTEM_LABEL[c.system]}`, fmt(c.workerCpuMicros, 'us'), fmt(c.producerCpuMicros, 'us'), fmt(c.serverCpuMicros, 'us'), fmt(c.prefillJobsPerSec, 'rate')]);
    }
    out.push(table(costRows));

    out.push(
      '',
      '3. Messages per job at the server (medians). NATS /varz totals and /connz per connection (→ server = published by the client:',
      '   requests, acks, one-way publishes; server → = delivered to it: replies, pushed messages, events). Workers counted from go to',
      '   the end; the producer over pre-fill + run. "workers → server" is the upper bound of the worker side\'s requests per job.',
      '   BullMQ: script calls per job (each one round trip; INFO commandstats) and commands per job (INFO total_commands_processed,',
      '   which counts the commands run inside scripts too).',
    );
    const figures = [...new Set(summary.costs.flatMap((c) => Object.keys(c.messages)))];
    const natsFigures = figures.filter((f) => summary.costs.some((c) => c.system === 'jobchart-nats' && f in c.messages));
    const redisFigures = figures.filter((f) => !natsFigures.includes(f));
    for (const [system, fs] of [['jobchart-nats', natsFigures], ['bullmq', redisFigures]] as const) {
      if (fs.length === 0) continue;
      const rows2: string[][] = [['', ...fs]];
      for (const c of summary.costs.filter((c) => c.system === system)) rows2.push([`c${c.concurrency} ${c.workers}w ${SYSTEM_LABEL[system]}`, ...fs.map((f) => fmt(c.messages[f], 'count'))]);
      out.push(table(rows2));
    }
  }

  if (summary.latency.length > 0) {
    out.push(
      '',
      `4. add→start latency, ms — ${settings.trickleRate} jobs/s for ${settings.trickleSeconds} s, 1 worker process, concurrency ${settings.latencyConcurrency}, first ${settings.warmupSeconds} s dropped`,
    );
    const rows: string[][] = [['', ...pairHeaders(pairs).flatMap((p) => [`${p} p50`, 'p99']), 'median p50', 'p99']];
    for (const l of summary.latency) {
      const cells: string[] = [];
      for (let i = 0; i < pairs; i++) {
        const run = input.latency.find((r) => r.system === l.system && r.concurrency === l.concurrency && r.pair === i + 1);
        const failed = run && !run.ok ? 'FAIL' : '–';
        cells.push(l.p50.perPair[i] === null ? failed : fmt(l.p50.perPair[i], 'ms'), l.p99.perPair[i] === null ? failed : fmt(l.p99.perPair[i], 'ms'));
      }
      rows.push([SYSTEM_LABEL[l.system], ...cells, fmt(l.p50.median, 'ms'), fmt(l.p99.median, 'ms')]);
    }
    out.push(table(rows));
    if (input.latency.some((r) => r.system === 'bullmq')) {
      out.push(
        `  ratio jobchart (NATS) / BullMQ: p50 ${fmt(summary.latencyRatio.p50, 'ratio')}×, p99 ${fmt(summary.latencyRatio.p99, 'ratio')}×` +
          ` · jobchart (memory) / BullMQ p50 ${fmt(summary.latencyRatio.memoryP50, 'ratio')}×`,
      );
    }
  }

  const noted = [...input.throughput, ...input.latency].map((r) => ({ r, notes: runNotes(r) })).filter((x) => x.notes.length > 0);
  if (noted.length > 0) {
    out.push('', 'Failures and warnings:');
    for (const { r, notes } of noted) out.push(`  - ${r.scenario} pair ${r.pair} ${SYSTEM_LABEL[r.system]} ${r.workers}w c${r.concurrency}: ${notes.join('; ')}`);
  }
  console.log(out.join('\n'));
}
