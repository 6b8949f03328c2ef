/**
 * No-op jobs/s: N jobs are pre-filled while the workers are connected but idle, then the workers
 * start; the run lasts from `go` until the last job is finished (result committed, slot released)
 * as the workers count it. Around the run: producer CPU per job (pre-fill), worker CPU per job (from
 * `go` to the last finished job, in each worker process), server CPU per job, and the server's
 * message / command counts per job.
 */
import { wallNow, withTimeout } from '../support/clock.js';
import type { BenchSettings } from '../support/settings.js';
import type { BenchSystem, PerJobFigures, RunCounters, SystemRun } from '../systems/bench-system.js';
import { describeError, type RunIdentity, type RunOutcome } from './run-outcome.js';

export interface ThroughputResult extends RunIdentity, RunOutcome {
  scenario: 'throughput';
  jobs: number;
  /** Task starts and finished jobs the workers counted (starts above `jobs` mean a job ran twice). */
  started: number;
  completed: number;
  seconds: number | null;
  jobsPerSec: number | null;
  prefill: { seconds: number | null; jobsPerSec: number | null; producerCpuMicrosPerJob: number | null };
  cpuMicrosPerJob: { workers: number | null; perWorker: (number | null)[]; producer: number | null; server: number | null };
  messagesPerJob: PerJobFigures;
  /** The queue after the run (NATS dispatch stream: msgs, pending, ack pending, redelivered; BullMQ: job counts). */
  queueAfter: Record<string, number>;
}

export async function runThroughput(system: BenchSystem, identity: RunIdentity, settings: BenchSettings): Promise<ThroughputResult> {
  const jobs = settings.jobs;
  const result: ThroughputResult = {
    scenario: 'throughput',
    ...identity,
    jobs,
    ok: false,
    workerOutputLines: 0,
    workerLongestSilenceMs: 0,
    started: 0,
    completed: 0,
    seconds: null,
    jobsPerSec: null,
    prefill: { seconds: null, jobsPerSec: null, producerCpuMicrosPerJob: null },
    cpuMicrosPerJob: { workers: null, perWorker: [], producer: null, server: null },
    messagesPerJob: {},
    queueAfter: {},
  };
  let run: SystemRun | null = null;
  try {
    run = await withTimeout(system.open({ workers: identity.workers, concurrency: identity.concurrency }), 120_000, `${system.id}: start servers and workers`);
    const c0 = await countersOrNothing(run);
    const pre = await run.prefill(jobs, settings.chunk, settings.stallMs);
    result.prefill = {
      seconds: pre.seconds,
      jobsPerSec: pre.added / pre.seconds,
      producerCpuMicrosPerJob: pre.added > 0 ? pre.cpuMicros / pre.added : null,
    };
    result.cpuMicrosPerJob.producer = result.prefill.producerCpuMicrosPerJob;
    if (pre.failure !== undefined) {
      result.failure = pre.failure;
      result.diagnosis = await run.diagnose().catch(describeError);
      return result;
    }
    const c1 = await countersOrNothing(run);
    const goAt = run.fleet.go();
    const waited = await run.fleet.waitFor(jobs, { count: 'completed', stallMs: settings.stallMs, timeoutMs: settings.runTimeoutMs });
    const finals = await run.fleet.finals();
    const c2 = await countersOrNothing(run);
    result.queueAfter = await run.queueState().catch(() => ({}));
    result.started = finals.reduce((sum, f) => sum + f.started, 0) || waited.started;
    result.completed = finals.reduce((sum, f) => sum + f.completed, 0) || waited.completed;
    const workerCpu = finals.reduce((sum, f) => sum + f.cpuMicros, 0);
    result.cpuMicrosPerJob.perWorker = finals.map((f) => (f.completed > 0 ? f.cpuMicros / f.completed : null));
    result.cpuMicrosPerJob.workers = result.completed > 0 ? workerCpu / result.completed : null;
    result.cpuMicrosPerJob.server = serverCpuPerJob(c1, c2, result.completed);
    result.messagesPerJob = result.completed > 0 ? run.messagesPerJob(c0, c1, c2, jobs) : {};
    if (!waited.ok) {
      result.failure = waited.failure ?? 'unknown';
      result.diagnosis = await run.diagnose().catch(describeError);
      return result;
    }
    const lastAt = Math.max(...finals.map((f) => f.lastCompletedAt ?? Number.NaN));
    const end = Number.isFinite(lastAt) ? lastAt : wallNow();
    result.seconds = (end - goAt) / 1000;
    result.jobsPerSec = jobs / result.seconds;
    result.ok = true;
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

/** The server's counters; a monitoring endpoint that does not answer costs the figures, not the run. */
async function countersOrNothing(run: SystemRun): Promise<RunCounters> {
  try {
    return await run.counters();
  } catch (error) {
    process.stderr.write(`  (server counters unavailable: ${describeError(error)})\n`);
    return { serverCpuMicros: null };
  }
}

function serverCpuPerJob(before: RunCounters, after: RunCounters, jobs: number): number | null {
  if (before.serverCpuMicros === null || after.serverCpuMicros === null || jobs === 0) return null;
  return (after.serverCpuMicros - before.serverCpuMicros) / jobs;
}
