/**
 * Cluster-wide "someone listens to X" for a signal channel whose messages are worth sending only
 * when somebody wants them (runtime events, job completions). A node with listeners says so on the
 * `interest` channel (key `<topic>`, at once and every few seconds); every node counts a topic as
 * wanted while such a word is fresh. A node that opens asks (`<topic>.query`), listening nodes answer
 * at once, and it counts every topic as wanted for a short grace period meanwhile, so its first
 * messages are not lost to the round trip.
 *
 * Ordering, on NATS: a node's word goes out on its connection before anything it does afterwards, and
 * the server forwards it before what follows; so a listener registered before an action (a producer
 * waiting for the job it then adds) is known to every node that could answer that action.
 */
import { SignalChannel, type SignalTransport } from './signals.js';

/** How often a node with listeners repeats that it listens. */
export const INTEREST_ANNOUNCE_MS = 5_000;
/** How long a word of interest keeps publishers publishing. */
export const INTEREST_TTL_MS = 3 * INTEREST_ANNOUNCE_MS;
/** How long a node that just opened counts every topic as wanted (its question's answers take a round trip). */
export const INTEREST_GRACE_MS = 500;

const QUERY_SUFFIX = '-query';
const NO_DATA = new Uint8Array(0);

export class InterestTracker {
  readonly #wantedUntil = new Map<string, number>();
  readonly #listening = new Map<string, { count: number; announcer: NodeJS.Timeout }>();
  readonly #graceUntil: number;
  readonly #stopListening: () => void;

  constructor(
    private readonly signals: SignalTransport,
    private readonly now: () => number,
    topics: readonly string[],
  ) {
    this.#stopListening = signals.listen(SignalChannel.interest, (key) => {
      if (key.endsWith(QUERY_SUFFIX)) {
        const topic = key.slice(0, -QUERY_SUFFIX.length);
        if (this.#listening.has(topic)) this.#announce(topic);
        return;
      }
      this.#wantedUntil.set(key, Math.max(this.#wantedUntil.get(key) ?? 0, this.now() + INTEREST_TTL_MS));
    });
    this.#graceUntil = this.now() + INTEREST_GRACE_MS;
    for (const topic of topics) signals.send(SignalChannel.interest, `${topic}${QUERY_SUFFIX}`, NO_DATA);
  }

  /** Whether anyone in the cluster (this node included) listens to `topic` now. */
  wanted(topic: string): boolean {
    if (this.#listening.has(topic)) return true;
    const now = this.now();
    return now < this.#graceUntil || now < (this.#wantedUntil.get(topic) ?? 0);
  }

  /** This node listens to `topic` (says so now and every few seconds) until the returned function is called. */
  listen(topic: string): () => void {
    const entry = this.#listening.get(topic);
    if (entry) entry.count++;
    else {
      const announcer = setInterval(() => this.#announce(topic), INTEREST_ANNOUNCE_MS);
      announcer.unref();
      this.#listening.set(topic, { count: 1, announcer });
      this.#announce(topic);
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const current = this.#listening.get(topic);
      if (!current || --current.count > 0) return;
      clearInterval(current.announcer);
      this.#listening.delete(topic);
    };
  }

  close(): void {
    for (const { announcer } of this.#listening.values()) clearInterval(announcer);
    this.#listening.clear();
    this.#stopListening();
  }

  #announce(topic: string): void {
    this.signals.send(SignalChannel.interest, topic, NO_DATA);
  }
}
