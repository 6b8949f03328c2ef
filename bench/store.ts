/**
 * Store throughput: lease acquire / renew / release per second, sequential and with 256 in flight,
 * on NATS JetStream (a private nats-server from the test helper) and on the memory store; then the
 * end-to-end store path of one job as the runtime drives it (add → fetch → acquire → commit → ack:
 * one publish on the producer side; a fetch share, a create and the fenced commit on the worker side,
 * the ack one-way) per second.
 * Each phase also reports this process's CPU per operation (`process.cpuUsage()`, user + system,
 * over the whole phase): the client-side cost a node pays, since nats-server is another process.
 * Run: `npx tsx bench/store.ts` (or `npm run bench:store`). Prints a table, then one JSON line.
 */
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { memoryStore } from '../src/store/memory/memory-store.js';
import { natsStore } from '../src/store/nats/nats-store.js';
import { isLeaseLost, type Lease } from '../src/store/lease.js';
import type { StoreBackend, StoreFactory } from '../src/store/store-backend.js';
import { jobLeaseKey } from '../src/store/store-keys.js';
import { startNatsServer } from '../test/support/nats-server.js';

const SEQUENTIAL = Number(process.env['BENCH_SEQUENTIAL'] ?? 2000);
const PARALLEL = Number(process.env['BENCH_PARALLEL'] ?? 20_000);
const IN_FLIGHT = 256;
const JOBS = Number(process.env['BENCH_JOBS'] ?? 5000);

type Phase = 'acquire' | 'renew' | 'release';
interface Row {
  backend: string;
  mode: string;
  ops: number;
  perSecond: Record<Phase, number>;
  /** This process's CPU (user + system) per operation, in µs. */
  cpuUsPerOp: Record<Phase, number>;
}

interface Rate {
  perSecond: number;
  cpuUsPerOp: number;
}

/** Runs `work(i)` for i in [0, n) with at most `concurrency` in flight; ops/s and CPU µs per op. */
async function rate(n: number, concurrency: number, work: (i: number) => Promise<void>): Promise<Rate> {
  let next = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await work(next++);
    }),
  );
  const elapsedMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return {
    perSecond: Math.round(n / (elapsedMs / 1000)),
    cpuUsPerOp: Math.round(((used.user + used.system) / n) * 10) / 10,
  };
}

async function leaseRow(store: StoreBackend, backend: string, mode: string, n: number, concurrency: number): Promise<Row> {
  const run = `${mode}-${Date.now()}`;
  const leases: Lease[] = new Array(n);
  const acquire = await rate(n, concurrency, async (i) => {
    const lease = await store.leases.acquire(jobLeaseKey(`${run}-${i}`), 'bench');
    if (!lease) throw new Error(`lease ${i} not acquired`);
    leases[i] = lease;
  });
  const renew = await rate(n, concurrency, async (i) => {
    const renewed = await store.leases.renew(leases[i]!);
    if (isLeaseLost(renewed)) throw new Error(`lease ${i} lost: ${renewed.reason}`);
    leases[i] = renewed;
  });
  const release = await rate(n, concurrency, async (i) => {
    const released = await store.leases.release(leases[i]!);
    if (isLeaseLost(released)) throw new Error(`lease ${i} lost on release: ${released.reason}`);
  });
  return {
    backend,
    mode,
    ops: n,
    perSecond: { acquire: acquire.perSecond, renew: renew.perSecond, release: release.perSecond },
    cpuUsPerOp: { acquire: acquire.cpuUsPerOp, renew: renew.cpuUsPerOp, release: release.cpuUsPerOp },
  };
}

/**
 * The store side of one job, as the runtime drives it: add → fetch → acquire → commit → ack. The
 * clock stops when the last job is committed (workers still waiting for more are then aborted),
 * so the figure does not include the idle tail of a fetch wait.
 */
