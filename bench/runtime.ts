/**
 * `npm run bench`: end-to-end numbers on the NATS store (a private nats-server on loopback).
 *  1. jobs/s add → result for no-op jobs with 1 and with 2 worker nodes (in this process, each with
 *     its own connection; on 2 cores the nodes, the server and the producer share the CPU);
 *  2. add → start latency p50/p99 (from the args' timestamp to the task's first line);
 *  3. fire lateness p50/p99 for 1,000 interval schedules firing every second (fire time → task start).
 * Prints a readable report and, on the last line, the same numbers as JSON.
 */
import { createRuntime, interval, natsStore, type Runtime } from '../src/index.js';
import { startNatsServer } from '../test/support/nats-server.js';

const JOBS = Number(process.env['BENCH_JOBS'] ?? 5_000);
const SCHEDULES = Number(process.env['BENCH_SCHEDULES'] ?? 1_000);
const FIRE_SECONDS = Number(process.env['BENCH_FIRE_SECONDS'] ?? 6);

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
};

async function node(url: string, prefix: string, opts: { role: 'worker' | 'scheduler' | 'both'; latencies?: number[]; lateness?: number[] }): Promise<Runtime> {
  const rt = await createRuntime({
    store: natsStore({ servers: url, prefix }),
    role: opts.role,
    maxConcurrentJobs: 200,
    leaseDuration: '30s',
    pollInterval: process.env['BENCH_POLL'] ?? '1s',
  });
  rt.task('noop', (args: { addedAt?: number }) => {
    if (args?.addedAt !== undefined) opts.latencies?.push(Date.now() - args.addedAt);
    return null;
  });
  rt.task('tick', (_args, ctx) => {
    if (ctx.scheduledFireTime) opts.lateness?.push(Date.now() - ctx.scheduledFireTime.getTime());
  });
  await rt.start();
  return rt;
}

async function throughput(url: string, workers: number): Promise<{ jobsPerSec: number; p50: number; p99: number }> {
  const prefix = `bench${workers}`;
  const latencies: number[] = [];
  const nodes = await Promise.all(Array.from({ length: workers }, () => node(url, prefix, { role: 'worker', latencies })));
  const client = await createRuntime({ store: natsStore({ servers: url, prefix }), leaseDuration: '30s' });
  // Warm-up (connections, consumers, JIT).
  await Promise.all(Array.from({ length: 200 }, () => client.runJob('noop', {})));
  latencies.length = 0;
  const t0 = performance.now();
  const inFlight = 256;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < JOBS) {
      next++;
      await client.runJob('noop', { addedAt: Date.now() });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const seconds = (performance.now() - t0) / 1000;
  await client.stop();
  await Promise.all(nodes.map((n) => n.stop()));
  return { jobsPerSec: Math.round(JOBS / seconds), p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

async function fireLateness(url: string): Promise<{ fires: number; p50: number; p99: number; max: number }> {
  const prefix = 'benchfire';
  const lateness: number[] = [];
  const rt = await node(url, prefix, { role: 'both', lateness });
  const start = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000);
  for (let i = 0; i < SCHEDULES; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, SCHEDULES - i) }, (_, k) =>
        rt.addSchedule({ id: `s${i + k}`, task: 'tick', trigger: interval('1s', { start }) }),
      ),
    );
  }
  await new Promise((r) => setTimeout(r, start.getTime() - Date.now() + FIRE_SECONDS * 1000 + 500));
  await rt.stop({ drain: false });
  return { fires: lateness.length, p50: pct(lateness, 50), p99: pct(lateness, 99), max: Math.max(...lateness) };
}

const server = await startNatsServer();
try {
  const one = await throughput(server.url, 1);
  console.log(`1 worker node : ${one.jobsPerSec} jobs/s add→result (${JOBS} no-op jobs, 256 in flight); add→start p50 ${one.p50} ms, p99 ${one.p99} ms`);
  const two = await throughput(server.url, 2);
  console.log(`2 worker nodes: ${two.jobsPerSec} jobs/s add→result; add→start p50 ${two.p50} ms, p99 ${two.p99} ms`);
  const fire = await fireLateness(server.url);
  console.log(
    `${SCHEDULES} interval schedules @1s for ${FIRE_SECONDS}s: ${fire.fires} fires (expected ~${SCHEDULES * FIRE_SECONDS}); fire→start lateness p50 ${fire.p50} ms, p99 ${fire.p99} ms, max ${fire.max} ms`,
  );
  console.log(JSON.stringify({ jobs: JOBS, oneWorker: one, twoWorkers: two, schedules: SCHEDULES, fireLateness: fire }));
} finally {
  await server.dispose();
}
