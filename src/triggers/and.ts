/**
 * The `and` trigger: fires when every child fires within `threshold` of the others, at the earliest
 * of those times (APScheduler 4's AndTrigger, made stateless). Precisely: E is a fire time iff E is
 * a fire time of some child and every child has a fire time in [E, E + threshold]. Unlike
 * APScheduler, which consumes the child times it used, this set does not depend on where a chain of
 * `nextFireTime` calls started — so every node agrees — at the price that children firing more often
 * than `threshold` may lend one fire time to two consecutive matches.
 *
 * The search keeps one candidate time per child and moves the earliest one forward to
 * `latest − threshold` (no child time before that can belong to a match) until the candidates fit
 * in the window or `maxIterations` steps are spent.
 */
import { InvalidDurationError, parseDuration, type DurationLike } from '../duration.js';
import { InvalidTriggerError, MaxIterationsReachedError } from './errors.js';
import type { AndTrigger, Trigger } from './types.js';
import { validateAndOptions, validateChildren } from './validate.js';

/** Options of {@link and}. */
export interface AndOptions {
  /** Largest spread between the children's fire times. @defaultValue `'1s'` */
  threshold?: DurationLike | undefined;
  /** Search steps before `nextFireTime` throws `MaxIterationsReachedError`. @defaultValue 10 000 */
  maxIterations?: number | undefined;
}

/** A trigger firing when all `triggers` fire within `threshold` of each other. Throws `InvalidTriggerError`. */
export function and(triggers: Trigger[], opts: AndOptions = {}): AndTrigger {
  const children = validateChildren(triggers, '', 0);
  let thresholdMs: number;
  try {
    thresholdMs = parseDuration(opts.threshold ?? 1_000, 'threshold');
  } catch (error) {
    if (error instanceof InvalidDurationError) throw new InvalidTriggerError('threshold', error.detail, { cause: error });
    throw error;
  }
  const maxIterations = opts.maxIterations ?? 10_000;
  validateAndOptions(thresholdMs, maxIterations, '');
  return { kind: 'and', triggers: children, thresholdMs, maxIterations };
}

/** The earliest `and` fire time >= `lower`, or null once a child is exhausted. */
export function andNext(
  trigger: AndTrigger,
  lower: number,
  childNext: (child: Trigger, lower: number) => number | null,
): number | null {
  const { triggers, thresholdMs, maxIterations } = trigger;
  const times = triggers.map((child) => childNext(child, lower));
  for (let step = 0; step < maxIterations; step++) {
    let earliest = Infinity;
    let latest = -Infinity;
    let earliestIndex = 0;
    for (let i = 0; i < times.length; i++) {
      const t = times[i];
      if (t === null || t === undefined) return null;
      if (t < earliest) {
        earliest = t;
        earliestIndex = i;
      }
      if (t > latest) latest = t;
    }
    if (latest - earliest <= thresholdMs) return earliest;
    times[earliestIndex] = childNext(triggers[earliestIndex]!, Math.max(lower, latest - thresholdMs));
  }
  throw new MaxIterationsReachedError(maxIterations, new Date(lower));
}
