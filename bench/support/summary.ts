/**
 * Medians and ratios from the interleaved runs: for every configuration, each pair's figures, their
 * medians and jobchart/BullMQ as the ratio of medians (and per pair, for the spread).
 */
import type { LatencyResult } from '../scenarios/latency.js';
import type { ThroughputResult } from '../scenarios/throughput.js';
import type { SystemId } from '../systems/bench-system.js';
import { median, ratio } from './stats.js';

export interface Series {
  /** One value per pair (null where that run failed). */
  perPair: (number | null)[];
  median: number | null;
}

export interface ThroughputRow {
  concurrency: number;
  workers: number;
  jobchart: Series;
  bullmq: Series;
  /** jobchart/BullMQ per pair and of the medians. */
  ratio: Series;
}

export interface CostRow {
  system: SystemId;
  concurrency: number;
  workers: number;
  workerCpuMicros: number | null;
  producerCpuMicros: number | null;
  serverCpuMicros: number | null;
  prefillJobsPerSec: number | null;
  /** Median per figure over the pairs. */
  messages: Record<string, number | null>;
}

export interface LatencyRow {
  system: SystemId;
  concurrency: number;
  p50: Series;
  p99: Series;
}

export interface Summary {
  throughput: ThroughputRow[];
  memory: { concurrency: number; jobchart: Series; vsBullmqOneWorker: number | null }[];
  /** Jobs/s with the largest worker count over jobs/s with one, per system and concurrency: per pair and of the medians. */
  scaling: { system: SystemId; concurrency: number; workers: number; factor: Series }[];
  costs: CostRow[];
  latency: LatencyRow[];
  latencyRatio: { p50: number | null; p99: number | null; memoryP50: number | null };
}

const nn = (x: number): number | null => (Number.isFinite(x) ? x : null);

function series(values: (number | null)[]): Series {
  return { perPair: values, median: nn(median(values)) };
}

function byPair<T extends { pair: number }>(runs: readonly T[], pairs: number, pick: (run: T) => number | null): (number | null)[] {
  return Array.from({ length: pairs }, (_, i) => {
    const run = runs.find((r) => r.pair === i + 1);
    return run ? pick(run) : null;
  });
}

