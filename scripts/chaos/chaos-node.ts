/**
 * One jobchart node of a chaos run, in its own process (spawned by harness.ts). Config: the JSON in
 * env JOBCHART_CHAOS_NODE. Prints `READY <nodeId>` once started; stops (drain) on SIGTERM.
 *
 * Its tasks write the side-effect log: `work` sleeps `args.ms` (ending early if its signal aborts)
 * and `tick` (the schedule's task) a few ms; both then look at `ctx.signal.aborted` before writing
 * their `end` line, the way a task checks its signal before a side effect. A run whose signal was
 * aborted throws instead of returning, so its result could never pass for work done.
 */
import { randomBytes } from 'node:crypto';
import { createRuntime, natsStore, type JobContext, type TaskOptions } from '../../src/index.js';
import { appendRunLine } from './side-effect-log.js';

export interface ChaosNodeConfig {
  servers: string[];
  prefix: string;
  nodeId: string;
  role: 'worker' | 'scheduler' | 'both';
  replicas?: 1 | 3 | 5;
  leaseMs: number;
  pollMs: number;
  maxConcurrentJobs: number;
  logFile: string;
}

/** Retries enough for a job to survive several faults in a row; every one still ends once. */
const CHAOS_TASK_OPTIONS: TaskOptions = { retry: { attempts: 10, backoff: { initial: 100, max: 1_000, factor: 2 } } };
const TICK_MS = 20;

const config = JSON.parse(process.env['JOBCHART_CHAOS_NODE'] ?? 'null') as ChaosNodeConfig | null;
if (!config) throw new Error('chaos-node: set JOBCHART_CHAOS_NODE to the node config JSON');
const cfg: ChaosNodeConfig = config;
const runPrefix = `${cfg.nodeId}.${randomBytes(3).toString('hex')}`;
let runs = 0;

async function run(ms: number, ctx: JobContext): Promise<{ run: string }> {
  const { signal } = ctx;
  const id = `${runPrefix}.${++runs}`;
  const base = { job: ctx.jobId, task: ctx.task, attempt: ctx.attempt, node: cfg.nodeId, run: id };
  appendRunLine(cfg.logFile, { e: 'start', ...base, t: Date.now() });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
  const aborted = signal.aborted;
  appendRunLine(cfg.logFile, { e: 'end', ...base, t: Date.now(), aborted });
  if (aborted) throw new Error(`run ${id} aborted`);
  return { run: id };
}

const rt = await createRuntime({
  store: natsStore({ servers: cfg.servers, prefix: cfg.prefix, reconnectTimeWaitMs: 100, ...(cfg.replicas ? { replicas: cfg.replicas } : {}) }),
  nodeId: cfg.nodeId,
  role: cfg.role,
  leaseDuration: cfg.leaseMs,
  pollInterval: cfg.pollMs,
  maxConcurrentJobs: cfg.maxConcurrentJobs,
});
rt.task('work', (args: { ms: number }, ctx: JobContext) => run(args.ms, ctx), CHAOS_TASK_OPTIONS);
rt.task('tick', (_args: unknown, ctx: JobContext) => run(TICK_MS, ctx), CHAOS_TASK_OPTIONS);
await rt.start();
process.stdout.write(`READY ${cfg.nodeId}\n`);

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void rt.stop({ drain: true }).then(() => process.stdout.write('STOPPED\n'));
});
