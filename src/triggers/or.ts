/** The `or` trigger: the earliest fire time of any child; children firing at the same instant fire once. */
import type { OrTrigger, Trigger } from './types.js';
import { validateChildren } from './validate.js';

/** A trigger firing whenever any of `triggers` fires. Throws `InvalidTriggerError` for an empty list. */
export function or(triggers: Trigger[]): OrTrigger {
  return { kind: 'or', triggers: validateChildren(triggers, '', 0) };
}

/** The earliest child fire time >= `lower`, or null when every child is exhausted. */
export function orNext(trigger: OrTrigger, lower: number, childNext: (child: Trigger, lower: number) => number | null): number | null {
  let best: number | null = null;
  for (const child of trigger.triggers) {
    const t = childNext(child, lower);
    if (t !== null && (best === null || t < best)) best = t;
  }
  return best;
}
