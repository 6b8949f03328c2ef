/**
 * Renews every lease a node holds with one timer (BullMQ's lock manager idea): one round every
 * `intervalMs` (default a third of the lease duration) updates each held lease at its revision.
 * A lease whose renewal is refused is reported once through `onLost` and dropped. When the store
 * does not answer, the lease is declared lost (`store_unreachable`) before its TTL can run out on
 * the server, so a partitioned node stops its job before another node can take it (G1).
 */
import type { StoreClock, TimerHandle } from './clock.js';
import { LeaseLostReason, isLeaseLost, type Lease, type LeaseLost, type LeaseReleased } from './lease.js';
import type { LeaseStore } from './lease-store.js';

export interface LeaseRenewerOptions {
  /** Time between renewal rounds. @defaultValue leaseDurationMs / 3 */
  intervalMs?: number;
  /** Called once for each lost lease (after it is dropped). */
  onLost?: (lost: LeaseLost) => void;
  /** Called after each successful renewal with the renewed lease (e.g. to extend a delivery's ack wait). */
  onRenewed?: (lease: Lease) => void;
  /** Called when a renewal fails without an answer (timeout, disconnected); the lease is kept until its deadline. */
  onError?: (error: unknown, lease: Lease) => void;
  /** Where a callback's exception goes (never into the renewals). @defaultValue ignored */
  reportError?: (error: unknown, where: string) => void;
}

/** Per-lease callbacks, in addition to the renewer's own. */
export interface HoldOptions {
  onLost?: (lost: LeaseLost) => void;
  onRenewed?: (lease: Lease) => void;
}

interface Held {
  lease: Lease;
  handlers: HoldOptions;
  inflight: Promise<void> | null;
  /** Set when the lease leaves the renewer while a renewal may still be in flight. */
  dropped: 'forgotten' | 'lost' | null;
}

export class LeaseRenewer {
  readonly intervalMs: number;
  readonly #held = new Map<string, Held>();
  #timer: TimerHandle | null = null;
  #stopped = false;

  constructor(
    private readonly leases: LeaseStore,
    private readonly clock: StoreClock,
    private readonly opts: LeaseRenewerOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? Math.max(1, Math.floor(leases.leaseDurationMs / 3));
    if (!(this.intervalMs > 0) || this.intervalMs >= leases.leaseDurationMs) {
      throw new RangeError(
        `renewal interval ${this.intervalMs} ms must be > 0 and below the lease duration ${leases.leaseDurationMs} ms (default: a third of it)`,
      );
    }
  }

  /** Number of leases being renewed. */
  get size(): number {
    return this.#held.size;
  }

  /** Starts renewing `lease` (replacing any lease held under the same key). */
  hold(lease: Lease, handlers: HoldOptions = {}): void {
    if (this.#stopped) throw new Error('LeaseRenewer is stopped: create a new one with backend.createLeaseRenewer()');
    const previous = this.#held.get(lease.key);
    if (previous) previous.dropped = 'forgotten';
    this.#held.set(lease.key, { lease, handlers, inflight: null, dropped: null });
    this.#schedule();
  }

  /** The latest revision of the lease held under `key`. */
  current(key: string): Lease | undefined {
    return this.#held.get(key)?.lease;
  }

  /**
   * Stops renewing `key` without releasing it (it expires after the TTL). Resolves, once any
   * renewal in flight has settled, to the lease at its latest revision.
   */
  async forget(key: string): Promise<Lease | undefined> {
    const held = this.#held.get(key);
    if (!held) return undefined;
    this.#held.delete(key);
    held.dropped = 'forgotten';
    if (held.inflight) await held.inflight;
    return held.lease;
  }

  /** Stops renewing `key` and releases it at its latest revision; null when it was not held. */
  async release(key: string): Promise<LeaseReleased | LeaseLost | null> {
    const held = this.#held.get(key);
    if (!held) return null;
    // A renewal in flight moves the revision: release only after it settles.
    while (held.inflight) await held.inflight;
    if (this.#held.get(key) !== held) return null;
    this.#held.delete(key);
    held.dropped = 'forgotten';
    return this.leases.release(held.lease);
  }

  /** Runs one renewal round now and waits for it. */
  async renewNow(): Promise<void> {
    await Promise.all([...this.#held.values()].map((held) => this.#renew(held)));
  }

  /** Stops the timer; held leases are left to expire. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.clock.clearTimeout(this.#timer);
    this.#timer = null;
    for (const held of this.#held.values()) held.dropped = 'forgotten';
    this.#held.clear();
  }

  #schedule(): void {
    if (this.#timer !== null || this.#stopped || this.#held.size === 0) return;
    this.#timer = this.clock.setTimeout(() => {
      this.#timer = null;
      void this.renewNow().finally(() => this.#schedule());
    }, this.intervalMs);
  }

  #renew(held: Held): Promise<void> {
    if (held.inflight) {
      // The previous round has not answered yet: only the deadline can decide.
      this.#checkDeadline(held, new Error('renewal still in flight'));
      return held.inflight;
    }
    const attempt = this.leases
      .renew(held.lease)
      .then((result) => {
        if (held.dropped === 'lost') {
          // Declared lost while this renewal was in flight: the holder has stopped, so give the
          // lease back rather than leave it blocking others until the TTL.
          if (!isLeaseLost(result)) void this.leases.release(result).catch(() => undefined);
          return;
        }
        if (held.dropped === 'forgotten') {
          if (!isLeaseLost(result)) held.lease = result;
          return;
        }
        if (isLeaseLost(result)) {
          this.#drop(held, result);
          return;
        }
        held.lease = result;
        this.#call(() => this.opts.onRenewed?.(result));
        this.#call(() => held.handlers.onRenewed?.(result));
      })
      .catch((error: unknown) => {
        if (held.dropped) return;
        this.#call(() => this.opts.onError?.(error, held.lease));
        this.#checkDeadline(held, error);
      })
      .finally(() => {
        held.inflight = null;
      });
    held.inflight = attempt;
    return attempt;
  }

  /** Declares the lease lost when the next round could come after its TTL runs out on the server. */
  #checkDeadline(held: Held, _error: unknown): void {
    const expiresAt = held.lease.renewedAt.getTime() + this.leases.leaseDurationMs;
    if (this.clock.now() + this.intervalMs < expiresAt) return;
    const { key, owner, revision } = held.lease;
    this.#drop(held, { lost: true, key, owner, revision, reason: LeaseLostReason.storeUnreachable });
  }

  #drop(held: Held, lost: LeaseLost): void {
    held.dropped = 'lost';
    if (this.#held.get(held.lease.key) === held) this.#held.delete(held.lease.key);
    this.#call(() => this.opts.onLost?.(lost));
    this.#call(() => held.handlers.onLost?.(lost));
  }

  /** A throwing callback must neither stop the other leases' renewals nor crash the node. */
  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      try {
        this.opts.reportError?.(err, 'a LeaseRenewer callback threw');
      } catch {
        // nowhere left to report it
      }
    }
  }
}