export function summarize(throughput: readonly ThroughputResult[], latency: readonly LatencyResult[], pairs: number): Summary {
  const tp = (system: SystemId, workers: number, concurrency: number): ThroughputResult[] =>
    throughput.filter((r) => r.system === system && r.workers === workers && r.concurrency === concurrency);
  const okRate = (r: ThroughputResult): number | null => (r.ok ? r.jobsPerSec : null);

  const plans = uniquePlans(throughput.filter((r) => r.system !== 'jobchart-memory'));
  const rows: ThroughputRow[] = plans.map(({ workers, concurrency }) => {
    const jc = byPair(tp('jobchart-nats', workers, concurrency), pairs, okRate);
    const bq = byPair(tp('bullmq', workers, concurrency), pairs, okRate);
    const jcSeries = series(jc);
    const bqSeries = series(bq);
    return {
      concurrency,
      workers,
      jobchart: jcSeries,
      bullmq: bqSeries,
      ratio: { perPair: jc.map((j, i) => nn(ratio(j, bq[i]))), median: nn(ratio(jcSeries.median, bqSeries.median)) },
    };
  });

  const memoryConcurrencies = [...new Set(throughput.filter((r) => r.system === 'jobchart-memory').map((r) => r.concurrency))];
  const memory = memoryConcurrencies.map((concurrency) => {
    const jobchart = series(byPair(tp('jobchart-memory', 1, concurrency), pairs, okRate));
    const bullOne = rows.find((r) => r.workers === 1 && r.concurrency === concurrency)?.bullmq.median ?? null;
    return { concurrency, jobchart, vsBullmqOneWorker: nn(ratio(jobchart.median, bullOne)) };
  });

  const scaling: Summary['scaling'] = [];
  for (const system of ['jobchart-nats', 'bullmq'] as const) {
    for (const concurrency of [...new Set(rows.map((r) => r.concurrency))]) {
      const mine = rows.filter((r) => r.concurrency === concurrency).sort((a, b) => a.workers - b.workers);
      const one = mine.find((r) => r.workers === 1);
      const most = mine[mine.length - 1];
      if (!one || !most || most.workers === 1) continue;
      const pick = (r: ThroughputRow): Series => (system === 'jobchart-nats' ? r.jobchart : r.bullmq);
      const perPair = pick(most).perPair.map((x, i) => nn(ratio(x, pick(one).perPair[i])));
      scaling.push({ system, concurrency, workers: most.workers, factor: { perPair, median: nn(ratio(pick(most).median, pick(one).median)) } });
    }
  }

  const costs: CostRow[] = [];
  for (const { workers, concurrency, system } of uniqueConfigs(throughput)) {
    const runs = tp(system, workers, concurrency).filter((r) => r.completed > 0);
    const figures = [...new Set(runs.flatMap((r) => Object.keys(r.messagesPerJob)))];
    costs.push({
      system,
      concurrency,
      workers,
      workerCpuMicros: nn(median(runs.map((r) => r.cpuMicrosPerJob.workers))),
      producerCpuMicros: nn(median(runs.map((r) => r.cpuMicrosPerJob.producer))),
      serverCpuMicros: nn(median(runs.map((r) => r.cpuMicrosPerJob.server))),
      prefillJobsPerSec: nn(median(runs.map((r) => r.prefill.jobsPerSec))),
      messages: Object.fromEntries(figures.map((f) => [f, nn(median(runs.map((r) => r.messagesPerJob[f] ?? null)))])),
    });
  }

  const latencyRows: LatencyRow[] = [...new Set(latency.map((r) => `${r.system}|${r.concurrency}`))].map((key) => {
    const [system, c] = key.split('|') as [SystemId, string];
    const runs = latency.filter((r) => r.system === system && r.concurrency === Number(c));
    return {
      system,
      concurrency: Number(c),
      p50: series(byPair(runs, pairs, (r) => (r.ok ? r.p50 : null))),
      p99: series(byPair(runs, pairs, (r) => (r.ok ? r.p99 : null))),
    };
  });
  const lat = (system: SystemId): LatencyRow | undefined => latencyRows.find((r) => r.system === system);
  return {
    throughput: rows,
    memory,
    scaling,
    costs,
    latency: latencyRows,
    latencyRatio: {
      p50: nn(ratio(lat('jobchart-nats')?.p50.median, lat('bullmq')?.p50.median)),
      p99: nn(ratio(lat('jobchart-nats')?.p99.median, lat('bullmq')?.p99.median)),
      memoryP50: nn(ratio(lat('jobchart-memory')?.p50.median, lat('bullmq')?.p50.median)),
    },
  };
}

function uniquePlans(runs: readonly { workers: number; concurrency: number }[]): { workers: number; concurrency: number }[] {
  const seen = new Map<string, { workers: number; concurrency: number }>();
  for (const r of runs) seen.set(`${r.concurrency}|${r.workers}`, { workers: r.workers, concurrency: r.concurrency });
  return [...seen.values()].sort((a, b) => a.concurrency - b.concurrency || a.workers - b.workers);
}

function uniqueConfigs<T extends { system: SystemId; workers: number; concurrency: number }>(runs: readonly T[]): { system: SystemId; workers: number; concurrency: number }[] {
  const seen = new Map<string, { system: SystemId; workers: number; concurrency: number }>();
  for (const r of runs) seen.set(`${r.concurrency}|${r.workers}|${r.system}`, { system: r.system, workers: r.workers, concurrency: r.concurrency });
  return [...seen.values()].sort((a, b) => a.concurrency - b.concurrency || a.workers - b.workers || a.system.localeCompare(b.system));
}
