/**
 * The partition keeper on the memory store, under vitest's fake timers: Date, setTimeout and
 * setInterval are faked, so the store's TTLs (systemClock reads Date.now), the lease renewer's
 * timer, the keeper's tick and the nodes' heartbeats all run on one simulated time, while the
 * store's watch deliveries (microtasks) run for real between timers. Lease duration D = 300 ms:
 * renewals and heartbeats every D/3 = 100 ms, a keeper tick every D/10 = 30 ms.
 *
 * Every test records each node's acquisitions and releases on one timeline and checks, besides its
 * own claims, that no partition is ever held by two nodes at once (a release or loss comes before
 * the other node's acquisition) and that each keeper's view agrees with the leases bucket.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PartitionKeeper } from '../../src/actors/partition-keeper.js';
import { LeaseRenewer } from '../../src/store/lease-renewer.js';
import { LeaseStore } from '../../src/store/lease-store.js';
import { memoryStore } from '../../src/store/memory/memory-store.js';
import type { StoreBackend, StoreFactory } from '../../src/store/store-backend.js';
import { partitionLeaseKey, SCHEDULE_PARTITIONS } from '../../src/store/store-keys.js';
import { flakyBucket } from '../store/support/bucket-wrappers.js';
import { encodeRecord } from '../../src/codec/index.js';

const D = 300;
const TICK_MS = 30;
const RENEW_MS = 100;
const T0 = Date.UTC(2025, 0, 1);
const ALL = Array.from({ length: SCHEDULE_PARTITIONS }, (_, p) => p);

interface TimelineEntry {
  node: string;
  partition: number;
  kind: 'acquired' | 'released' | 'lost';
  at: number;
}

/** Advances simulated time in small steps (letting microtasks run) until `done()`; returns the time it took. */
async function until(done: () => boolean, limitMs: number, stepMs = 1): Promise<number> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > limitMs) throw new Error(`condition not reached within ${limitMs} ms of simulated time`);
    await vi.advanceTimersByTimeAsync(stepMs);
  }
  return Date.now() - start;
}

function cluster() {
  const factory: StoreFactory = memoryStore();
  const timeline: TimelineEntry[] = [];
  const nodes: Disposable[] = [];
  return { factory, timeline, nodes, start: (nodeId: string) => startNode(factory, nodeId, timeline, nodes) };
}

interface Disposable {
  dispose(): Promise<void>;
}
type SchedulerNode = Awaited<ReturnType<typeof startNode>>;

/**
 * A scheduler node as the runtime runs one: a heartbeat every D/3, a renewer and a keeper. Its
 * leases go through a flaky wrapper of the leases bucket, so a test can cut the node off the store
 * (writes time out) while it runs on — as a node whose connection is lost does.
 */
async function startNode(factory: StoreFactory, nodeId: string, timeline: TimelineEntry[], registry: Disposable[]) {
  const backend: StoreBackend = await factory.open({ leaseDurationMs: D, resultSweepIntervalMs: 0 });
  const leasesBucket = flakyBucket(backend.buckets.leases);
  const leases = new LeaseStore(leasesBucket, backend.clock, D);
  const renewer = new LeaseRenewer(leases, backend.clock);
  const held = new Set<number>();
  const errors: string[] = [];
  const beat = () => backend.nodes.heartbeat({ nodeId, role: 'scheduler', startedAt: new Date(T0) }).catch(() => undefined);
  await beat();
  let heartbeat: NodeJS.Timeout | null = setInterval(() => void beat(), RENEW_MS);
  const keeper = new PartitionKeeper({
    nodeId,
    leaseDurationMs: D,
    leases,
    leasesBucket,
    renewer,
    nodes: backend.nodes,
    now: () => backend.clock.now(),
    onAcquired: (partition) => {
      if (held.has(partition)) throw new Error(`${nodeId} acquired partition ${partition} twice`);
      held.add(partition);
      timeline.push({ node: nodeId, partition, kind: 'acquired', at: Date.now() });
    },
    onReleased: (partition, lost) => {
      if (!held.delete(partition)) throw new Error(`${nodeId} released partition ${partition} it did not hold`);
      timeline.push({ node: nodeId, partition, kind: lost ? 'lost' : 'released', at: Date.now() });
    },
    onError: (error) => void errors.push(String(error)),
  });
  expect(keeper.tickMs).toBe(TICK_MS);
  expect(renewer.intervalMs).toBe(RENEW_MS);
  await keeper.start();
  const stopHeartbeat = () => {
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
  };
  const node = {
    nodeId,
    backend,
    keeper,
    renewer,
    held,
    errors,
    /** A clean stop, in the runtime's order: heartbeat off, partitions released, node entry removed. */
    async stop() {
      stopHeartbeat();
      await keeper.stop();
      await backend.nodes.remove(nodeId);
      await backend.close();
    },
    /** The node is cut off the store but runs on: its lease writes time out, its heartbeat stops. */
    cut() {
      stopHeartbeat();
      leasesBucket.down = true;
    },
    /** The node's leases bucket, whose writes a test can make fail or lose their answers. */
    leasesBucket,
    /** Test cleanup. */
    async dispose() {
      stopHeartbeat();
      await keeper.stop().catch(() => undefined);
      renewer.stop();
      await backend.close();
    },
  };
  registry.push(node);
  return node;
}

