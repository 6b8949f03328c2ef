/** What every scenario's result carries: which run it was and whether it completed. */
import type { SystemId } from '../systems/bench-system.js';

export interface RunIdentity {
  system: SystemId;
  workers: number;
  concurrency: number;
  /** 1-based pair (round) of the interleaved sequence. */
  pair: number;
}

export interface RunOutcome {
  ok: boolean;
  /** What failed: "stalled after N of M completed …", an exception, a worker's exit. */
  failure?: string;
  /** The queue's state when a run stalled (streams and consumers, BullMQ's job counts). */
  diagnosis?: string;
  /** Lines the worker processes wrote (errors, warnings); a clean run writes none. */
  workerOutputLines: number;
  /** Longest gap between a worker's progress reports (sent every 50 ms from a timer): its event loop's longest block. */
  workerLongestSilenceMs: number;
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
