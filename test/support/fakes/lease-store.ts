/**
 * An in-memory lease table with the store semantics the machines rely on: every write restarts the
 * key's TTL, writes are revision-checked, and an expired key can be taken by anyone.
 */
import type { SimulatedClock } from 'xstate';
import type { LeaseGrant } from '../../../src/machines/lease-timing.js';
import type { RenewScheduleLeaseOutput } from '../../../src/machines/schedule-types.js';

interface LeaseEntry {
  holder: string;
  revision: number;
  expiresAt: number;
}

export class FakeLeaseStore {
  private readonly leases = new Map<string, LeaseEntry>();
  private nextRevision = 1;
  /** Every successful write: key, holder, time sent, expiry it set. */
  readonly writes: { key: string; holder: string; at: number; expiresAt: number }[] = [];

  constructor(
    private readonly clock: SimulatedClock,
    private readonly leaseDurationMs: number,
  ) {}

  private live(key: string): LeaseEntry | undefined {
    const entry = this.leases.get(key);
    if (entry && entry.expiresAt <= this.clock.now()) {
      this.leases.delete(key);
      return undefined;
    }
    return entry;
  }

  private write(key: string, holder: string): LeaseGrant {
    const at = this.clock.now();
    const entry = { holder, revision: this.nextRevision++, expiresAt: at + this.leaseDurationMs };
    this.leases.set(key, entry);
    this.writes.push({ key, holder, at, expiresAt: entry.expiresAt });
    return { revision: entry.revision };
  }

  acquire(key: string, holder: string): LeaseGrant | null {
    return this.live(key) ? null : this.write(key, holder);
  }

  renew(key: string, holder: string, lease: LeaseGrant): RenewScheduleLeaseOutput {
    const entry = this.leases.get(key);
    if (!entry) return { status: 'lost', reason: 'deleted' };
    if (entry.revision !== lease.revision) return { status: 'lost', reason: 'revision_moved' };
    if (entry.expiresAt <= this.clock.now()) return { status: 'lost', reason: 'expired' };
    return { status: 'renewed', lease: this.write(key, holder), now: this.clock.now() };
  }

  /** Whether `lease` is still the live revision of `key` (the fencing check of a result write). */
  holds(key: string, lease: LeaseGrant): boolean {
    return this.live(key)?.revision === lease.revision;
  }

  release(key: string, lease: LeaseGrant): void {
    if (this.leases.get(key)?.revision === lease.revision) this.leases.delete(key);
  }

  /** Another node overwrites the key (e.g. after a pause made ours expire). */
  steal(key: string, holder: string): void {
    this.write(key, holder);
  }
}
