/**
 * Typed errors of the runtime API. Each message names the offending value and how to fix it.
 * (Trigger errors live with the triggers: InvalidTriggerError; codec errors: DeserializationError.)
 */

/** A job or schedule names a task no node has registered with `rt.task(name, fn)`. */
export class UnknownTaskError extends Error {
  override readonly name = 'UnknownTaskError';
  constructor(readonly task: string) {
    super(`unknown task "${task}": register it with rt.task("${task}", fn) on a worker node before adding jobs or schedules for it`);
  }
}

/** No job with that id exists (or its result has expired). */
export class JobLookupError extends Error {
  override readonly name = 'JobLookupError';
  constructor(readonly jobId: string) {
    super(`no job with id "${jobId}" (never added, or its result expired after its resultTtl)`);
  }
}

/** No schedule with that id exists. */
export class ScheduleLookupError extends Error {
  override readonly name = 'ScheduleLookupError';
  constructor(readonly scheduleId: string) {
    super(`no schedule with id "${scheduleId}"; list them with rt.listSchedules() or \`jobchart schedule list\``);
  }
}

/** An id is already taken and the caller asked for `onConflict: 'error'` (or a job id was reused). */
export class ConflictingIdError extends Error {
  override readonly name = 'ConflictingIdError';
  constructor(
    readonly kind: 'schedule' | 'job',
    readonly id: string,
  ) {
    super(
      kind === 'schedule'
        ? `schedule id "${id}" already exists; pass onConflict: 'replace' or 'keep', or choose another id`
        : `job id "${id}" already exists; job ids are single-use, choose another id or omit it`,
    );
  }
}

/** Job args or a return value cannot be stored (functions, symbols, class instances with cycles…). */
export class SerializationError extends Error {
  override readonly name = 'SerializationError';
  constructor(
    readonly what: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot serialise ${what}: ${reason}; use plain data (objects, arrays, strings, numbers, booleans, null, Date, Uint8Array)`, options);
  }
}

/** An encoded record exceeds the store's maximum payload. */
export class PayloadTooLargeError extends Error {
  override readonly name = 'PayloadTooLargeError';
  constructor(
    readonly what: string,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`${what} is ${bytes} bytes encoded, over the store's maximum of ${maxBytes} bytes; store large data elsewhere and pass a reference`);
  }
}

/** A job ended with an error outcome; thrown by `rt.runJob`. Carries the job's result. */
export class JobFailedError extends Error {
  override readonly name = 'JobFailedError';
  constructor(
    readonly jobId: string,
    readonly outcome: string,
    message: string,
    readonly remoteName?: string,
    remoteStack?: string,
  ) {
    super(`job "${jobId}" ended ${outcome}: ${message}`);
    if (remoteStack) this.stack = `${this.name}: ${this.message}\n--- remote stack ---\n${remoteStack}`;
  }
}

/** Waiting for a job's result took longer than the caller's timeout. */
export class ResultTimeoutError extends Error {
  override readonly name = 'ResultTimeoutError';
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
  ) {
    super(`no result for job "${jobId}" within ${timeoutMs} ms; the job may still be queued or running`);
  }
}

/** An option passed to createRuntime / rt.task / addSchedule / addJob is invalid. */
export class InvalidOptionError extends Error {
  override readonly name = 'InvalidOptionError';
  constructor(
    readonly option: string,
    detail: string,
  ) {
    super(`invalid option ${option}: ${detail}`);
  }
}

/** The runtime was stopped; it cannot be used again. */
export class RuntimeStoppedError extends Error {
  override readonly name = 'RuntimeStoppedError';
  constructor() {
    super('this runtime has been stopped; create a new one with createRuntime()');
  }
}
