/**
 * `npm run bench:machines`: what XState itself costs per job on this machine — the floor under any
 * design that keeps one statechart actor per job. No store, no I/O: every effect answers at once.
 *
 * 1. bare — a 4-state machine with no actions (create, start, 3 events, final state) under a parent
 *    that takes its done event: the least an actor per job can cost.
 * 2. job machine under the worker — jobchart's job machine (acquire → run → commit → done, each
 *    effect answered a microtask later, as a store would) created by jobchart's worker machine, whose
 *    fetch is answered at once from a counter: the XState share of one no-op job in the runtime
 *    (the job actor's 4 macrosteps, the worker's SLOT_RELEASED and done event, a share of a fetch).
 *
 * CPU µs per job (process.cpuUsage), median of BENCH_ROUNDS (5) rounds of BENCH_MACHINE_JOBS (50,000)
 * jobs, concurrency 200. Measures dist/ (built first) unless BENCH_FROM_SOURCE=1.
 */
import { cpus } from 'node:os';
import { createActor, setup, type AnyActorRef } from 'xstate';
import type * as JobMachineModule from '../src/machines/job-machine.js';
import type * as WorkerMachineModule from '../src/machines/worker-machine.js';
import type { FetchedJob } from '../src/machines/worker-types.js';
import { buildDistUnlessFromSource, fromSource } from './support/build-dist.js';

buildDistUnlessFromSource();
const machines = (name: string): string => new URL(fromSource ? `../src/machines/${name}.ts` : `../dist/machines/${name}.js`, import.meta.url).href;
const { jobMachine } = (await import(machines('job-machine'))) as typeof JobMachineModule;
const { workerMachine } = (await import(machines('worker-machine'))) as typeof WorkerMachineModule;

const jobs = Number(process.env['BENCH_MACHINE_JOBS'] ?? 50_000);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 5);
const concurrency = 200;

const bare = setup({}).createMachine({
  initial: 'a',
  states: { a: { on: { E1: 'b' } }, b: { on: { E2: 'c' } }, c: { on: { E3: 'd' } }, d: { type: 'final' } },
});

function cpuMicros(run: () => void): number {
  const before = process.cpuUsage();
  run();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

/** Scenario 1: bare actors, one after another, under a parent that takes their done events. */
function runBare(): Promise<number> {
  const parent = createActor(setup({}).createMachine({ on: { 'xstate.done.actor.job': {} } }));
  parent.start();
  return Promise.resolve(
    cpuMicros(() => {
      for (let i = 0; i < jobs; i++) {
        const actor = createActor(bare, { parent, id: 'job' });
        actor.start();
        actor.send({ type: 'E1' });
        actor.send({ type: 'E2' });
        actor.send({ type: 'E3' });
      }
    }) / jobs,
  );
}

function fetched(i: number): FetchedJob {
  return { job: { id: `job-${i}`, task: 'noop', args: null, createdAt: new Date(), attempt: 1, resultTtlMs: 60_000 }, timeoutMs: null, retry: null };
}

/** Scenario 2: jobchart's job machine under jobchart's worker machine, effects answered at once. */
function runJobMachine(): Promise<number> {
  return new Promise((resolve) => {
    let issued = 0;
    let finished = 0;
    const before = process.cpuUsage();
    const job = jobMachine.provide({
      actions: {
        acquireLease: ({ self }) =>
          queueMicrotask(() => self.send({ type: 'LEASE_ACQUIRED', lease: { revision: 1 }, attempt: 1, now: Date.now(), previousAttemptAbandoned: false })),
        runTask: ({ self }) => self.send({ type: 'TASK_SUCCEEDED', value: null }),
        commitResult: ({ self, context }) =>
          queueMicrotask(() =>
            self.send({ type: 'RESULT_COMMITTED', result: { jobId: context.job.id, outcome: 'success', attempt: 1, finishedAt: new Date(), nodeId: 'bench' } }),
          ),
        abortTask: () => undefined,
        requeueJob: () => undefined,
      },
    });
    const start = (worker: AnyActorRef, items: readonly FetchedJob[]): void => {
      for (const item of items) {
        const actor = createActor(job, { parent: worker, id: 'job', input: { ...item, nodeId: 'bench' } });
        actor.subscribe({
          complete: () => {
            if (++finished < jobs) return;
            const used = process.cpuUsage(before);
            worker.stop();
            resolve((used.user + used.system) / jobs);
          },
        });
        actor.start();
      }
    };
    const worker = createActor(
      workerMachine.provide({
        actions: {
          fetchJobs: ({ self }, params) =>
            queueMicrotask(() => {
              const items: FetchedJob[] = [];
              while (items.length < params.max && issued < jobs) items.push(fetched(issued++));
              if (items.length > 0) self.send({ type: 'JOBS_FETCHED', jobs: items });
            }),
          startJobs: ({ self }, params) => queueMicrotask(() => start(self, params.jobs)),
        },
      }),
      { input: { maxConcurrentJobs: concurrency, nodeId: 'bench' } },
    );
    worker.start();
  });
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const results: Record<string, number[]> = { bare: [], jobMachine: [] };
for (let round = 0; round < rounds; round++) {
  results['bare']!.push(await runBare());
  results['jobMachine']!.push(await runJobMachine());
}
const format = (values: number[]): string => `${median(values).toFixed(1)} µs (${values.map((v) => v.toFixed(0)).join(', ')})`;
console.log(`bench:machines — cpus ${cpus().length}, ${cpus()[0]?.model.trim() ?? '?'}, node ${process.version}, jobchart ${fromSource ? 'src/ (tsx)' : 'dist/'}`);
console.log(`${rounds} rounds × ${jobs.toLocaleString('en-US')} jobs; CPU per job, median (each round):`);
console.log(`  bare 4-state actor (create, start, 3 events)         ${format(results['bare']!)}`);
console.log(`  job machine under the worker (effects answer at once) ${format(results['jobMachine']!)}`);
console.log(JSON.stringify({ bench: 'machines', jobs, rounds, fromSource, microsPerJob: { bare: median(results['bare']!), jobMachine: median(results['jobMachine']!) }, perRound: results }));
