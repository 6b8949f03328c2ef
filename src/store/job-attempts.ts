/**
 * The bounds of what a job's state keeps about its attempts, in one place. A job's key is rewritten
 * on every renewal, requeue and commit, and has to fit NATS's max payload beside the result, so the
 * history is bounded in entries, in log lines per attempt, in characters per line and per stack:
 * with the defaults below the history costs at most ~35 KB, and nothing at all for a job that
 * succeeds first time without logging.
 */
import type { JobAttempt, JobError, JobLogLine } from '../records.js';

/** Attempts kept in a job's history (the latest ones; older ones are dropped). */
export const MAX_ATTEMPTS_KEPT = 10;
/** Earlier attempts that keep their log lines (the latest ones); older entries keep a count only. */
export const ATTEMPTS_WITH_LOGS = 1;
/** Log lines kept per attempt: the last ones (`logsDropped` counts the rest). */
export const LOG_LINES_PER_ATTEMPT = 100;
/** A log line longer than this is cut (with an ellipsis). */
export const LOG_LINE_MAX_CHARS = 300;
/** An error stack kept in an attempt's history is cut to this many characters. */
export const ATTEMPT_STACK_MAX_CHARS = 2_000;

/** `text` cut to `max` characters, with an ellipsis when it was longer. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The error as an attempt keeps it: the stack cut to ATTEMPT_STACK_MAX_CHARS. */
export function attemptError(error: JobError): JobError {
  const kept: JobError = { name: error.name, message: error.message };
  if (error.stack !== undefined) kept.stack = clip(error.stack, ATTEMPT_STACK_MAX_CHARS);
  return kept;
}

/**
 * Collects an attempt's `ctx.log` lines, keeping the last LOG_LINES_PER_ATTEMPT (as a ring) and
 * counting the ones dropped. Appending is O(1); nothing is written anywhere until the attempt ends.
 */
export class AttemptLog {
  #lines: JobLogLine[] = [];
  #start = 0;
  dropped = 0;

  add(at: Date, message: string): void {
    const line = { at, message: clip(message, LOG_LINE_MAX_CHARS) };
    if (this.#lines.length < LOG_LINES_PER_ATTEMPT) {
      this.#lines.push(line);
      return;
    }
    this.#lines[this.#start] = line;
    this.#start = (this.#start + 1) % LOG_LINES_PER_ATTEMPT;
    this.dropped++;
  }

  get size(): number {
    return this.#lines.length;
  }

  /** The kept lines, oldest first. */
  lines(): JobLogLine[] {
    return [...this.#lines.slice(this.#start), ...this.#lines.slice(0, this.#start)];
  }
}

/**
 * `history` with `ended` appended, bounded: the latest MAX_ATTEMPTS_KEPT entries, and log lines
 * only on the latest ATTEMPTS_WITH_LOGS of them (the others keep how many lines they had).
 */
export function appendAttempt(history: readonly JobAttempt[] | undefined, ended: JobAttempt): JobAttempt[] {
  const all = [...(history ?? []), ended].slice(-MAX_ATTEMPTS_KEPT);
  const keepLogsFrom = all.length - ATTEMPTS_WITH_LOGS;
  return all.map((entry, i) => {
    if (i >= keepLogsFrom || entry.logs === undefined) return entry;
    const { logs, ...rest } = entry;
    return { ...rest, logsDropped: (entry.logsDropped ?? 0) + logs.length };
  });
}
