/** What every schedule scenario's result carries: which run it was, whether it completed, what went wrong. */
import type { ScheduleSystemId } from '../systems/schedule-system.js';
import type { ScheduleNodeProcess } from '../support/schedule-node-process.js';

export interface ScheduleRunOutcome {
  system: ScheduleSystemId;
  /** 1-based pair (round) of the interleaved sequence. */
  pair: number;
  ok: boolean;
  /** What failed: a stall, a timeout, an exception, a process's exit. */
  failure?: string;
  /** The server's state when a run failed (streams and consumers, BullMQ's job counts). */
  diagnosis?: string;
  /** Things worth a look that did not fail the run (duplicate fires, late creation). */
  warnings: string[];
  /** Lines the scheduler processes wrote (errors, warnings); a clean run writes none. */
  nodeOutputLines: number;
  /** Longest gap between a process's progress reports (every 100 ms from a timer): its event loop's longest block. */
  longestSilenceMs: number;
}

export function outcomeOf(system: ScheduleSystemId, pair: number): ScheduleRunOutcome {
  return { system, pair, ok: true, warnings: [], nodeOutputLines: 0, longestSilenceMs: 0 };
}

/** Folds the processes' output and silences into the outcome. */
export function noteNodes(outcome: ScheduleRunOutcome, nodes: readonly ScheduleNodeProcess[]): void {
  outcome.nodeOutputLines += nodes.reduce((sum, n) => sum + n.outputLines, 0);
  outcome.longestSilenceMs = Math.max(outcome.longestSilenceMs, ...nodes.map((n) => n.longestSilenceMs));
}

export function fail(outcome: ScheduleRunOutcome, failure: string | undefined): void {
  if (failure === undefined) return;
  outcome.ok = false;
  outcome.failure = outcome.failure === undefined ? failure : `${outcome.failure}; ${failure}`;
}

/** The whole second at or after `ms`. */
export const wholeSecondAtOrAfter = (ms: number): number => Math.ceil(ms / 1000) * 1000;

/** Adds the server's state to a failed run's outcome (what it holds, what its consumers wait for). */
export async function diagnoseInto(outcome: ScheduleRunOutcome, run: { diagnose(): Promise<string> } | null): Promise<void> {
  if (!run) return;
  outcome.diagnosis = await run.diagnose().catch((error: unknown) => `(diagnosis failed: ${error instanceof Error ? error.message : String(error)})`);
}
