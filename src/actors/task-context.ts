/**
 * The `ctx` a task function receives, and the checks behind its signal: the AbortController is made
 * only when the task reads `ctx.signal`, and every read of the signal runs the lease check first.
 */
import type { JobRecord } from '../records.js';
import type { JobContext as TaskContext } from '../runtime/task-registry.js';

/** The part of a job's handle that its task's signal reads and writes. */
export interface TaskSignalState {
  /** The task's AbortController, created when the task first reads `ctx.signal`. */
  abort: AbortController | null;
  /** Why the task was aborted, when that happened before it read its signal. */
  abortedFor: string | null;
  /** The task is running (its answer is awaited). */
  taskRunning: boolean;
}

/**
 * The task's `ctx`; its `signal` (an AbortController per job) is only made if the task reads it.
 * Reading the signal, its `aborted` or calling its `throwIfAborted()` first runs `checkLease`, so a
 * task woken from a pause by its own timer (before the lease keeper's tick) sees the loss.
 */
export function taskContext(job: JobRecord, attempt: number, handle: TaskSignalState, checkLease: () => void): TaskContext {
  const ctx = {
    jobId: job.id,
    task: job.task,
    attempt,
    get signal(): AbortSignal {
      if (!handle.abort) {
        handle.abort = new AbortController();
        if (handle.abortedFor !== null) handle.abort.abort(new Error(handle.abortedFor));
        else checkedOnRead(handle.abort.signal, checkLease);
      }
      if (handle.taskRunning) checkLease();
      return handle.abort.signal;
    },
  } as TaskContext;
  if (job.scheduleId !== undefined) ctx.scheduleId = job.scheduleId;
  if (job.scheduledFireTime !== undefined) ctx.scheduledFireTime = job.scheduledFireTime;
  return ctx;
}

const abortedOf = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;

/**
 * Shadows `aborted` and `throwIfAborted` on this one signal with versions that run `check` first
 * while it is not aborted yet (own properties over AbortSignal.prototype's; the signal stays a real
 * AbortSignal for listeners, `AbortSignal.any` and fetch).
 */
function checkedOnRead(signal: AbortSignal, check: () => void): void {
  Object.defineProperty(signal, 'aborted', {
    configurable: true,
    get(): boolean {
      if (!abortedOf.call(signal)) check();
      return abortedOf.call(signal) as boolean;
    },
  });
  Object.defineProperty(signal, 'throwIfAborted', {
    configurable: true,
    value(): void {
      if (!abortedOf.call(signal)) check();
      AbortSignal.prototype.throwIfAborted.call(signal);
    },
  });
}

/** Whether a task's return value is a promise (or promise-like) to wait for. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
