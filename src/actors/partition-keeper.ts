/**
 * Which schedule partitions this node owns. Schedules hash into SCHEDULE_PARTITIONS partitions; a
 * partition is one lease (`partition.<NN>` in the leases bucket, TTL = lease duration), renewed with
 * all of this node's partitions on one timer (LeaseRenewer) — one renewal per partition, not per
 * schedule. Scheduler nodes share the partitions by fair share, `ceil(P / live schedulers)`:
 *
 * - a node takes free partitions up to its share: it sees releases at once (a watch on the
 *   partition keys), and a holder that vanished through its lease running out (no watch event on
 *   expiry: the keeper counts a lease duration from the last write it saw), then tries a `create`
 *   on its next tick (every min(1 s, D/10)): a dead node's partitions go within D + 1 s;
 * - a node above its share while some live scheduler holds fewer than its share releases the extra
 *   partitions (a delete, seen at once by the others), so a node that joins gets its share within a
 *   round of liveness refresh (min(D/3, 2 s));
 * - a scheduler is live while its heartbeat (nodes bucket, every D/3) is younger than two heartbeat
 *   intervals; liveness is read again every min(D/3, 2 s), and at once when a partition comes free — a dead
 *   node's leases run out at most D after its death, by which time it no longer counts as live, so
 *   the others' shares already cover its partitions.
 *
 * Fires are fenced by the schedules' revision-checked advances and deterministic job ids (G4), not
 * by the partition lease alone; still, `isHeld` answers false as soon as a renewal is overdue enough
 * that the lease may have run out, so a node back from a long pause fires nothing before it knows.
 */
import type { KvBucket, KvChange } from '../store/kv-bucket.js';
import type { Lease, LeaseLost } from '../store/lease.js';
import type { LeaseRenewer } from '../store/lease-renewer.js';
import type { LeaseStore } from '../store/lease-store.js';
import type { NodeRegistry } from '../store/node-registry.js';
import { partitionLeaseKey, SCHEDULE_PARTITIONS } from '../store/store-keys.js';
import { decodeRecord } from '../codec/index.js';

export interface PartitionKeeperOptions {
  nodeId: string;
  leaseDurationMs: number;
  leases: LeaseStore;
  /** The leases bucket, watched for the partition keys. */
  leasesBucket: KvBucket;
  renewer: LeaseRenewer;
  nodes: NodeRegistry;
  now: () => number;
  /** This node now owns `partition` (its schedules should be loaded and fired). */
  onAcquired: (partition: number) => void;
  /** This node no longer owns `partition` (released, or lost): stop firing its schedules. */
  onReleased: (partition: number, lost: boolean) => void;
  onError?: (error: unknown, where: string) => void;
}

interface SeenHolder {
  owner: string;
  /** Local time the last write of the key was seen: the key lives until then + D at most. */
  seenAt: number;
  /** The key's revision then: the same revision seen again is a replay, not a renewal. */
  revision: number;
}

const PARTITIONS = Array.from({ length: SCHEDULE_PARTITIONS }, (_, p) => p);
const KEY_PREFIX = 'partition.';

export class PartitionKeeper {
  readonly tickMs: number;
  readonly #held = new Map<number, Lease>();
  readonly #seen = new Map<number, SeenHolder>();
  /** Partitions being acquired now (their create may be seen by the watch before it answers). */
  readonly #acquiring = new Set<number>();
  #liveSchedulers: string[] = [];
  #livenessAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | null = null;
  #stopWatch: (() => void) | null = null;
  #stopped = false;
  #ticking = false;
  /** A round was asked for while one ran (a release seen meanwhile): run another right after. */
  #again = false;

  /** How often the live schedulers are read (a node that joins is counted within this). */
  readonly #livenessEveryMs: number;

  constructor(private readonly opts: PartitionKeeperOptions) {
    this.tickMs = Math.max(10, Math.min(1000, Math.floor(opts.leaseDurationMs / 10)));
    this.#livenessEveryMs = Math.min(opts.renewer.intervalMs, 2_000);
  }

