/**
 * What one attempt of a job leaves behind besides its result: the task's `ctx.log` lines, its
 * latest `ctx.progress` value, and the error it failed with. Kept in memory while the task runs
 * (no store write per call) and written by the job host with the attempt's end — the commit, or
 * the requeue of a retry — into the job's state; progress also rides on each lease renewal.
 *
 * Progress events are throttled per job: the first one goes out at once, later ones at most every
 * PROGRESS_EVENT_INTERVAL_MS, the latest value last (a task calling `progress` in a tight loop
 * costs one event per interval, not one per call).
 */
import { format } from 'node:util';
import type { AttemptOutcome, JobAttempt, JobError, JobRecord } from '../records.js';
import { PayloadTooLargeError } from '../errors.js';
import type { NodeContext } from '../runtime/node-context.js';
import { assertPlainData } from '../runtime/plain-data.js';
import { AttemptLog, attemptError, type AttemptNotes } from '../store/index.js';

/** At most one JobProgress event per job per this interval (the latest value is sent at its end). */
export const PROGRESS_EVENT_INTERVAL_MS = 250;
/** A progress value larger than this, as JSON, is refused (it travels with every renewal). */
export const PROGRESS_MAX_BYTES = 1024;

/**
 * Frames of the runtime that called the task (the job host, XState's action runner): from the
 * first of them down, a task error's stack says nothing about the task. An async task's stack
 * after its first await has none of them.
 */
const RUNTIME_FRAME = /\bJobHost\.#runTask\b|[\\/](?:src|dist)[\\/]actors[\\/]job-host\.[jt]s:|[\\/]node_modules[\\/]xstate[\\/]/;

/** `stack` without the frames below the task (see RUNTIME_FRAME). */
export function taskStack(stack: string): string {
  const lines = stack.split('\n');
  const cut = lines.findIndex((line, i) => i > 0 && /^\s+at /.test(line) && RUNTIME_FRAME.test(line));
  return cut < 0 ? stack : lines.slice(0, cut).join('\n');
}

/** How an attempt that did not end the job failed. */
export type FailedAttemptOutcome = 'error' | 'timeout';

export class AttemptRecorder {
  readonly startedAt: number;
  #log: AttemptLog | null = null;
  #progress: unknown = undefined;
  #lastProgressEventAt = -Infinity;
  #progressTimer: NodeJS.Timeout | null = null;
  #failure: { outcome: FailedAttemptOutcome; error: JobError } | null = null;
  #closed = false;

  constructor(
    private readonly node: NodeContext,
    private readonly job: JobRecord,
    readonly attempt: number,
  ) {
    this.startedAt = node.backend.clock.now();
  }

  /** `ctx.log(...values)`: formatted like console.log, kept (bounded) and logged at debug level. */
  log(values: unknown[]): void {
    if (this.#closed) return;
    const message = format(...values);
    (this.#log ??= new AttemptLog()).add(new Date(this.node.backend.clock.now()), message);
    this.node.logger.debug({ jobId: this.job.id, task: this.job.task, attempt: this.attempt }, message);
  }

  /** `ctx.progress(value)`: plain data up to PROGRESS_MAX_BYTES as JSON; throws otherwise. */
  progress(value: unknown): void {
    assertPlainData(value, `progress of job "${this.job.id}"`);
    const size = Buffer.byteLength(JSON.stringify(value) ?? '');
    if (size > PROGRESS_MAX_BYTES) throw new PayloadTooLargeError(`progress of job "${this.job.id}"`, size, PROGRESS_MAX_BYTES);
    if (this.#closed) return;
    this.#progress = value;
    const now = this.node.backend.clock.now();
    const dueIn = this.#lastProgressEventAt + PROGRESS_EVENT_INTERVAL_MS - now;
    if (dueIn <= 0) this.#emitProgress();
    else if (this.#progressTimer === null) {
      this.#progressTimer = setTimeout(() => {
        this.#progressTimer = null;
        this.#emitProgress();
      }, dueIn);
      this.#progressTimer.unref();
    }
  }

  /** The latest progress value (undefined: none reported). */
  get latestProgress(): unknown {
    return this.#progress;
  }

  /** The task failed (threw, or ran past its timeout). */
  failed(outcome: FailedAttemptOutcome, error: JobError): void {
    this.#failure = { outcome, error };
  }

  get failure(): { outcome: FailedAttemptOutcome; error: JobError } | null {
    return this.#failure;
  }

  /** What the commit keeps of this attempt beside its result. */
  notes(): AttemptNotes {
    const notes: AttemptNotes = {};
    if (this.#log && this.#log.size > 0) notes.logs = this.#log.lines();
    if (this.#log && this.#log.dropped > 0) notes.logsDropped = this.#log.dropped;
    if (this.#progress !== undefined) notes.progress = this.#progress;
    return notes;
  }

  /** The history entry of this attempt, ended now with `outcome`. */
  ended(outcome: AttemptOutcome, nextAttemptAt: Date | null): JobAttempt {
    const entry: JobAttempt = {
      attempt: this.attempt,
      nodeId: this.node.nodeId,
      startedAt: new Date(this.startedAt),
      endedAt: new Date(this.node.backend.clock.now()),
      outcome,
    };
    if (this.#failure) entry.error = attemptError(this.#failure.error);
    const { logs, logsDropped, progress } = this.notes();
    if (logs) entry.logs = logs;
    if (logsDropped) entry.logsDropped = logsDropped;
    if (progress !== undefined) entry.progress = progress;
    if (nextAttemptAt) entry.nextAttemptAt = nextAttemptAt;
    return entry;
  }

  /** The attempt is over: no more events; a late `ctx.log`/`ctx.progress` from the task is ignored. */
  close(): void {
    this.#closed = true;
    if (this.#progressTimer !== null) clearTimeout(this.#progressTimer);
    this.#progressTimer = null;
  }

  #emitProgress(): void {
    if (this.#closed) return;
    this.#lastProgressEventAt = this.node.backend.clock.now();
    if (!this.node.backend.events.wanted()) return;
    this.node.emit('JobProgress', { jobId: this.job.id, task: this.job.task, attempt: this.attempt, progress: this.#progress });
  }
}
