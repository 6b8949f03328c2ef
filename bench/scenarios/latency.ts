/**
 * add→start latency under a trickle: one worker process runs, then the producer adds single jobs at
 * a steady rate (500/s for 10 s by default), each stamped with the wall time just before its add;
 * the worker records now − stamp as the task starts. The first second's samples are warm-up.
 */
import { sleep, withTimeout } from '../support/clock.js';
import type { BenchSettings } from '../support/settings.js';
import { percentile } from '../support/stats.js';
import type { BenchSystem, SystemRun } from '../systems/bench-system.js';
import { describeError, type RunIdentity, type RunOutcome } from './run-outcome.js';

/** Time the workers get between `go` and the first add (connect, first fetch). */
const SETTLE_MS = 1_000;

export interface LatencyResult extends RunIdentity, RunOutcome {
  scenario: 'latency';
  rate: number;
  seconds: number;
  /** Adds issued / resolved / failed, and the achieved add rate. */
  issued: number;
  added: number;
  addFailures: number;
  achievedRate: number | null;
  /** Samples reported (after the warm-up). */
  samples: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
  /** Worker CPU per job at this rate, idle time between jobs included. */
  workerCpuMicrosPerJob: number | null;
}

export async function runLatency(system: BenchSystem, identity: RunIdentity, settings: BenchSettings): Promise<LatencyResult> {
  const result: LatencyResult = {
    scenario: 'latency',
    ...identity,
    ok: false,
    workerOutputLines: 0,
    workerLongestSilenceMs: 0,
    rate: settings.trickleRate,
    seconds: settings.trickleSeconds,
    issued: 0,
    added: 0,
    addFailures: 0,
    achievedRate: null,
    samples: 0,
    p50: null,
    p99: null,
    max: null,
    workerCpuMicrosPerJob: null,
  };
  let run: SystemRun | null = null;
  try {
    run = await withTimeout(system.open({ workers: identity.workers, concurrency: identity.concurrency }), 120_000, `${system.id}: start servers and workers`);
    run.fleet.go();
    await sleep(SETTLE_MS);
    const added = await run.trickle(settings.trickleRate, settings.trickleSeconds);
    result.issued = added.issued;
    result.added = added.added;
    result.addFailures = added.failed;
    result.achievedRate = added.issued / added.seconds;
    const waited = await run.fleet.waitFor(added.added, { count: 'started', stallMs: settings.stallMs, timeoutMs: settings.runTimeoutMs });
    const finals = await run.fleet.finals();
    const latencies = finals.flatMap((f) => f.latencies);
    const measured = latencies.slice(Math.min(latencies.length, settings.warmupSeconds * settings.trickleRate));
    result.samples = measured.length;
    result.p50 = percentile(measured, 50);
    result.p99 = percentile(measured, 99);
    result.max = measured.length > 0 ? Math.max(...measured) : null;
    const completed = finals.reduce((sum, f) => sum + f.completed, 0);
    result.workerCpuMicrosPerJob = completed > 0 ? finals.reduce((sum, f) => sum + f.cpuMicros, 0) / completed : null;
    const problems: string[] = [];
    if (!waited.ok) problems.push(waited.failure ?? 'unknown');
    if (added.failed > 0) problems.push(`${added.failed} of ${added.issued} adds failed (${added.firstError ?? '?'})`);
    if (added.pending > 0) problems.push(`${added.pending} adds never resolved`);
    if (problems.length > 0) {
      result.failure = problems.join('; ');
      if (!waited.ok) result.diagnosis = await run.diagnose().catch(describeError);
    }
    result.ok = waited.ok && added.failed === 0 && added.pending === 0;
    return result;
  } catch (error) {
    result.failure = describeError(error);
    return result;
  } finally {
    if (run) {
      result.workerOutputLines = run.fleet.outputLines;
      result.workerLongestSilenceMs = run.fleet.longestSilenceMs;
      await run.close().catch((error: unknown) => {
        result.failure = [result.failure, `close: ${describeError(error)}`].filter(Boolean).join('; ');
      });
    }
  }
}
