/**
 * Publishing and receiving runtime events, cluster-wide and at most once.
 *
 * Events are off the hot path unless someone listens:
 * - a node with listeners says so on the `interest` channel (at once, then every few seconds), and
 *   every node publishes events only while such a word is fresh (`wanted()`), so a cluster where
 *   nobody listens spends nothing on them;
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

/** How often a node with listeners repeats that it listens. */
export const INTEREST_ANNOUNCE_MS = 5_000;
/** How long a word of interest keeps publishers publishing. */
export const INTEREST_TTL_MS = 3 * INTEREST_ANNOUNCE_MS;
/**
 * A node that just opened publishes for this long whatever it hears: it asks "who listens?" at
 * once, and the answers take a round trip; its first events (TaskAdded, NodeStarted) must not wait.
 */
export const INTEREST_GRACE_MS = 500;

const EVENT_VERSION = 2;
const BATCH_KEY = 'batch';
const INTEREST_KEY = 'listening';
const QUERY_KEY = 'query';
const NO_DATA = new Uint8Array(0);
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
  #interestUntil = 0;
  #announcer: NodeJS.Timeout | null = null;
  readonly #stopInterest: () => void;
  readonly #graceUntil: number;

  constructor(
    private readonly signals: SignalTransport,
    private readonly now: () => number,
    /** Where a listener's exception goes (never to the publisher). */
    private readonly onListenerError: (error: unknown, event: RuntimeEvent) => void = () => undefined,
  ) {
    this.#stopInterest = signals.listen(SignalChannel.interest, (key) => {
      if (key === QUERY_KEY) {
        if (this.#listeners.size > 0) this.#announce();
        return;
      }
      this.#interestUntil = Math.max(this.#interestUntil, this.now() + INTEREST_TTL_MS);
    });
    this.#graceUntil = this.now() + INTEREST_GRACE_MS;
    signals.send(SignalChannel.interest, QUERY_KEY, NO_DATA);
  }

  wanted(): boolean {
    if (this.#listeners.size > 0) return true;
    const now = this.now();
    return now < this.#interestUntil || now < this.#graceUntil;
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
      this.#announce();
      this.#announcer = setInterval(() => this.#announce(), INTEREST_ANNOUNCE_MS);
      this.#announcer.unref();
    }
    return () => {
      this.#listeners.delete(entry);
      if (this.#listeners.size === 0) this.#stopListen();
    };
  }

  close(): void {
    this.#stopListen();
    this.#stopInterest();
  }

  #announce(): void {
    this.signals.send(SignalChannel.interest, INTEREST_KEY, NO_DATA);
  }

  #stopListen(): void {
    if (this.#announcer) clearInterval(this.#announcer);
    this.#announcer = null;
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
