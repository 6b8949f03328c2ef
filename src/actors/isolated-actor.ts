/**
 * Runs a child statechart in an actor system of its own, while its parent sees an ordinary child.
 * Used for schedule actors (until schedules move to a node-level timer heap); job actors are hosted
 * directly in the node's system (see job-host.ts). Public XState API only: the inner actor is a root.
 *
 * Why: XState 5 keeps the delayed events of a whole actor system in one table, and every actor
 * that stops (each invoked promise of each job or schedule, several per run) scans that whole
 * table (`scheduler.cancelAll`). With hundreds of jobs or a thousand schedules in one system, each
 * carrying renewal and deadline timers, that scan dominated the CPU profile (over a third of a
 * 1,000-schedule run) and fire times slipped by seconds. A job or schedule actor in its own system
 * scans only its own few timers.
 *
 * What the parent keeps: events sent to the child reach the inner machine; the inner machine's
 * output becomes the child's output (done event with output); an inner error becomes a child
 * error; stopping the child stops the inner actor. Not kept: `sendParent` from the inner machine
 * (it has no parent; the schedule machine never uses it). The inspector sees the inner actor as its own root.
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
  // Wrappers their parent already stopped: nothing is reported to them.
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
          inner?.stop();
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

