/**
 * Publishing and receiving runtime events. Both backends send events through `encodeEvent` /
 * `decodeEvent` (msgpack, Dates preserved), so a memory listener never shares an object with the
 * publisher and sees exactly the shapes a NATS listener sees. Delivery is at-most-once and
 * asynchronous; a node also receives its own events.
 */
import { Packr } from 'msgpackr';
import { RuntimeEventType, type RuntimeEvent, type RuntimeEventListener, type RuntimeEventMap } from './runtime-event.js';

export interface EventBus {
  /** Sends `event` to every subscriber in the cluster (this node included). */
  publish(event: RuntimeEvent): Promise<void>;
  /** Receives every event; resolves nothing, returns an unsubscribe function. */
  subscribe(listener: RuntimeEventListener): () => void;
  /** Receives events of one type. */
  on<T extends RuntimeEventType>(type: T, listener: (event: RuntimeEventMap[T]) => void): () => void;
}

const EVENT_VERSION = 1;
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true });
const knownTypes = new Set<string>(Object.values(RuntimeEventType));

export function encodeEvent(event: RuntimeEvent): Uint8Array {
  if (!knownTypes.has(event.type)) throw new TypeError(`unknown runtime event type "${String(event.type)}"; use one of ${[...knownTypes].join(', ')}`);
  return packr.pack({ v: EVENT_VERSION, e: event });
}

/** The event in `bytes`, or null for anything that is not a well-formed event of a known type. */
export function decodeEvent(bytes: Uint8Array): RuntimeEvent | null {
  try {
    const envelope = packr.unpack(bytes) as { v?: unknown; e?: unknown };
    if (typeof envelope !== 'object' || envelope === null || envelope.v !== EVENT_VERSION) return null;
    const event = envelope.e as { type?: unknown; timestamp?: unknown; nodeId?: unknown } | null;
    if (typeof event !== 'object' || event === null) return null;
    if (typeof event.type !== 'string' || !knownTypes.has(event.type)) return null;
    if (!(event.timestamp instanceof Date) || typeof event.nodeId !== 'string') return null;
    return event as RuntimeEvent;
  } catch {
    return null;
  }
}

/**
 * Fans decoded events out to local listeners; the transport (NATS subscription or in-process
 * hub) calls `deliver` with raw bytes.
 */
export class LocalEventListeners {
  readonly #all = new Set<RuntimeEventListener>();

  get size(): number {
    return this.#all.size;
  }

  add(listener: RuntimeEventListener): () => void {
    // Wrapped so the same function can be subscribed twice and removed independently.
    const entry: RuntimeEventListener = (event) => listener(event);
    this.#all.add(entry);
    return () => {
      this.#all.delete(entry);
    };
  }

  addTyped<T extends RuntimeEventType>(type: T, listener: (event: RuntimeEventMap[T]) => void): () => void {
    return this.add((event) => {
      if (event.type === type) listener(event as RuntimeEventMap[T]);
    });
  }

  deliver(bytes: Uint8Array): void {
    const event = decodeEvent(bytes);
    if (!event) return; // foreign or malformed publication on our subject: ignored by design
    for (const listener of [...this.#all]) {
      try {
        listener(event);
      } catch (err) {
        console.error(`[jobchart] a ${event.type} event listener threw:`, err);
      }
    }
  }

  clear(): void {
    this.#all.clear();
  }
}
