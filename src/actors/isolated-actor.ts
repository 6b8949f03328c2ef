/**
 * Runs a child statechart in an actor system of its own, while its parent sees an ordinary child.
 *
 * Why: XState 5 keeps the delayed events of a whole actor system in one table, and every actor
 * that stops (each invoked promise of each job or schedule, several per run) scans that whole
 * table (`scheduler.cancelAll`). With hundreds of jobs or a thousand schedules in one system, each
 * carrying renewal and deadline timers, that scan dominated the CPU profile (over a third of a
 * 1,000-schedule run) and fire times slipped by seconds. A job or schedule actor in its own system
 * scans only its own few timers.
 *
 * What the parent keeps: events sent to the child reach the inner machine; the inner machine's
 * `sendParent` (e.g. the job's SLOT_RELEASED) reaches the parent; the inner machine's output
 * becomes the child's output (done event with output); an inner error becomes a child error;
 * stopping the child stops the inner actor. The inspector sees the inner actor as its own root.
 * Not kept: persistence of the inner state through the parent's persisted snapshot — the runtime
 * does not persist snapshots (the machines' own persistence tests run them unwrapped).
 */
import {
  createActor,
  type ActorLogic,
  type AnyActorLogic,
  type AnyActorRef,
  type EventObject,
  type InspectionEvent,
  type Observer,
  type Snapshot,
} from 'xstate';

type IsolatedSnapshot = Snapshot<unknown> & { input: unknown };
type IsolatedEvent = EventObject & { output?: unknown; error?: unknown };

const INNER_DONE = 'jobchart.isolated.done';
const INNER_ERROR = 'jobchart.isolated.error';
const XSTATE_STOP = 'xstate.stop';

type InnerActor = ReturnType<typeof createActor<AnyActorLogic>>;

export function isolated(logic: AnyActorLogic, opts: { inspect?: Observer<InspectionEvent> } = {}): ActorLogic<IsolatedSnapshot, IsolatedEvent, unknown> {
  const inners = new WeakMap<AnyActorRef, InnerActor>();
  // Wrappers their parent already stopped (e.g. the worker stops a job on its SLOT_RELEASED,
  // which the inner machine sends just before it completes): nothing is reported to them.
  const stopped = new WeakSet<AnyActorRef>();
  return {
    config: (logic as { config?: unknown }).config,
    getInitialSnapshot: (_scope, input) => ({ status: 'active', output: undefined, error: undefined, input }) as IsolatedSnapshot,
    start: (snapshot, scope) => {
      const self = scope.self;
      const inner = createActor(logic, {
        id: self.id,
        input: snapshot.input,
        ...(opts.inspect ? { inspect: opts.inspect } : {}),
      });
      // The inner machine's sendParent goes to our parent; its own done/error events are not
      // relayed (we report completion ourselves, once, with the output).
      const forwardUp = (event: EventObject): void => {
        if (event.type.startsWith('xstate.done.actor.') || event.type.startsWith('xstate.error.actor.')) return;
        (self as { _parent?: AnyActorRef })._parent?.send(event);
      };
      const parentProxy = { id: self.id, sessionId: self.sessionId, send: forwardUp, _send: forwardUp };
      (inner as unknown as { _parent: unknown })._parent = parentProxy;
      inners.set(self, inner);
      inner.subscribe({
        complete: () => {
          if (stopped.has(self)) return;
          const s = inner.getSnapshot() as Snapshot<unknown>;
          if (s.status === 'done') self.send({ type: INNER_DONE, output: s.output });
        },
        error: (error) => {
          if (!stopped.has(self)) self.send({ type: INNER_ERROR, error });
        },
      });
      inner.start();
    },
    transition: (snapshot, event, scope) => {
      const inner = inners.get(scope.self);
      switch (event.type) {
        case INNER_DONE:
          return { ...snapshot, status: 'done', output: event.output } as IsolatedSnapshot;
        case INNER_ERROR:
          return { ...snapshot, status: 'error', error: event.error } as IsolatedSnapshot;
        case XSTATE_STOP:
          stopped.add(scope.self);
          if (inner) {
            // XState refuses stop() on an actor with a parent; the proxy is ours, so detach it first.
            (inner as unknown as { _parent: unknown })._parent = undefined;
            inner.stop();
          }
          return snapshot;
        default:
          // An inner actor that already finished (its done report is on the way) takes no more events.
          if (snapshot.status === 'active' && inner?.getSnapshot().status === 'active') inner.send(event);
          return snapshot;
      }
    },
    getPersistedSnapshot: (snapshot) => snapshot,
  };
}

