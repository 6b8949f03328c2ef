/**
 * Leases on the `leases` bucket (bucket TTL = lease duration). Acquire is a `create`, renew an
 * `update` at the held revision (each write restarts the key's TTL), release a delete at the held
 * revision: a node whose lease expired and was taken can neither renew nor release it.
 */
import { decodeRecord, encodeRecord } from '../codec/index.js';
import type { StoreClock } from './clock.js';
import type { KvBucket } from './kv-bucket.js';
import { LeaseLostReason, type Lease, type LeaseLost, type LeaseReleased } from './lease.js';
import { slotLeaseKey } from './store-keys.js';
import { RevisionConflictError } from './store-errors.js';

/** Who holds a lease key right now. */
export interface LeaseHolder {
  key: string;
  owner: string;
  acquiredAt: Date;
  revision: number;
}

export class LeaseStore {
  constructor(
    private readonly bucket: KvBucket,
    private readonly clock: StoreClock,
    /** The bucket TTL: a lease not renewed for this long is gone. */
    readonly leaseDurationMs: number,
  ) {}

  /** Takes `key` for `owner` if nobody holds it; null when it is held. */
  async acquire(key: string, owner: string): Promise<Lease | null> {
    const now = new Date(this.clock.now());
    try {
      const revision = await this.bucket.create(key, encodeRecord('lease', { nodeId: owner, acquiredAt: now }));
      return { key, owner, revision, acquiredAt: now, renewedAt: now };
    } catch (err) {
      if (err instanceof RevisionConflictError) return null;
      throw err;
    }
  }

  /** Extends `lease` by one lease duration, fenced on its revision. */
  async renew(lease: Lease): Promise<Lease | LeaseLost> {
    const sentAt = new Date(this.clock.now());
    try {
      const value = encodeRecord('lease', { nodeId: lease.owner, acquiredAt: lease.acquiredAt });
      const revision = await this.bucket.update(lease.key, value, lease.revision);
      return { ...lease, revision, renewedAt: sentAt };
    } catch (err) {
      if (err instanceof RevisionConflictError) return this.#lost(lease);
      throw err;
    }
  }

  /** Gives `lease` up, fenced on its revision, so the next acquirer need not wait for the TTL. */
  async release(lease: Lease): Promise<LeaseReleased | LeaseLost> {
    try {
      await this.bucket.delete(lease.key, { revision: lease.revision });
      return { released: true, key: lease.key };
    } catch (err) {
      if (err instanceof RevisionConflictError) return this.#lost(lease);
      throw err;
    }
  }

  /** The current holder of `key`, or null when free. A corrupt lease value reads as held by "?". */
  async holder(key: string): Promise<LeaseHolder | null> {
    const entry = await this.bucket.get(key);
    if (!entry) return null;
    try {
      const record = decodeRecord('lease', entry.value);
      return { key, owner: record.nodeId, acquiredAt: record.acquiredAt, revision: entry.revision };
    } catch {
      return { key, owner: '?', acquiredAt: new Date(0), revision: entry.revision };
    }
  }

  /**
   * Takes one of `task`'s `maxRunning` cluster-wide slots (`slot.<task>.<k>`), or null when all are
   * held. Slots are counted from live leases only, so a crashed holder's slot frees itself after
   * the TTL. Starting at a random k spreads concurrent acquirers over different keys; a full task
   * costs `maxRunning` failed creates, which is still cheaper on NATS than listing keys (a consumer).
   */
  async acquireSlot(task: string, maxRunning: number, owner: string): Promise<Lease | null> {
    if (!Number.isInteger(maxRunning) || maxRunning < 1) {
      throw new RangeError(`maxRunning of task "${task}" must be an integer >= 1, got ${maxRunning}`);
    }
    const start = Math.floor(Math.random() * maxRunning);
    for (let i = 0; i < maxRunning; i++) {
      const lease = await this.acquire(slotLeaseKey(task, (start + i) % maxRunning), owner);
      if (lease) return lease;
    }
    return null;
  }

  async #lost(lease: Lease): Promise<LeaseLost> {
    const base = { lost: true as const, key: lease.key, owner: lease.owner, revision: lease.revision };
    const holder = await this.holder(lease.key);
    if (!holder) return { ...base, reason: LeaseLostReason.keyGone };
    // Same owner and same acquisition: this incarnation was written by someone else (moved);
    // anything else is a new acquisition after ours ended (taken), even by the same node.
    const sameIncarnation = holder.owner === lease.owner && holder.acquiredAt.getTime() === lease.acquiredAt.getTime();
    const reason = sameIncarnation ? LeaseLostReason.revisionMoved : LeaseLostReason.expiredAndTaken;
    return { ...base, reason, holder: holder.owner };
  }
}
