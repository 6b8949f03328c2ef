/**
 * Waiting on scheduler processes: until a condition holds, or until it is clear it will not — a
 * process exited, nothing moved for the stall time (while the processes keep reporting), or the hard
 * timeout. The outcome says which, with how far it got.
 */
import { sleep } from './clock.js';
import type { ScheduleNodeProcess } from './schedule-node-process.js';

export interface WatchOutcome {
  ok: boolean;
  failure?: string;
}

export interface WatchOptions {
  /** What is being waited for, for the failure message ("all 10,000 schedules fired once"). */
  what: string;
  /** A string that changes whenever there is progress (counts); unchanged for `stallMs` = stalled. */
  progress: () => string;
  stallMs: number;
  timeoutMs: number;
  pollMs?: number;
}

/** A process silent this long has its event loop blocked: busy, not stalled (only the timeout ends the wait). */
const SILENT_AFTER_MS = 5_000;

export async function waitUntil(nodes: readonly ScheduleNodeProcess[], done: () => boolean, opts: WatchOptions): Promise<WatchOutcome> {
  const t0 = Date.now();
  let last = opts.progress();
  let lastChangeAt = t0;
  for (;;) {
    if (done()) return { ok: true };
    const now = Date.now();
    const dead = nodes.find((n) => !n.alive);
    if (dead) return { ok: false, failure: `${dead.label} exited (${dead.describeExit()}) before ${opts.what}; at ${opts.progress()}` };
    const current = opts.progress();
    if (current !== last) {
      last = current;
      lastChangeAt = now;
    }
    const silent = nodes.some((n) => n.silentForMs(now) >= SILENT_AFTER_MS);
    if (!silent && now - lastChangeAt >= opts.stallMs) {
      return { ok: false, failure: `stalled before ${opts.what}: no progress for ${Math.round(opts.stallMs / 1000)} s, at ${current}` };
    }
    if (now - t0 >= opts.timeoutMs) {
      return { ok: false, failure: `not ${opts.what} within ${Math.round(opts.timeoutMs / 1000)} s; at ${current}` };
    }
    await sleep(opts.pollMs ?? 20);
  }
}

/** Sleeps until wall time `at` (ms), checking every second that the processes are alive. */
export async function sleepUntil(at: number, nodes: readonly ScheduleNodeProcess[] = []): Promise<WatchOutcome> {
  for (;;) {
    const dead = nodes.find((n) => !n.alive);
    if (dead) return { ok: false, failure: `${dead.label} exited (${dead.describeExit()})` };
    const left = at - Date.now();
    if (left <= 0) return { ok: true };
    await sleep(Math.min(left, 1_000));
  }
}
