/**
 * Fans runtime events out to `rt.on(type, listener)` listeners and `rt.events()` iterators.
 * A throwing listener is isolated (it cannot break delivery to others or the node); an iterator
 * that is not read buffers up to a bound and then drops the oldest events, counting the drops, so
 * a forgotten `for await` cannot grow the heap without limit.
 */
export type Listener<E> = (event: E) => void;

/** Events buffered per `events()` iterator before the oldest are dropped. */
export const EVENT_ITERATOR_BUFFER = 10_000;

/** Called when the hub gets its first listener or iterator, and when the last one leaves. */
export interface EventHubHooks {
  firstListener?: () => void;
  lastListenerGone?: () => void;
}

export class EventHub<E extends { type: string }> {
  private readonly listeners = new Map<string, Set<Listener<E>>>();
  private readonly anyListeners = new Set<Listener<E>>();
  private readonly iterators = new Set<EventIterator<E>>();
  private count = 0;

  constructor(
    private readonly onListenerError: (error: unknown) => void = () => {},
    private readonly hooks: EventHubHooks = {},
  ) {}

  /** Listeners and iterators attached. */
  get size(): number {
    return this.count;
  }

  on<T extends E['type']>(type: T | '*', listener: Listener<Extract<E, { type: T }>>): () => void {
    // Wrapped so the same function can listen twice and be removed independently.
    const l: Listener<E> = (event) => (listener as Listener<E>)(event);
    let set = this.anyListeners;
    if (type !== '*') {
      let typed = this.listeners.get(type);
      if (!typed) this.listeners.set(type, (typed = new Set()));
      set = typed;
    }
    set.add(l);
    this.attached();
    return () => {
      if (set.delete(l)) this.detached();
    };
  }

  emit(event: E): void {
    for (const l of this.listeners.get(event.type) ?? []) this.call(l, event);
    for (const l of this.anyListeners) this.call(l, event);
    for (const it of this.iterators) it.push(event);
  }

  /** An async iterator over every event from now on; `return()` (or `break`) detaches it. */
  iterate(signal?: AbortSignal): AsyncIterableIterator<E> {
    const it = new EventIterator<E>(() => {
      if (this.iterators.delete(it)) this.detached();
    });
    this.iterators.add(it);
    this.attached();
    signal?.addEventListener('abort', () => void it.return(), { once: true });
    return it;
  }

  /** Ends every open iterator (on node stop). */
  close(): void {
    for (const it of [...this.iterators]) void it.return();
  }

  private attached(): void {
    if (++this.count === 1) this.hooks.firstListener?.();
  }

  private detached(): void {
    if (--this.count === 0) this.hooks.lastListenerGone?.();
  }

  private call(listener: Listener<E>, event: E): void {
    try {
      listener(event);
    } catch (error) {
      this.onListenerError(error);
    }
  }
}

class EventIterator<E> implements AsyncIterableIterator<E> {
  private readonly buffer: E[] = [];
  private waiting: ((r: IteratorResult<E>) => void) | null = null;
  private done = false;
  dropped = 0;

  constructor(private readonly detach: () => void) {}

  push(event: E): void {
    if (this.done) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value: event, done: false });
      return;
    }
    this.buffer.push(event);
    if (this.buffer.length > EVENT_ITERATOR_BUFFER) {
      this.buffer.shift();
      this.dropped++;
    }
  }

  next(): Promise<IteratorResult<E>> {
    const event = this.buffer.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<E>> {
    if (!this.done) {
      this.done = true;
      this.detach();
      this.buffer.length = 0;
      this.waiting?.({ value: undefined, done: true });
      this.waiting = null;
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<E> {
    return this;
  }
}
