/**
 * Replaying @xstate/graph paths against live actors. The graph is computed from the machine's pure
 * transition function with effect answers and timer firings as plain events; the replay drives a
 * live actor (SimulatedClock, fake effects) through the same steps by *causing* each event the way
 * production would: answering the pending effect, letting the clock fire the timer, finishing a
 * child actor. After each step the live snapshot must equal the model's and the invariants hold.
 */
import { vi } from 'vitest';
import type { AnyActorRef, EventObject, SimulatedClock } from 'xstate';

export interface ScheduledTimer {
  event: EventObject;
  due: number;
  target: AnyActorRef;
}

interface SystemWithTimers {
  getSnapshot(): { _scheduledEvents: Record<string, { event: EventObject; startedAt: number; delay: number; target: AnyActorRef }> };
}

/**
 * XState stamps scheduled events with `Date.now()`; tying Date.now to the simulated clock makes
 * those stamps (and so each timer's due instant) readable. Returns the undo function.
 */
export function tieDateToClock(clock: SimulatedClock): () => void {
  const spy = vi.spyOn(Date, 'now').mockImplementation(() => clock.now());
  return () => spy.mockRestore();
}

/** Every delayed event pending in the actor's system, with its due instant. */
export function scheduledTimers(actor: AnyActorRef): ScheduledTimer[] {
  const events = (actor.system as unknown as SystemWithTimers).getSnapshot()._scheduledEvents;
  return Object.values(events).map((e) => ({ event: e.event, due: e.startedAt + e.delay, target: e.target }));
}

/** Pending timers of one actor whose event type matches. */
export function timersOf(actor: AnyActorRef, type: string): ScheduledTimer[] {
  return scheduledTimers(actor).filter((t) => t.target === actor && t.event.type === type);
}

export interface TimerStats {
  byClock: number;
  direct: number;
}

/**
 * Makes the timer event `type` of `target` happen. If it is strictly the earliest pending timer the
 * clock is advanced to its due instant (real timing). If another timer would fire first (or at the
 * same instant), the model is
 * exploring an order that needs different durations; the event is then sent directly, which is
 * what the timer would do under such durations, and counted. A missing timer fails: the model says
 * the state waits on it, so the implementation must have armed it.
 */
export function fireTimer(clock: SimulatedClock, target: AnyActorRef, type: string, stats: TimerStats): void {
  const pending = scheduledTimers(target);
  const mine = pending.find((t) => t.target === target && t.event.type === type);
  if (!mine) {
    throw new Error(`model fires timer ${type} but ${target.id} has none pending (pending: ${pending.map((t) => t.event.type).join(', ') || 'none'})`);
  }
  // Strictly first: timers due at the same instant would all fire at once on the clock, while the
  // model takes them one at a time.
  const othersFirst = pending.some((t) => t !== mine && t.due <= mine.due);
  if (!othersFirst) {
    clock.set(Math.max(mine.due, clock.now()));
    stats.byClock++;
  } else {
    target.send(mine.event);
    stats.direct++;
  }
  // Both ways deliver synchronously (SimulatedClock runs due callbacks inside set()).
}

/** A deterministic, stable view of a snapshot for model/implementation comparison. */
export function comparable(snapshot: { value: unknown; context: unknown; status: string }): string {
  return JSON.stringify({ value: snapshot.value, status: snapshot.status, context: snapshot.context });
}

/**
 * Mutes two known, harmless warnings of XState's development build; any other warning still prints.
 * Returns the undo function.
 *
 * - A parent that reaches its final state on a child's last message (the worker stopping on the
 *   last SLOT_RELEASED) then receives that child's own done event ("sent to stopped actor").
 * - Creating an actor whose machine has a `context` function inside a custom action (the worker's
 *   `startJobs`, in production as in the fakes): XState builds the initial context with an
 *   internal `assign()` and reports it as if the action had called `assign()` itself. Muted only
 *   when the stack shows that path (`createActor` → `getInitialSnapshot`).
 */
export function muteKnownXStateDevWarnings(): () => void {
  const original = console.warn;
  const spy = vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    const message = typeof args[0] === 'string' ? args[0] : '';
    if (/^Event "xstate\.done\.actor\.[^"]+" was sent to stopped actor/.test(message)) return;
    if (message.startsWith('Custom actions should not call `assign()` directly')) {
      const stack = new Error().stack ?? '';
      if (stack.includes('getInitialSnapshot') && stack.includes('createActor')) return;
    }
    original(...args);
  });
  return () => spy.mockRestore();
}

/** Every edge of an @xstate/graph adjacency map, as (from, event, to). */
export function edgesOf<S, E>(adjacency: Record<string, { state: S; transitions: Record<string, { event: E; state: S }> }>): {
  from: S;
  event: E;
  to: S;
}[] {
  return Object.values(adjacency).flatMap(({ state, transitions }) =>
    Object.values(transitions).map(({ event, state: to }) => ({ from: state, event, to })),
  );
}

/**
 * Drops every path whose event sequence is a prefix of another path's: replaying the longer path
 * visits the same steps. (@xstate/graph's TestModel does the same; the raw generators do not.)
 */
export function withoutPrefixPaths<P extends { steps: { event: EventObject }[] }>(paths: P[]): P[] {
  const keyed = paths
    .map((path) => ({ path, key: path.steps.map((s) => JSON.stringify(s.event)).join('\u0000') }))
    .sort((a, b) => b.path.steps.length - a.path.steps.length);
  const kept: typeof keyed = [];
  const prefixes = new Set<string>();
  for (const entry of keyed) {
    if (prefixes.has(entry.key)) continue;
    kept.push(entry);
    const parts = entry.key.split('\u0000');
    for (let n = 1; n <= parts.length; n++) prefixes.add(parts.slice(0, n).join('\u0000'));
  }
  return kept.map((entry) => entry.path);
}
