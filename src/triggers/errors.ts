/**
 * Errors of the trigger layer. Construction errors are {@link InvalidTriggerError}s (thrown when a
 * trigger is made or read back from storage, never later); the only error `nextFireTime` can raise
 * for a valid trigger is {@link MaxIterationsReachedError} from an `and` whose children never meet;
 * a bad argument to `nextFireTime` / `upcomingFireTimes` itself is an {@link InvalidFireTimeArgumentError}.
 */

/** A trigger option (or a stored trigger's field) is invalid; `field` names it, e.g. `'expression'`. */
export class InvalidTriggerError extends Error {
  override readonly name: string = 'InvalidTriggerError';
  constructor(
    readonly field: string,
    /** What is wrong with the value and what to use instead (the message without the field prefix). */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`invalid trigger ${field}: ${reason}`, options);
  }
}

/**
 * `nextFireTime` of an `and` trigger gave up after `maxIterations` search steps without finding a
 * time at which all children fire within the threshold. It is not an `InvalidTriggerError`: the
 * trigger was valid, the search was merely too long — raise `maxIterations` or `threshold`.
 */
export class MaxIterationsReachedError extends Error {
  override readonly name = 'MaxIterationsReachedError';
  constructor(
    readonly maxIterations: number,
    readonly after: Date,
  ) {
    super(
      `and trigger: no time where all children fire within the threshold found after ${maxIterations} ` +
        `search steps from ${after.toISOString()}; raise maxIterations or threshold, or check that the children can coincide`,
    );
  }
}

/**
 * An argument of `nextFireTime` / `upcomingFireTimes` (not of the trigger) is unusable: `after` is
 * not a valid Date, or `count` not a whole number >= 0. `argument` names it. A `TypeError`, so code
 * that caught the bare TypeError thrown before keeps working.
 */
export class InvalidFireTimeArgumentError extends TypeError {
  override readonly name = 'InvalidFireTimeArgumentError';
  constructor(
    readonly argument: 'after' | 'count',
    /** What is wrong with the value and what to pass instead. */
    readonly reason: string,
  ) {
    super(`invalid ${argument}: ${reason}`);
  }
}