  /** Partitions held, sorted. */
  held(): number[] {
    return [...this.#held.keys()].sort((a, b) => a - b);
  }

  /** Whether this node holds `partition` with a lease that cannot have run out yet. */
  isHeld(partition: number): boolean {
    const lease = this.#held.get(partition);
    if (!lease) return false;
    const current = this.opts.renewer.current(lease.key) ?? lease;
    return this.opts.now() + this.opts.renewer.intervalMs < current.renewedAt.getTime() + this.opts.leaseDurationMs;
  }

  async start(): Promise<void> {
    this.#stopWatch = await this.opts.leasesBucket.watch(`${KEY_PREFIX}>`, (change) => this.#onChange(change), { includeCurrent: true });
    this.#timer = setInterval(() => void this.#tick(), this.tickMs);
    this.#timer.unref();
    await this.#tick();
  }

  /** Releases every partition (so others take them at once) and stops. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#stopWatch?.();
    this.#stopWatch = null;
    const held = [...this.#held.keys()];
    await Promise.all(held.map((p) => this.#release(p)));
  }

  #onChange(change: KvChange): void {
    const partition = partitionOf(change.key);
    if (partition === null) return;
    if (change.operation === 'delete') {
      this.#seen.delete(partition);
      // A release: somebody may take it right away (not waiting for the tick).
      if (!this.#held.has(partition)) void this.#tick();
      return;
    }
    // A watch that restarts (after a server restart, or missed heartbeats under load) delivers the
    // current values again: that is no news of the holder. Counted as a renewal, it kept a dead
    // node's partitions looking held for as long as the watch kept restarting.
    if (this.#seen.get(partition)?.revision === change.revision) return;
    let owner = '?';
    try {
      owner = decodeRecord('lease', change.value).nodeId;
    } catch {
      // unreadable: counted as held by someone
    }
    this.#seen.set(partition, { owner, seenAt: this.opts.now(), revision: change.revision });
    if (owner === this.opts.nodeId && !this.#held.has(partition) && !this.#acquiring.has(partition) && !this.#stopped) {
      // A write of ours for a partition we do not hold: one that landed after we stopped waiting for
      // it — a renewal, or a create whose answer was lost, sent into a server failover and written
      // once the connection got through (or a lease of an earlier run with this node id). Nobody
      // holds the partition, yet the write makes it look held for another lease duration: a
      // schedule of it fired nothing for the outage and a lease more (found by the cluster failover
      // test). Deleted at that revision, it is free at once. (Two live processes must never share
      // a node id: they would delete each other's leases.)
      void this.opts.leasesBucket.delete(change.key, { revision: change.revision }).catch(() => undefined);
    }
  }

  /** One round: refresh liveness now and then, release extras, take free partitions up to the share. */
  async #tick(): Promise<void> {
    if (this.#stopped) return;
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    this.#ticking = true;
    this.#again = false;
    try {
      const now = this.opts.now();
      const free = this.#free(now);
      const freeNow = free.length > 0 && this.#held.size < SCHEDULE_PARTITIONS;
      if (now - this.#livenessAt >= this.#livenessEveryMs || (freeNow && now - this.#livenessAt >= this.tickMs)) {
        await this.#refreshLiveness(now);
      }
      const share = Math.ceil(SCHEDULE_PARTITIONS / Math.max(1, this.#liveSchedulers.length));
      if (this.#held.size > share && this.#someoneWants(share)) {
        const extra = this.held().slice(share - this.#held.size);
        await Promise.all(extra.map((p) => this.#release(p)));
      }
      const wanted = share - this.#held.size;
      if (wanted > 0) await this.#acquire(free.slice(0, wanted));
    } catch (error) {
      // A round cut short by the node's own stop (its connection closes) is not an error.
      if (!this.#stopped) this.opts.onError?.(error, 'partition round');
    } finally {
      this.#ticking = false;
    }
    if (this.#again) await this.#tick();
  }

  async #refreshLiveness(now: number): Promise<void> {
    const nodes = await this.opts.nodes.listNodes();
    // Heartbeats come every renewal interval (D/3): two missed ones, and the node counts as gone.
    const fresh = 2 * this.opts.renewer.intervalMs + this.tickMs;
    const live = nodes.filter((n) => n.role !== 'worker' && now - n.lastHeartbeat.getTime() < fresh).map((n) => n.nodeId);
    if (!live.includes(this.opts.nodeId)) live.push(this.opts.nodeId);
    this.#liveSchedulers = live.sort();
    this.#livenessAt = now;
  }

  /** Whether a live scheduler (other than this node) holds fewer partitions than the share. */
  #someoneWants(share: number): boolean {
    const counts = new Map<string, number>(this.#liveSchedulers.map((n) => [n, 0]));
    for (const { owner } of this.#seen.values()) if (counts.has(owner)) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    for (const [node, count] of counts) if (node !== this.opts.nodeId && count < share) return true;
    return false;
  }

  /** Partitions nobody holds (as far as the watch and the lease duration tell), in this node's order. */
  #free(now: number): number[] {
    const start = rotation(this.opts.nodeId);
    const out: number[] = [];
    for (let i = 0; i < SCHEDULE_PARTITIONS; i++) {
      const p = PARTITIONS[(start + i) % SCHEDULE_PARTITIONS] as number;
      if (this.#held.has(p)) continue;
      const seen = this.#seen.get(p);
      if (seen && now - seen.seenAt < this.opts.leaseDurationMs) continue;
      out.push(p);
    }
    return out;
  }

  async #acquire(partitions: number[]): Promise<void> {
    await Promise.all(
      partitions.map(async (p) => {
        this.#acquiring.add(p);
        let lease: Lease | null;
        try {
          lease = await this.opts.leases.acquire(partitionLeaseKey(p), this.opts.nodeId);
        } finally {
          this.#acquiring.delete(p);
        }
        if (!lease) return;
        if (this.#stopped) {
          await this.opts.leases.release(lease).catch(() => undefined);
          return;
        }
        this.#held.set(p, lease);
        this.opts.renewer.hold(lease, { onLost: (lost) => this.#lost(p, lost) });
        this.opts.onAcquired(p);
      }),
    );
  }

  async #release(partition: number): Promise<void> {
    const lease = this.#held.get(partition);
    if (!lease) return;
    this.#held.delete(partition);
    this.opts.onReleased(partition, false);
    await this.opts.renewer.release(lease.key).catch((error: unknown) => this.opts.onError?.(error, `releasing partition ${partition}`));
  }

  #lost(partition: number, _lost: LeaseLost): void {
    if (!this.#held.delete(partition)) return;
    this.opts.onReleased(partition, true);
  }
}

function partitionOf(key: string): number | null {
  if (!key.startsWith(KEY_PREFIX)) return null;
  const n = Number(key.slice(KEY_PREFIX.length));
  return Number.isInteger(n) && n >= 0 && n < SCHEDULE_PARTITIONS ? n : null;
}

/** Where a node starts looking for free partitions: spreads concurrent acquirers over the ring. */
function rotation(nodeId: string): number {
  let hash = 0;
  for (let i = 0; i < nodeId.length; i++) hash = (Math.imul(hash, 31) + nodeId.charCodeAt(i)) | 0;
  return (hash >>> 0) % SCHEDULE_PARTITIONS;
}
