/**
 * The tasks this node can run: name → function plus its normalised options (all durations in ms).
 */
import { parseDuration, type DurationLike } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import type { RetryPolicy } from '../machines/job-types.js';

/** What a task function receives besides its args. */
export interface JobContext {
  jobId: string;
  task: string;
  /** 1-based attempt number. */
  attempt: number;
  scheduleId?: string;
  scheduledFireTime?: Date;
  /** Aborts on lease loss, cancel, timeout and node stop: stop work and return/throw promptly. */
  signal: AbortSignal;
  /**
   * Writes a line kept with the job (formatted like console.log; `jobchart job show` prints it):
   * the last 100 lines of each attempt, 300 characters each, stored when the attempt ends. Also
   * logged at debug level on this node.
   */
  log(...values: unknown[]): void;
  /**
   * Reports progress (plain data up to 1 KB as JSON, e.g. `0.4` or `{ done: 40, of: 100 }`): a
   * `JobProgress` event (at most every 250 ms per job) and the latest value kept with the job,
   * written with the lease's next renewal and with the result — never a write of its own.
   */
  progress(value: unknown): void;
}

/** A task: `(args, ctx) => result`, sync or async. `Args`/`Result` type it (see `createRuntime<Tasks>()`). */
export type TaskFunction<Args = any, Result = unknown> = (args: Args, ctx: JobContext) => Result | PromiseLike<Result>;

/** Options of `rt.task(name, fn, opts)`. */
export interface TaskOptions {
  /** Cluster-wide limit of concurrently running jobs of this task. @defaultValue unlimited */
  maxRunning?: number;
  /** A job running longer is aborted and ends `timeout`. @defaultValue none */
  timeout?: DurationLike;
  /**
   * Retries of failed attempts (error, timeout, crashed runner). `attempts` counts runs, so
   * `{ attempts: 3 }` runs at most three times. `backoff` is a fixed delay or exponential
   * `{ initial, max, factor }`. @defaultValue no retry; backoff 1s fixed
   */
  retry?: { attempts: number; backoff?: DurationLike | { initial: DurationLike; max?: DurationLike; factor?: number } };
  /** Default start deadline of this task's scheduled jobs after their fire time. @defaultValue none */
  misfireGraceTime?: DurationLike;
  /**
   * Default priority of this task's jobs when the node adding them (or firing their schedule) has
   * the task registered: > 0 high, 0 normal, < 0 low. @defaultValue 0
   */
  priority?: number;
}

export interface RegisteredTask {
  name: string;
  fn: TaskFunction;
  maxRunning: number | null;
  timeoutMs: number | null;
  retry: RetryPolicy | null;
  misfireGraceTimeMs: number | null;
  priority: number;
}

const TASK_NAME = /^[^\s]{1,200}$/;

/** Validates and normalises a task registration; throws InvalidOptionError naming the option. */
export function normaliseTask(name: string, fn: TaskFunction, opts: TaskOptions = {}): RegisteredTask {
  if (typeof name !== 'string' || !TASK_NAME.test(name)) {
    throw new InvalidOptionError('task name', `${JSON.stringify(name)} must be 1–200 characters without whitespace`);
  }
  if (typeof fn !== 'function') throw new InvalidOptionError(`task "${name}"`, 'the second argument must be a function');
  const maxRunning = opts.maxRunning ?? null;
  if (maxRunning !== null && !(Number.isInteger(maxRunning) && maxRunning >= 1)) {
    throw new InvalidOptionError(`maxRunning of task "${name}"`, `must be an integer >= 1, got ${maxRunning}`);
  }
  const timeoutMs = opts.timeout === undefined ? null : parseDuration(opts.timeout, `timeout of task "${name}"`);
  if (timeoutMs === 0) throw new InvalidOptionError(`timeout of task "${name}"`, 'must be > 0 (omit it for no timeout)');
  return {
    name,
    fn,
    maxRunning,
    timeoutMs,
    retry: opts.retry === undefined ? null : normaliseRetry(name, opts.retry),
    misfireGraceTimeMs:
      opts.misfireGraceTime === undefined ? null : parseDuration(opts.misfireGraceTime, `misfireGraceTime of task "${name}"`),
    priority: opts.priority === undefined ? 0 : assertPriority(opts.priority, `priority of task "${name}"`),
  };
}

function normaliseRetry(task: string, retry: NonNullable<TaskOptions['retry']>): RetryPolicy {
  const field = `retry of task "${task}"`;
  if (!(Number.isInteger(retry.attempts) && retry.attempts >= 1)) {
    throw new InvalidOptionError(`${field}.attempts`, `must be an integer >= 1 (total runs), got ${retry.attempts}`);
  }
  const backoff = retry.backoff ?? 1_000;
  if (typeof backoff === 'object' && !Array.isArray(backoff) && 'initial' in backoff) {
    const initialMs = parseDuration(backoff.initial, `${field}.backoff.initial`);
    const maxMs = backoff.max === undefined ? Math.max(initialMs, 3_600_000) : parseDuration(backoff.max, `${field}.backoff.max`);
    const factor = backoff.factor ?? 2;
    if (!(Number.isFinite(factor) && factor >= 1)) {
      throw new InvalidOptionError(`${field}.backoff.factor`, `must be a number >= 1, got ${factor}`);
    }
    if (maxMs < initialMs) throw new InvalidOptionError(`${field}.backoff.max`, 'must be >= backoff.initial');
    return { attempts: retry.attempts, backoff: { initialMs, maxMs, factor } };
  }
  const fixedMs = parseDuration(backoff as DurationLike, `${field}.backoff`);
  return { attempts: retry.attempts, backoff: { initialMs: fixedMs, maxMs: fixedMs, factor: 1 } };
}

/** A priority is a finite number (> 0 high, 0 normal, < 0 low); returns it. */
export function assertPriority(priority: unknown, what: string): number {
  if (typeof priority !== 'number' || !Number.isFinite(priority)) {
    throw new InvalidOptionError(what, `must be a finite number (> 0 high, 0 normal, < 0 low), got ${JSON.stringify(priority)}`);
  }
  return priority;
}

/** Task names are checked for shape only: a producer may add jobs before any worker for them runs. */
export function assertTaskName(task: unknown): asserts task is string {
  if (typeof task !== 'string' || task.length === 0) throw new InvalidOptionError('task', 'must be a task name (a non-empty string)');
}
