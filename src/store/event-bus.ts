/**
 * Publishing and receiving runtime events, cluster-wide and at most once.
 *
 * Events are off the hot path unless someone listens:
 * - a node with listeners says so (interest.ts: at once, then every few seconds), and every node
 *   publishes events only while such a word is fresh (`wanted()`), so a cluster where nobody listens
 *   spends nothing on them;
 * - a node collects what it publishes during one turn of the event loop and sends it as ONE message
 *   on the `events` channel (msgpack, Dates preserved);
 * - a node listens to that channel only while it has listeners of its own.
 * Both backends carry the same bytes, so a memory listener never shares an object with the publisher.
 * A node that opens asks who listens (listening nodes answer at once) and publishes everything for
 * a short grace period meanwhile. A listener attached just now receives the events published after
 * its word reached the publisher: on NATS, anything that happens after a call made on the same
 * connection.
 */
import { Packr } from 'msgpackr';
import { RuntimeEventType, type RuntimeEvent, type RuntimeEventListener, type RuntimeEventMap } from './runtime-event.js';
import { InterestTracker } from './interest.js';
import { SignalChannel, type SignalTransport } from './signals.js';

export interface EventBus {
  /** Whether anyone in the cluster listens now (publishing while not is a no-op). */
  wanted(): boolean;
  /** Sends `event` to every listener in the cluster (this node included), batched per event-loop turn. */
  publish(event: RuntimeEvent): void;
  /** Receives every event; returns an unsubscribe function. */
  subscribe(listener: RuntimeEventListener): () => void;
  /** Receives events of one type. */
  on<T extends RuntimeEventType>(type: T, listener: (event: RuntimeEventMap[T]) => void): () => void;
  /** Sends what is batched now (before closing the connection). */
  flush(): void;
  /** Stops listening for interest and announcing it (on close). */
  close(): void;
}

/** The interest topic of runtime events (see interest.ts). */
export const EVENTS_TOPIC = 'events';

const EVENT_VERSION = 2;
const BATCH_KEY = 'batch';
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });
const knownTypes = new Set<string>(Object.values(RuntimeEventType));

function assertKnown(event: RuntimeEvent): void {
  if (!knownTypes.has(event.type)) throw new TypeError(`unknown runtime event type "${String(event.type)}"; use one of ${[...knownTypes].join(', ')}`);
}

/** Encodes a batch of events (one message on the wire). */
export function encodeEvents(events: readonly RuntimeEvent[]): Uint8Array {
  for (const event of events) assertKnown(event);
  return packr.pack({ v: EVENT_VERSION, es: events });
}

/** The well-formed events of known types in `bytes`; anything else is skipped. */
export function decodeEvents(bytes: Uint8Array): RuntimeEvent[] {
  let envelope: { v?: unknown; es?: unknown };
  try {
    envelope = packr.unpack(bytes) as { v?: unknown; es?: unknown };
  } catch {
    return [];
  }
  if (typeof envelope !== 'object' || envelope === null || envelope.v !== EVENT_VERSION || !Array.isArray(envelope.es)) return [];
  return envelope.es.filter(isWellFormed);
}

function isWellFormed(value: unknown): value is RuntimeEvent {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as { type?: unknown; timestamp?: unknown; nodeId?: unknown };
  return typeof event.type === 'string' && knownTypes.has(event.type) && event.timestamp instanceof Date && typeof event.nodeId === 'string';
}

/** The event bus of one node on a store's signal channel. */
export class SignalEventBus implements EventBus {
  readonly #listeners = new Set<RuntimeEventListener>();
  #pending: RuntimeEvent[] = [];
  #flushScheduled = false;
  #stopListening: (() => void) | null = null;
  #stopInterest: (() => void) | null = null;
  readonly #ownsInterest: boolean;
  readonly #interest: InterestTracker;

  constructor(
    private readonly signals: SignalTransport,
    now: () => number,
    /** Where a listener's exception goes (never to the publisher). */
    private readonly onListenerError: (error: unknown, event: RuntimeEvent) => void = () => undefined,
    /** The store's shared tracker. @defaultValue one of its own */
    interest?: InterestTracker,
  ) {
    this.#ownsInterest = interest === undefined;
    this.#interest = interest ?? new InterestTracker(signals, now, [EVENTS_TOPIC]);
  }

  wanted(): boolean {
    return this.#listeners.size > 0 || this.#interest.wanted(EVENTS_TOPIC);
  }

  publish(event: RuntimeEvent): void {
    assertKnown(event);
    if (!this.wanted()) return;
    this.#pending.push(event);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.signals.send(SignalChannel.events, BATCH_KEY, encodeEvents(batch));
  }

  subscribe(listener: RuntimeEventListener): () => void {
    // Wrapped so the same function can be subscribed twice and removed independently.
    const entry: RuntimeEventListener = (event) => listener(event);
    this.#listeners.add(entry);
    if (this.#stopListening === null) {
      this.#stopListening = this.signals.listen(SignalChannel.events, (_key, data) => this.#deliver(data));
      this.#stopInterest = this.#interest.listen(EVENTS_TOPIC);
    }
    return () => {
      this.#listeners.delete(entry);
      if (this.#listeners.size === 0) this.#stopListen();
    };
  }

  close(): void {
    this.#stopListen();
    if (this.#ownsInterest) this.#interest.close();
  }

  #stopListen(): void {
    this.#stopInterest?.();
    this.#stopInterest = null;
    this.#stopListening?.();
    this.#stopListening = null;
  }

  on<T extends RuntimeEventType>(type: T, listener: (event: RuntimeEventMap[T]) => void): () => void {
    return this.subscribe((event) => {
      if (event.type === type) listener(event as RuntimeEventMap[T]);
    });
  }

  #deliver(bytes: Uint8Array): void {
    for (const event of decodeEvents(bytes)) {
      for (const listener of [...this.#listeners]) {
        try {
          listener(event);
        } catch (error) {
          this.onListenerError(error, event);
        }
      }
    }
  }
}
