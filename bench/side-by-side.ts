/**
 * The side-by-side run: every configuration as interleaved pairs (jobchart, then BullMQ, with the
 * same plan), the memory store after each concurrency's pairs, then the latency trickle; progress on
 * stderr, the report and the JSON line on stdout. A run that fails is reported and the bench goes on.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { findNatsServerBinary } from '../test/support/nats-server.js';
import { runLatency, type LatencyResult } from './scenarios/latency.js';
import type { RunIdentity } from './scenarios/run-outcome.js';
import { runThroughput, type ThroughputResult } from './scenarios/throughput.js';
import { findRedisServerBinary } from './support/redis-server.js';
import { fmt, printReport, runNotes } from './support/report.js';
import type { BenchSettings } from './support/settings.js';
import { round } from './support/stats.js';
import { summarize } from './support/summary.js';
import type { BenchSystem } from './systems/bench-system.js';
import { bullmq } from './systems/bullmq.js';
import { jobchartMemory } from './systems/jobchart-memory.js';
import { jobchartNats } from './systems/jobchart-nats.js';
import { fromSource } from './support/jobchart-lib.js';

export async function runSideBySide(settings: BenchSettings): Promise<void> {
  const loadStart = loadavg();
  const unavailable = [jobchartNats, bullmq].flatMap((s) => (s.unavailable ? [`${s.id}: ${s.unavailable}`] : []));
  const canRun = (s: BenchSystem): boolean => s.unavailable === null;
  const machine = describeMachine();
  log(`bench: ${Object.entries(machine).map(([k, v]) => `${k} ${v}`).join(', ')}; load ${loadStart.map((x) => x.toFixed(2)).join(' ')}`);
  log(
    `bench: ${settings.pairs} pair(s) · ${settings.jobs} jobs · concurrency ${settings.concurrencies.join(',')} · workers ${settings.workerCounts.join(',')} · ` +
      `scenarios ${settings.scenarios.join(',')}${settings.memory ? ' · memory store' : ''}`,
  );
  for (const why of unavailable) log(`bench: NOT RUN — ${why}${why.startsWith('bullmq') ? '; reporting jobchart alone' : ''}`);

  const throughput: ThroughputResult[] = [];
  const latency: LatencyResult[] = [];
  const t0 = Date.now();
  for (let pair = 1; pair <= settings.pairs; pair++) {
    if (settings.scenarios.includes('throughput')) {
      for (const concurrency of settings.concurrencies) {
        for (const workers of settings.workerCounts) {
          for (const system of [jobchartNats, bullmq].filter(canRun)) {
            throughput.push(noteThroughput(await runThroughput(system, { system: system.id, workers, concurrency, pair }, settings), t0));
          }
        }
        if (settings.memory) {
          throughput.push(noteThroughput(await runThroughput(jobchartMemory, { system: jobchartMemory.id, workers: 1, concurrency, pair }, settings), t0));
        }
      }
    }
    if (settings.scenarios.includes('latency')) {
      const systems = [jobchartNats, bullmq].filter(canRun);
      if (settings.memory) systems.push(jobchartMemory);
      for (const system of systems) {
        const identity: RunIdentity = { system: system.id, workers: 1, concurrency: settings.latencyConcurrency, pair };
        latency.push(noteLatency(await runLatency(system, identity, settings), t0));
      }
    }
  }

  const loadEnd = loadavg();
  const summary = summarize(throughput, latency, settings.pairs);
  printReport({ settings, machine, load: { start: loadStart, end: loadEnd }, unavailable, throughput, latency, summary });
  console.log(
    JSON.stringify(
      {
        bench: 'jobchart-vs-bullmq',
        settings,
        machine,
        load: { start: loadStart.map((x) => round(x)), end: loadEnd.map((x) => round(x)) },
        notRun: unavailable,
        summary,
        runs: [...throughput, ...latency],
      },
      (_key, value: unknown) => (typeof value === 'number' ? round(value, 3) : value),
    ),
  );
}

function noteThroughput(r: ThroughputResult, t0: number): ThroughputResult {
  const head = `[${elapsed(t0)}] pair ${r.pair} throughput ${r.system} ${r.workers}w c${r.concurrency}:`;
  if (r.ok) {
    log(
      `${head} ${fmt(r.jobsPerSec, 'rate')} jobs/s (${r.jobs} in ${r.seconds?.toFixed(2)} s; pre-fill ${fmt(r.prefill.jobsPerSec, 'rate')}/s); ` +
        `CPU µs/job worker ${fmt(r.cpuMicrosPerJob.workers, 'us')}, producer ${fmt(r.cpuMicrosPerJob.producer, 'us')}, server ${fmt(r.cpuMicrosPerJob.server, 'us')}` +
        Object.entries(r.messagesPerJob)
          .map(([k, v]) => `; ${k} ${fmt(v, 'count')}`)
          .join(''),
    );
  } else {
    log(`${head} FAILED`);
  }
  const notes = runNotes(r);
  if (notes.length > 0) log(`    ! ${notes.join('; ')}`);
  return r;
}

function noteLatency(r: LatencyResult, t0: number): LatencyResult {
  const head = `[${elapsed(t0)}] pair ${r.pair} latency ${r.system} c${r.concurrency}:`;
  const figures = `p50 ${fmt(r.p50, 'ms')} ms, p99 ${fmt(r.p99, 'ms')} ms, max ${fmt(r.max, 'ms')} ms (${r.samples} samples, ${fmt(r.achievedRate, 'rate')} adds/s)`;
  log(r.ok ? `${head} ${figures}` : `${head} FAILED; ${figures}`);
  const notes = runNotes(r);
  if (notes.length > 0) log(`    ! ${notes.join('; ')}`);
  return r;
}

function elapsed(t0: number): string {
  const s = Math.round((Date.now() - t0) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function describeMachine(): Record<string, string | number> {
  const version = (bin: string | null, args: string[], pattern: RegExp): string => {
    if (!bin) return 'absent';
    try {
      return pattern.exec(execFileSync(bin, args, { encoding: 'utf8', timeout: 5_000 }))?.[1] ?? '?';
    } catch {
      return '?';
    }
  };
  const packageVersion = (name: string): string => {
    try {
      return (JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      return '?';
    }
  };
  const cpuList = cpus();
  return {
    cpus: cpuList.length,
    'cpu model': cpuList[0]?.model.trim() ?? '?',
    node: process.version,
    'nats-server': version(findNatsServerBinary(), ['--version'], /v?(\d+\.\d+\.\d+)/),
    'redis-server': version(findRedisServerBinary(), ['--version'], /v=(\d+\.\d+\.\d+)/),
    bullmq: packageVersion('bullmq'),
    jobchart: fromSource ? 'src/ through tsx (BENCH_FROM_SOURCE=1)' : 'dist/ (built at start)',
  };
}