/** Who holds each partition lease in the bucket (read through a fresh handle). */
async function holders(factory: StoreFactory): Promise<Map<number, string | null>> {
  const probe = await factory.open({ leaseDurationMs: D, resultSweepIntervalMs: 0 });
  const out = new Map<number, string | null>();
  for (const p of ALL) out.set(p, (await probe.leases.holder(partitionLeaseKey(p)))?.owner ?? null);
  await probe.close();
  return out;
}

/** No partition is ever held by two nodes at once: replaying the timeline, an acquisition finds it free. */
function assertNoOverlap(timeline: TimelineEntry[]): void {
  const owner = new Map<number, string>();
  for (const entry of [...timeline].sort((a, b) => a.at - b.at)) {
    if (entry.kind === 'acquired') {
      const current = owner.get(entry.partition);
      expect(current, `partition ${entry.partition} acquired by ${entry.node} at ${entry.at - T0} while ${current} held it`).toBeUndefined();
      owner.set(entry.partition, entry.node);
    } else {
      expect(owner.get(entry.partition), `${entry.node} gave up partition ${entry.partition} it did not hold`).toBe(entry.node);
      owner.delete(entry.partition);
    }
  }
}

/** Each keeper's view agrees with the bucket, the views are disjoint, and together they cover `expected`. */
async function assertViews(factory: StoreFactory, nodes: SchedulerNode[], expected: number[] = ALL): Promise<void> {
  const bucket = await holders(factory);
  const seen = new Map<number, string>();
  for (const node of nodes) {
    expect(node.keeper.held()).toEqual([...node.held].sort((a, b) => a - b));
    for (const p of node.held) {
      expect(seen.get(p), `partition ${p} held by ${seen.get(p)} and ${node.nodeId}`).toBeUndefined();
      seen.set(p, node.nodeId);
      expect(bucket.get(p), `partition ${p}: ${node.nodeId} thinks it holds it`).toBe(node.nodeId);
    }
  }
  expect([...seen.keys()].sort((a, b) => a - b)).toEqual(expected);
}

let env: ReturnType<typeof cluster>;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
  vi.setSystemTime(T0);
  env = cluster();
});
afterEach(async () => {
  for (const node of env.nodes) await node.dispose();
  vi.useRealTimers();
});

