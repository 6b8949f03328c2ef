/**
 * The bench's knobs, all from the environment so a quick run is one line
 * (`BENCH_JOBS=2000 BENCH_PAIRS=1 npm run bench`). Besides these: NATS_SERVER_BIN, REDIS_SERVER_BIN
 * (where the servers are), BENCH_WORKER_NODE_ARGS (node flags for the worker processes, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
export function intEnv(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}=${raw}: expected an integer >= ${min}`);
  return n;
}

function listEnv(name: string, fallback: readonly number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return [...fallback];
  const xs = raw.split(',').map((s) => Number(s.trim()));
  if (xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`${name}=${raw}: expected a comma-separated list of integers >= 1`);
  return xs;
}

export function wordsEnv(name: string, fallback: readonly string[], allowed: readonly string[]): string[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return [...fallback];
  const words = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = words.filter((w) => !allowed.includes(w));
  if (unknown.length > 0) throw new Error(`${name}=${raw}: unknown ${unknown.join(', ')}; use some of ${allowed.join(', ')}`);
  return words;
}

export const SCENARIOS = ['throughput', 'latency'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchSettings {
  /** Jobs pre-filled per throughput run (BENCH_JOBS, default 20,000). */
  jobs: number;
  /** Interleaved jobchart/BullMQ pairs of every configuration (BENCH_PAIRS, default 3). */
  pairs: number;
  /** Worker concurrencies of the throughput runs (BENCH_CONCURRENCY, default 50,200). */
  concurrencies: number[];
  /** Worker process counts of the NATS/BullMQ throughput runs (BENCH_WORKERS, default 1,2). */
  workerCounts: number[];
  /** Jobs per `addJobs` / `addBulk` call while pre-filling (BENCH_CHUNK, default 1,000). */
  chunk: number;
  /** Trickle rate of the latency runs, jobs/s (BENCH_TRICKLE_RATE, default 500). */
  trickleRate: number;
  /** Trickle length, seconds (BENCH_TRICKLE_SECONDS, default 10). */
  trickleSeconds: number;
  /** Samples of the trickle's first second are warm-up, not reported (BENCH_WARMUP_SECONDS, default 1). */
  warmupSeconds: number;
  /** Worker concurrency of the latency runs (BENCH_LATENCY_CONCURRENCY, default 50). */
  latencyConcurrency: number;
  /** A run with no progress for this long is reported as stalled (BENCH_STALL_SECONDS, default 30). */
  stallMs: number;
  /** Hard cap on one run's wait (BENCH_RUN_TIMEOUT_SECONDS, default 900). */
  runTimeoutMs: number;
  /** Which scenarios run (BENCH_SCENARIOS, default throughput,latency). */
  scenarios: ScenarioName[];
  /** Whether the in-process memory store runs too (BENCH_MEMORY, default 1). */
  memory: boolean;
}

export function readSettings(): BenchSettings {
  return {
    jobs: intEnv('BENCH_JOBS', 20_000),
    pairs: intEnv('BENCH_PAIRS', 3),
    concurrencies: listEnv('BENCH_CONCURRENCY', [50, 200]),
    workerCounts: listEnv('BENCH_WORKERS', [1, 2]),
    chunk: intEnv('BENCH_CHUNK', 1_000),
    trickleRate: intEnv('BENCH_TRICKLE_RATE', 500),
    trickleSeconds: intEnv('BENCH_TRICKLE_SECONDS', 10),
    warmupSeconds: intEnv('BENCH_WARMUP_SECONDS', 1, 0),
    latencyConcurrency: intEnv('BENCH_LATENCY_CONCURRENCY', 50),
    stallMs: intEnv('BENCH_STALL_SECONDS', 30) * 1000,
    runTimeoutMs: intEnv('BENCH_RUN_TIMEOUT_SECONDS', 900) * 1000,
    scenarios: wordsEnv('BENCH_SCENARIOS', SCENARIOS, SCENARIOS) as ScenarioName[],
    memory: intEnv('BENCH_MEMORY', 1, 0) !== 0,
  };
}
