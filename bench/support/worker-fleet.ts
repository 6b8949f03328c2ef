/**
 * The worker processes of one run, watched together: start them, wait until they have finished a
 * number of jobs (or report how far they got when progress stops), collect their final reports,
 * stop them.
 */
import { wallNow } from './clock.js';
import type { FromWorker, WorkerConfig } from './protocol.js';
import { WorkerProcess } from './worker-process.js';

export type FinalReport = Extract<FromWorker, { type: 'final' }>;

export interface WaitOutcome {
  ok: boolean;
  /** Why the wait ended early: "stalled after N of M …", a worker's exit, the hard timeout. */
  failure?: string;
  started: number;
  completed: number;
}

/**
 * A worker that has sent no progress for this long is busy with its event loop blocked, not stalled:
 * its count cannot move until it reports again, so only the hard timeout ends the wait.
 */
const SILENT_AFTER_MS = 5_000;

export interface WaitOptions {
  /** No change in the counts for this long, while every worker keeps reporting, ends the wait as stalled. */
  stallMs: number;
  /** The wait never lasts longer than this. */
  timeoutMs: number;
  /** What to wait for: finished jobs (throughput) or started tasks (latency). */
  count: 'completed' | 'started';
}

export class WorkerFleet {
  private constructor(readonly workers: WorkerProcess[]) {}

  /** Spawns one process per config, one after the other (each opens the store before the next). */
  static async spawn(configs: readonly WorkerConfig[], labels: readonly string[]): Promise<WorkerFleet> {
    const workers: WorkerProcess[] = [];
    try {
      for (const [i, config] of configs.entries()) workers.push(await WorkerProcess.spawn(config, labels[i] ?? `worker-${i + 1}`));
    } catch (error) {
      await Promise.all(workers.map((w) => w.kill()));
      throw error;
    }
    return new WorkerFleet(workers);
  }

  get started(): number {
    return this.workers.reduce((sum, w) => sum + w.progress.started, 0);
  }

  get completed(): number {
    return this.workers.reduce((sum, w) => sum + w.progress.completed, 0);
  }

  /** The longest time any worker went without reporting progress since `go`. */
  get longestSilenceMs(): number {
    return Math.max(0, ...this.workers.map((w) => w.longestSilenceMs));
  }

  get outputLines(): number {
    return this.workers.reduce((sum, w) => sum + w.outputLines, 0);
  }

  /** Tells every worker to start consuming; returns the wall time it did so. */
  go(): number {
    const at = wallNow();
    for (const w of this.workers) w.send({ type: 'go' });
    return at;
  }

  /** Waits until the workers together reach `target`, a stall, a worker's exit, or the timeout. */
  waitFor(target: number, opts: WaitOptions): Promise<WaitOutcome> {
    const value = (): number => (opts.count === 'completed' ? this.completed : this.started);
    const startedAt = Date.now();
    let lastChangeAt = startedAt;
    let lastSeen = -1;
    return new Promise<WaitOutcome>((resolve) => {
      const finish = (failure?: string): void => {
        clearInterval(timer);
        for (const off of offs) off();
        const outcome: WaitOutcome = { ok: failure === undefined, started: this.started, completed: this.completed };
        if (failure !== undefined) outcome.failure = failure;
        resolve(outcome);
      };
      const check = (): void => {
        const now = Date.now();
        const seen = this.started + this.completed;
        if (seen !== lastSeen) {
          lastSeen = seen;
          lastChangeAt = now;
        }
        if (value() >= target) return finish();
        const dead = this.workers.find((w) => !w.alive);
        if (dead) return finish(`${dead.label} exited (${dead.describeExit()}) after ${value()} of ${target} ${opts.count}`);
        const silent = this.workers.filter((w) => w.silentForMs(now) >= SILENT_AFTER_MS);
        if (now - lastChangeAt >= opts.stallMs && silent.length === 0) {
          return finish(`stalled after ${value()} of ${target} ${opts.count} (no progress for ${Math.round((now - lastChangeAt) / 1000)} s)`);
        }
        if (now - startedAt >= opts.timeoutMs) {
          const silence = silent.map((w) => `; ${w.label} silent for ${Math.round(w.silentForMs(now) / 1000)} s (its event loop ran no timers or IPC)`).join('');
          return finish(`timed out after ${value()} of ${target} ${opts.count} (${Math.round(opts.timeoutMs / 1000)} s)${silence}`);
        }
      };
      // Progress messages arrive every 50 ms from each worker; the timer covers a silent fleet.
      const timer = setInterval(check, 250);
      const offs = [...this.workers.map((w) => w.onExit(check)), ...this.workers.map((w) => w.onMessage(check))];
      check();
    });
  }

  /** Every live worker's final report (a worker that does not answer within `timeoutMs` is left out). */
  async finals(timeoutMs = 10_000): Promise<FinalReport[]> {
    const answers = await Promise.allSettled(this.workers.filter((w) => w.alive).map((w) => w.request({ type: 'report' }, 'final', timeoutMs)));
    return answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
  }

  /** Stops every worker (gracefully, then by SIGKILL of its pid). */
  async stop(graceMs = 5_000): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop(graceMs)));
  }

  async kill(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.kill()));
  }
}
