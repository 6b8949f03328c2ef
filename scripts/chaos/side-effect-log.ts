/**
 * The side-effect log of a chaos run: every task run appends a `start` line when it begins and an
 * `end` line when it finishes (with whether its signal was aborted by then). The checker trusts
 * these lines, written by the task code itself, rather than anything the runtime says about itself.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

export interface RunLine {
  e: 'start' | 'end';
  /** Job id. */
  job: string;
  task: string;
  attempt: number;
  node: string;
  /** Unique per run: what a committed result names (its return value). */
  run: string;
  /** Wall-clock ms (Date.now) on the shared machine clock. */
  t: number;
  /** `end` only: the task's signal was aborted when it finished (its work must not count as done). */
  aborted?: boolean;
}

export function appendRunLine(file: string, line: RunLine): void {
  appendFileSync(file, `${JSON.stringify(line)}\n`);
}

/** Every complete line of the log (a line cut short by a SIGKILL mid-write is skipped). */
export function readRunLines(file: string): RunLine[] {
  if (!existsSync(file)) return [];
  const out: RunLine[] = [];
  for (const text of readFileSync(file, 'utf8').split('\n')) {
    if (text.length === 0) continue;
    try {
      out.push(JSON.parse(text) as RunLine);
    } catch {
      // torn last line of a killed process
    }
  }
  return out;
}
