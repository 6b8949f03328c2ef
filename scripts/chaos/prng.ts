/**
 * A small seeded pseudo-random generator (mulberry32): the same seed gives the same fault plan on
 * every machine, so a failing run can be replayed with `npm run chaos -- --seed N`.
 */
export class Prng {
  #state: number;

  constructor(readonly seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`the chaos seed must be an integer, got ${seed}`);
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Uniform in [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** One of `items`, chosen by `weight`. */
  weighted<T>(items: readonly { item: T; weight: number }[]): T {
    const total = items.reduce((sum, i) => sum + i.weight, 0);
    let pick = this.next() * total;
    for (const { item, weight } of items) {
      pick -= weight;
      if (pick < 0) return item;
    }
    return items[items.length - 1]!.item;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }
}
