/**
 * What every worker process shares: reading its config, answering the bench over IPC, counting task
 * starts and finished jobs, CPU from `go` to the last finished job, and exiting when the bench goes
 * away. A worker entry supplies how to prepare, start and stop its worker.
 */
import { ownCpuMicros } from '../support/process-cpu.js';
import { wallNow } from '../support/clock.js';
import type { BenchJobArgs, FromWorker, ToWorker, WorkerConfig } from '../support/protocol.js';

export interface WorkerHooks {
  /** Connects and registers the no-op task; the worker must not consume yet. */
  prepare(harness: WorkerHarness): Promise<void>;
  /** Starts consuming. */
  start(): Promise<void>;
  /** Stops (without draining: the run is over). */
  stop(): Promise<void>;
  /** Jobs finished so far (result committed, slot free); polled every 5 ms from `go`. */
  completedJobs(): number;
  /** Extra commands (the memory-store process is also the producer). */
  handle?(msg: ToWorker): Promise<FromWorker | null>;
}

const PROGRESS_EVERY_MS = 50;
/**
 * Both kinds of worker are read the same way, on a timer, so a run's end is known to within this on
 * either side (BullMQ could count in its 'completed' event; jobchart has no per-job hook after the
 * commit, so both are polled for a like-for-like clock). CPU is read only when the count moves.
 */
const COMPLETION_POLL_MS = 5;

export class WorkerHarness {
  started = 0;
  completed = 0;
  failed = 0;
  goAt: number | null = null;
  lastCompletedAt: number | null = null;
  private cpuAtGo = 0;
  private cpuAtLastCompletion = 0;
  private readonly latencies: number[] = [];

  constructor(readonly config: WorkerConfig) {}

  /** The no-op task's body: counts the start and, for a stamped job, its add→start latency. */
  taskStarted(args: BenchJobArgs | null | undefined): void {
    this.started++;
    const addedAt = args?.addedAt;
    if (typeof addedAt === 'number') this.latencies.push(wallNow() - addedAt);
  }

  /** Records the count of finished jobs (monotone: a lower reading is ignored). */
  setCompleted(n: number): void {
    if (n <= this.completed) return;
    this.completed = n;
    this.lastCompletedAt = wallNow();
    this.cpuAtLastCompletion = ownCpuMicros();
  }

  markGo(): void {
    this.goAt = wallNow();
    this.cpuAtGo = ownCpuMicros();
    this.cpuAtLastCompletion = this.cpuAtGo;
  }

  final(): FromWorker {
    return {
      type: 'final',
      started: this.started,
      completed: this.completed,
      failed: this.failed,
      goAt: this.goAt,
      lastCompletedAt: this.lastCompletedAt,
      cpuMicros: this.cpuAtLastCompletion - this.cpuAtGo,
      latencies: this.latencies,
    };
  }
}

function send(msg: FromWorker): void {
  if (process.connected) process.send?.(msg);
}

/** Runs a worker process: call from the entry module with its hooks. */
export function runWorker(hooks: WorkerHooks): void {
  const raw = process.argv[2];
  if (!raw || !process.send) {
    console.error('a bench worker runs as a child of `npm run bench` (IPC and a JSON config argument)');
    process.exit(2);
  }
  const harness = new WorkerHarness(JSON.parse(raw) as WorkerConfig);
  // The bench is gone (crashed, killed): so is its worker.
  process.on('disconnect', () => process.exit(1));

  let progress: NodeJS.Timeout | null = null;
  let completionPoll: NodeJS.Timeout | null = null;
  const stop = async (): Promise<void> => {
    if (progress) clearInterval(progress);
    if (completionPoll) clearInterval(completionPoll);
    const forced = setTimeout(() => process.exit(0), 4_000);
    forced.unref();
    await hooks.stop().catch((error: unknown) => console.error('stop failed:', error));
    process.exit(0);
  };

  process.on('message', (raw: unknown) => {
    const msg = raw as ToWorker;
    void (async () => {
      try {
        switch (msg.type) {
          case 'go':
            harness.markGo();
            completionPoll ??= setInterval(() => harness.setCompleted(hooks.completedJobs()), COMPLETION_POLL_MS);
            await hooks.start();
            progress ??= setInterval(() => send({ type: 'progress', started: harness.started, completed: harness.completed }), PROGRESS_EVERY_MS);
            break;
          case 'report':
            harness.setCompleted(hooks.completedJobs());
            send(harness.final());
            break;
          case 'stop':
            await stop();
            break;
          default: {
            const reply = await hooks.handle?.(msg);
            if (reply) send(reply);
          }
        }
      } catch (error) {
        send({ type: 'fatal', message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
      }
    })();
  });

  hooks.prepare(harness).then(
    () => send({ type: 'ready', pid: process.pid, wallNow: wallNow() }),
    (error: unknown) => {
      send({ type: 'fatal', message: `prepare failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}` });
      setTimeout(() => process.exit(1), 100);
    },
  );
}