async function jobCycles(store: StoreBackend, n: number): Promise<Rate> {
  const run = `cycle-${Date.now()}`;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const finished = new AbortController();
  setMaxListeners(0, finished.signal); // one listener per waiting fetch, 16 workers
  let done = 0;
  let measured: Rate | null = null;
  const jobDone = (): void => {
    if (++done < n) return;
    const elapsedMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    measured = {
      perSecond: Math.round(n / (elapsedMs / 1000)),
      cpuUsPerOp: Math.round(((used.user + used.system) / n) * 10) / 10,
    };
    finished.abort();
  };
  const producer = rate(n, 64, async (i) => {
    const [outcome] = await store.jobs.add([{ id: `${run}-${i}`, task: 'bench', args: i, createdAt: new Date(), attempt: 1, resultTtlMs: 60_000 }]);
    if (outcome !== 'queued') throw new Error(`job ${i} not queued: ${outcome}`);
  });
  const worker = async (): Promise<void> => {
    while (!finished.signal.aborted) {
      const deliveries = await store.jobs.fetch(16, { expiresMs: 1000, signal: finished.signal });
      await Promise.all(
        deliveries.map(async (delivery) => {
          if (!delivery.job) throw new Error(`job ${delivery.jobId}: corrupt message (${delivery.corrupt?.message})`);
          const acquired = await store.jobs.acquire(delivery, delivery.job, 'bench');
          if (acquired.status !== 'acquired') throw new Error(`job ${delivery.jobId} not acquired: ${acquired.status}`);
          const outcome = await store.jobs.commit(
            acquired.lease,
            { jobId: delivery.jobId, outcome: 'success', returnValue: delivery.job.args, finishedAt: new Date(), attempt: acquired.job.attempt },
            { resultTtlMs: 60_000 },
          );
          if (!('status' in outcome)) throw new Error(`job ${delivery.jobId}: lease lost (${outcome.reason})`);
          delivery.ack();
          jobDone();
        }),
      );
    }
  };
  await Promise.all([producer, ...Array.from({ length: 16 }, worker)]);
  if (!measured) throw new Error(`only ${done} of ${n} jobs done`);
  return measured;
}

async function measure(factory: StoreFactory, backend: string, scale: number) {
  const store = await factory.open({ leaseDurationMs: 30_000, resultSweepIntervalMs: 0 });
  try {
    const rows = [
      await leaseRow(store, backend, 'sequential', Math.round(SEQUENTIAL * scale), 1),
      await leaseRow(store, backend, `${IN_FLIGHT} in flight`, Math.round(PARALLEL * scale), IN_FLIGHT),
    ];
    const jobs = await jobCycles(store, Math.round(JOBS * scale));
    return { rows, jobs };
  } finally {
    await store.close();
  }
}

const server = await startNatsServer();
try {
  const nats = await measure(natsStore({ servers: server.url, prefix: 'bench' }), 'nats', 1);
  const memory = await measure(memoryStore(), 'memory', 5);
  const rows = [...nats.rows, ...memory.rows];
  const cell = (perSecond: number, cpuUs: number, width: number): string =>
    `${perSecond} (${cpuUs.toFixed(1)})`.padStart(width);
  console.log('ops/s (CPU µs per op of this process)');
  console.log('backend  mode             ops        acquire/s            renew/s          release/s');
  for (const r of rows) {
    console.log(
      `${r.backend.padEnd(8)} ${r.mode.padEnd(16)} ${String(r.ops).padStart(6)}  ${cell(r.perSecond.acquire, r.cpuUsPerOp.acquire, 17)}  ${cell(r.perSecond.renew, r.cpuUsPerOp.renew, 17)}  ${cell(r.perSecond.release, r.cpuUsPerOp.release, 17)}`,
    );
  }
  console.log(
    'job store path add → fetch → acquire → commit → ack (64 producers; 16 workers fetching batches of 16, run concurrently): ' +
      `nats ${nats.jobs.perSecond} jobs/s (${nats.jobs.cpuUsPerOp} µs CPU/job), ` +
      `memory ${memory.jobs.perSecond} jobs/s (${memory.jobs.cpuUsPerOp} µs CPU/job)`,
  );
  console.log(
    JSON.stringify({
      bench: 'store',
      host: hostname(),
      node: process.version,
      natsServer: '2.9.10',
      inFlight: IN_FLIGHT,
      leases: rows,
      jobsPerSecond: { nats: nats.jobs.perSecond, memory: memory.jobs.perSecond },
      jobCpuUsPerJob: { nats: nats.jobs.cpuUsPerOp, memory: memory.jobs.cpuUsPerOp },
    }),
  );
} finally {
  await server.dispose();
}
