/**
 * A binary min-heap of (due time, key) with lazy removal: re-arming a key bumps its generation, and
 * stale entries are skipped when they reach the top. O(log n) arm, O(log n) pop; one Node timer
 * for the whole heap, armed for the earliest entry (clamped to setTimeout's range: a longer wait
 * wakes early and re-arms).
 */
import { MAX_TIMER_DELAY_MS } from '../machines/schedule-fires.js';

interface HeapItem {
  at: number;
  key: string;
  generation: number;
}

export class TimerHeap {
  readonly #items: HeapItem[] = [];
  readonly #generations = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Number.POSITIVE_INFINITY;
  #stopped = false;

  constructor(
    private readonly now: () => number,
    /** Called with every key whose time has come (in due order). */
    private readonly onDue: (key: string) => void,
  ) {}

  /** Keys armed (not yet due or disarmed). */
  get size(): number {
    return this.#generations.size;
  }

  /** Arms `key` for `at` (ms since epoch), replacing any earlier arming of it. */
  arm(key: string, at: number): void {
    if (this.#stopped) return;
    const generation = (this.#generations.get(key) ?? 0) + 1;
    this.#generations.set(key, generation);
    this.#push({ at, key, generation });
    if (at < this.#timerAt) this.#schedule();
  }

  /** Disarms `key`. */
  disarm(key: string): void {
    this.#generations.delete(key);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#items.length = 0;
    this.#generations.clear();
  }

  #fire = (): void => {
    this.#timer = null;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.now();
    while (!this.#stopped && this.#items.length > 0 && (this.#items[0] as HeapItem).at <= now) {
      const item = this.#pop();
      if (this.#generations.get(item.key) !== item.generation) continue; // re-armed or disarmed since
      this.#generations.delete(item.key);
      try {
        this.onDue(item.key);
      } catch {
        // One key's handler must not stop the others (the caller reports its own errors).
      }
    }
    this.#schedule();
  };

  #schedule(): void {
    while (this.#items.length > 0 && this.#generations.get((this.#items[0] as HeapItem).key) !== (this.#items[0] as HeapItem).generation) this.#pop();
    const top = this.#items[0];
    if (this.#stopped || !top) return;
    if (this.#timer && this.#timerAt <= top.at) return;
    if (this.#timer) clearTimeout(this.#timer);
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, top.at - this.now()));
    this.#timerAt = top.at;
    this.#timer = setTimeout(this.#fire, delay);
    this.#timer.unref();
  }

  #push(item: HeapItem): void {
    const items = this.#items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as HeapItem).at <= item.at) break;
      items[i] = items[parent] as HeapItem;
      i = parent;
    }
    items[i] = item;
  }

  #pop(): HeapItem {
    const items = this.#items;
    const top = items[0] as HeapItem;
    const last = items.pop() as HeapItem;
    if (items.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= items.length) break;
        const right = left + 1;
        const child = right < items.length && (items[right] as HeapItem).at < (items[left] as HeapItem).at ? right : left;
        if ((items[child] as HeapItem).at >= last.at) break;
        items[i] = items[child] as HeapItem;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}