describe('PartitionKeeper (memory store, D = 300 ms)', () => {
  it('one node takes all 64 partitions on start and keeps them by renewing', async () => {
    const a = await env.start('node-a');
    expect(a.keeper.held()).toEqual(ALL);
    await assertViews(env.factory, [a]);
    const revisions = ALL.map((p) => a.renewer.current(partitionLeaseKey(p))!.revision);
    await vi.advanceTimersByTimeAsync(10 * D);
    expect(a.keeper.held()).toEqual(ALL);
    // Renewed, not re-acquired: the same acquisitions at later revisions.
    expect(env.timeline.filter((e) => e.kind !== 'acquired')).toEqual([]);
    expect(ALL.every((p, i) => a.renewer.current(partitionLeaseKey(p))!.revision > revisions[i]!)).toBe(true);
    expect(ALL.every((p) => a.keeper.isHeld(p))).toBe(true);
    await assertViews(env.factory, [a]);
    expect(a.errors).toEqual([]);
  });

  it('a second node joining gets half within a liveness round; then nothing moves', async () => {
    const a = await env.start('node-a');
    // Off the beat of a's tick, so that b's own ticks never coincide with a's releases.
    await vi.advanceTimersByTimeAsync(D + 13);
    const b = await env.start('node-b');
    const took = await until(() => b.held.size === SCHEDULE_PARTITIONS / 2, RENEW_MS + 2 * TICK_MS);
    expect(a.held.size).toBe(SCHEDULE_PARTITIONS / 2);
    await assertViews(env.factory, [a, b]);
    // The joining node sees a release at once (a watch event starts a round), not at its next tick.
    // Only the first of a batch, though: the releases that arrive while that round is in flight
    // find `#ticking` set and are skipped, so they wait for b's next tick (here 13 ms later).
    const released = env.timeline.filter((e) => e.node === 'node-a' && e.kind === 'released');
    expect(released).toHaveLength(SCHEDULE_PARTITIONS / 2);
    const delays = released.map((release) => {
      const taken = env.timeline.find((e) => e.node === 'node-b' && e.kind === 'acquired' && e.partition === release.partition);
      return taken!.at - release.at;
    });
    expect(Math.min(...delays), 'no release was taken at once').toBe(0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(TICK_MS);
    const moves = env.timeline.length;
    await vi.advanceTimersByTimeAsync(10 * D);
    expect(env.timeline.length, 'partitions moved after the split settled').toBe(moves);
    await assertViews(env.factory, [a, b]);
    assertNoOverlap(env.timeline);
    // Only released, never lost.
    expect(env.timeline.filter((e) => e.kind === 'lost')).toEqual([]);
    expect([a.errors, b.errors]).toEqual([[], []]);
    console.log(
      `[partition-keeper] a joining node held its half ${took} ms after it started (liveness round ${RENEW_MS} ms, tick ${TICK_MS} ms); ` +
        `${delays.filter((d) => d === 0).length} of ${delays.length} released partitions taken at once, the rest ${Math.max(...delays)} ms later`,
    );
  });

  it('a node stopping releases its partitions at once; the other takes them within a tick', async () => {
    const a = await env.start('node-a');
    const b = await env.start('node-b');
    await until(() => a.held.size === 32 && b.held.size === 32, D);
    await vi.advanceTimersByTimeAsync(D);
    const stoppedAt = Date.now();
    await a.stop();
    // Released at once: the bucket no longer holds any of a's leases.
    expect(a.held.size).toBe(0);
    expect([...(await holders(env.factory)).values()].filter((owner) => owner === 'node-a')).toEqual([]);
    const took = await until(() => b.held.size === SCHEDULE_PARTITIONS, 2 * TICK_MS);
    expect(Date.now() - stoppedAt).toBeLessThanOrEqual(2 * TICK_MS);
    await assertViews(env.factory, [b]);
    assertNoOverlap(env.timeline);
    console.log(`[partition-keeper] after a clean stop the survivor held all 64 within ${took} ms (tick ${TICK_MS} ms)`);
  });

  it('a node cut off the store loses its partitions before its leases run out; the survivor takes them within the lease + a tick', async () => {
    const a = await env.start('node-a');
    const b = await env.start('node-b');
    await until(() => a.held.size === 32 && b.held.size === 32, D);
    await vi.advanceTimersByTimeAsync(D);
    const aHeld = a.keeper.held();
    const lastRenewal = Math.max(...aHeld.map((p) => a.renewer.current(partitionLeaseKey(p))!.renewedAt.getTime()));
    const cutAt = Date.now();
    a.cut();
    const took = await until(() => b.held.size === SCHEDULE_PARTITIONS, D + 2 * TICK_MS);
    // The survivor waited for the leases to run out in the store (no watch event on expiry).
    expect(Date.now()).toBeGreaterThanOrEqual(lastRenewal + D);
    expect(Date.now() - cutAt).toBeLessThanOrEqual(D + TICK_MS + 1);
    // The cut node gave each of them up as lost, and before the survivor took it.
    const aLosses = env.timeline.filter((e) => e.node === 'node-a' && e.kind === 'lost');
    expect(aLosses.map((e) => e.partition).sort((x, y) => x - y)).toEqual(aHeld);
    for (const loss of aLosses) expect(loss.at).toBeLessThan(lastRenewal + D);
    expect(a.keeper.held()).toEqual([]);
    assertNoOverlap(env.timeline);
    await assertViews(env.factory, [b]);
    console.log(
      `[partition-keeper] after a node was cut off the survivor held all 64 ${took} ms later ` +
        `(${Date.now() - lastRenewal} ms after the cut node's last renewal; lease ${D} ms, tick ${TICK_MS} ms)`,
    );
  });

  it("a renewal of a cut node that lands after it gave its partitions up (held up by a failover) is deleted by that node: the partitions are held again at once, not a lease later", async () => {
    const a = await env.start('node-a');
    const b = await env.start('node-b');
    await until(() => a.held.size === 32 && b.held.size === 32, D);
    await vi.advanceTimersByTimeAsync(D);
    const aHeld = a.keeper.held();
    const leases = new Map(aHeld.map((p) => [p, a.renewer.current(partitionLeaseKey(p))!]));
    a.cut();
    await until(() => a.held.size === 0, D);
    // The outage ends; the renewals A sent before giving up land now (written through the store
    // directly, as a server applies publishes that sat in a reconnecting connection's buffer).
    a.leasesBucket.down = false;
    for (const [p, lease] of leases) {
      if (b.held.has(p)) continue;
      const current = await a.backend.buckets.leases.get(partitionLeaseKey(p));
      if (!current) continue;
      await a.backend.buckets.leases.update(partitionLeaseKey(p), encodeRecord('lease', { nodeId: 'node-a', acquiredAt: lease.acquiredAt }), current.revision);
    }
    // The node is back: both share the partitions again, and none waits for a late write's lease.
    const took = await until(() => a.held.size + b.held.size === SCHEDULE_PARTITIONS, 2 * D);
    expect(took, 'every partition held again').toBeLessThan(D / 2);
    assertNoOverlap(env.timeline);
    await assertViews(env.factory, [a, b]);
  });

  it('creates that land after the node saw them time out are deleted by that node and taken again at once', async () => {
    const a = await env.start('node-a');
    const b = await env.start('node-b');
    await until(() => a.held.size === 32 && b.held.size === 32, D);
    // B stops (releasing its 32); A's creates of them time out, and land 20 ms later (only the
    // creates: its renewals go on as usual).
    const create = a.leasesBucket.create;
    let landedLate = 0;
    a.leasesBucket.create = (key, value) => {
      setTimeout(() => void create(key, value).then(() => landedLate++, () => undefined), 20);
      return Promise.reject(new Error('TIMEOUT'));
    };
    await b.stop();
    await vi.advanceTimersByTimeAsync(2 * TICK_MS);
    expect(landedLate, 'creates of A that landed late').toBeGreaterThan(0);
    expect(a.held.size).toBe(32);
    a.leasesBucket.create = create;
    const took = await until(() => a.held.size === SCHEDULE_PARTITIONS, 2 * D);
    // Without the delete, A would have waited a lease for keys it wrote itself.
    expect(took).toBeLessThan(D / 2);
    assertNoOverlap(env.timeline);
    await assertViews(env.factory, [a]);
  });

  it('a node whose store handle closes under it (a crash, as the memory store sees one): isHeld is false at once; the survivor takes over within the lease + a tick', async () => {
    const a = await env.start('node-a');
    const b = await env.start('node-b');
    await until(() => a.held.size === 32 && b.held.size === 32, D);
    await vi.advanceTimersByTimeAsync(D);
    const aHeld = a.keeper.held();
    const closedAt = Date.now();
    a.cut(); // no heartbeat from here on
    // backend.close() stops the renewers it created (this one is built over the flaky bucket, so
    // it is stopped by hand), without telling the keeper.
    a.renewer.stop();
    await a.backend.close();
    // Whatever its keeper still lists, it fires nothing from them: none counts as held.
    expect(aHeld.filter((p) => a.keeper.isHeld(p))).toEqual([]);
    const took = await until(() => b.held.size === SCHEDULE_PARTITIONS, D + 2 * TICK_MS);
    expect(Date.now() - closedAt).toBeLessThanOrEqual(D + TICK_MS + 1);
    expect(aHeld.filter((p) => a.keeper.isHeld(p))).toEqual([]);
    const bucket = await holders(env.factory);
    expect(ALL.filter((p) => bucket.get(p) !== 'node-b')).toEqual([]);
    console.log(`[partition-keeper] after a node's store handle closed the survivor held all 64 ${took} ms later`);
  });

  it('isHeld turns false as soon as a renewal is overdue enough that the lease may run out (a paused process), and true again once renewed', async () => {
    const a = await env.start('node-a');
    await vi.advanceTimersByTimeAsync(D + 17);
    const p = 5;
    const renewedAt = a.renewer.current(partitionLeaseKey(p))!.renewedAt.getTime();
    expect(a.keeper.isHeld(p)).toBe(true);
    // The process pauses: time jumps with no timer running (no renewal, no tick).
    vi.setSystemTime(renewedAt + D - RENEW_MS - 1);
    expect(a.keeper.isHeld(p)).toBe(true);
    vi.setSystemTime(renewedAt + D - RENEW_MS);
    expect(a.keeper.isHeld(p)).toBe(false);
    expect(a.keeper.held()).toContain(p); // still its own as far as it knows: only not to be fired from
    // Back from the pause before the lease ran out: the overdue renewal lands, and it holds again.
    await vi.advanceTimersByTimeAsync(1);
    await until(() => a.keeper.isHeld(p), RENEW_MS);
    expect(a.renewer.current(partitionLeaseKey(p))!.renewedAt.getTime()).toBeGreaterThan(renewedAt);
    expect(env.timeline.filter((e) => e.kind !== 'acquired')).toEqual([]);
  });

  it('isHeld is false for a partition never held or released', async () => {
    const a = await env.start('node-a');
    const b = await env.start('node-b');
    await until(() => b.held.size === 32, D);
    for (const p of ALL) expect(a.keeper.isHeld(p)).toBe(a.held.has(p));
    for (const p of ALL) expect(b.keeper.isHeld(p)).toBe(b.held.has(p));
  });
});
