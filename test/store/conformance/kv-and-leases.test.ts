/** Store conformance: KV revision rules, TTL, leases and slot leases. */
import { describe, expect, it } from 'vitest';
import type { KvChange } from '../../../src/store/kv-bucket.js';
import { isLeaseLost, type Lease, type LeaseLost } from '../../../src/store/lease.js';
import { RevisionConflictError } from '../../../src/store/store-errors.js';
import { jobLeaseKey, slotLeaseKey } from '../../../src/store/store-keys.js';
import { sleep, until } from '../support/backend-fixtures.js';
import { bytes, conformance, L } from './conformance.js';

conformance('KV and leases', ({ open, openPair }) => {
  describe('KV revision rules', () => {
    it('create refuses a live key, update/delete need the latest revision, revisions grow per bucket', async (ctx) => {
      const store = await open(ctx);
      const kv = store.buckets.jobs;
      const r1 = await kv.create('a', bytes('1'));
      await expect(kv.create('a', bytes('again'))).rejects.toBeInstanceOf(RevisionConflictError);
      const other = await kv.put('b', bytes('x'));
      expect(other).toBeGreaterThan(r1);
      const r2 = await kv.update('a', bytes('2'), r1);
      expect(r2).toBeGreaterThan(other);
      await expect(kv.update('a', bytes('stale'), r1)).rejects.toBeInstanceOf(RevisionConflictError);
      await expect(kv.delete('a', { revision: r1 })).rejects.toBeInstanceOf(RevisionConflictError);
      expect(new TextDecoder().decode((await kv.get('a'))?.value)).toBe('2');
      await kv.delete('a', { revision: r2 });
      expect(await kv.get('a')).toBeNull();
      await expect(kv.update('a', bytes('gone'), r2)).rejects.toBeInstanceOf(RevisionConflictError);
      const r3 = await kv.create('a', bytes('3'));
      expect(r3).toBeGreaterThan(r2);
      expect((await kv.entries()).map((e) => [e.key, e.revision])).toEqual([
        ['b', other],
        ['a', r3],
      ]);
    });

    it('purges old delete markers and a purged key can be created again', async (ctx) => {
      const store = await open(ctx);
      const kv = store.buckets.schedules; // TTL-less, like jobs: its delete markers stay until purged
      const rev = await kv.create('gone', bytes('1'));
      await kv.put('stays', bytes('2'));
      await kv.delete('gone', { revision: rev });
      expect(await kv.purgeTombstones(60_000)).toBe(0); // too young
      await sleep(20);
      expect(await kv.purgeTombstones(0)).toBe(1);
      expect(await kv.purgeTombstones(0)).toBe(0);
      expect(await kv.get('gone')).toBeNull();
      expect(new TextDecoder().decode((await kv.get('stays'))?.value)).toBe('2');
      expect(await kv.create('gone', bytes('3'))).toBeGreaterThan(rev);
    });

    it('watch sees puts and deletes in order, and current values when asked', async (ctx) => {
      const store = await open(ctx);
      const kv = store.buckets.jobs;
      await kv.put('x.0', bytes('deleted before the watch'));
      await kv.delete('x.0');
      await kv.put('x.1', bytes('before'));
      const seen: KvChange[] = [];
      const stop = await kv.watch('x.>', (c) => seen.push(c), { includeCurrent: true });
      await kv.put('x.2', bytes('p'));
      await kv.put('y.1', bytes('not matched'));
      await kv.delete('x.1');
      await until(async () => (seen.length >= 4 ? true : undefined), 3000);
      stop();
      expect(seen.map((c) => [c.key, c.operation])).toEqual([
        ['x.0', 'delete'], // the replay of current values includes delete markers
        ['x.1', 'put'],
        ['x.2', 'put'],
        ['x.1', 'delete'],
      ]);
      expect(seen.map((c) => c.revision)).toEqual([...seen.map((c) => c.revision)].sort((a, b) => a - b));
    });
  });

  describe.concurrent('TTL', () => {
    it('keys vanish a TTL after their last write, silently; an update restarts the TTL', async (ctx) => {
      const store = await open(ctx);
      const kv = store.buckets.leases;
      const changes: KvChange[] = [];
      const stop = await kv.watch('>', (c) => changes.push(c));
      const early = await kv.create('early', bytes('e'));
      await sleep(L * 0.5);
      const renewed = await kv.create('renewed', bytes('r'));
      await sleep(L * 0.3);
      await kv.update('renewed', bytes('r2'), renewed); // its TTL restarts here, at ~0.8 L
      // Wait for the first key to expire; the renewed one must outlive it.
      await until(async () => ((await kv.get('early')) === null ? true : undefined), 3 * L);
      expect(await kv.get('renewed')).not.toBeNull();
      await until(async () => ((await kv.get('renewed')) === null ? true : undefined), 3 * L);
      await sleep(100);
      stop();
      expect(changes.every((c) => c.operation === 'put')).toBe(true); // no event on expiry
      await expect(kv.update('early', bytes('late'), early)).rejects.toBeInstanceOf(RevisionConflictError);
      expect(await kv.create('early', bytes('fresh'))).toBeGreaterThan(early);
    });
  });

  describe.concurrent('leases', () => {
    it('acquire is exclusive; renew moves the revision; the stale revision is fenced', async (ctx) => {
      const store = await open(ctx);
      const a = await store.leases.acquire(jobLeaseKey('j1'), 'node-a');
      expect(a).not.toBeNull();
      expect(await store.leases.acquire(jobLeaseKey('j1'), 'node-b')).toBeNull();
      const renewed = await store.leases.renew(a!);
      expect(isLeaseLost(renewed)).toBe(false);
      expect((renewed as Lease).revision).toBeGreaterThan(a!.revision);
      const stale = await store.leases.renew(a!);
      expect(stale).toMatchObject({ lost: true, reason: 'revision_moved', holder: 'node-a' });
      const staleRelease = await store.leases.release(a!);
      expect(staleRelease).toMatchObject({ lost: true, reason: 'revision_moved' });
      expect(await store.leases.release(renewed as Lease)).toEqual({ released: true, key: jobLeaseKey('j1') });
      expect(await store.leases.acquire(jobLeaseKey('j1'), 'node-b')).not.toBeNull();
    });

    it('a renewed lease outlives several TTLs and is never taken meanwhile', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const lease = await nodeA.leases.acquire(jobLeaseKey('long'), 'node-a');
      const renewer = nodeA.createLeaseRenewer();
      const lost: LeaseLost[] = [];
      renewer.hold(lease!, { onLost: (l) => lost.push(l) });
      const started = Date.now();
      let attempts = 0;
      while (Date.now() - started < 3.5 * L) {
        expect(await nodeB.leases.acquire(jobLeaseKey('long'), 'node-b')).toBeNull();
        attempts++;
        await sleep(L / 4);
      }
      expect(attempts).toBeGreaterThan(10);
      expect(lost).toEqual([]);
      const current = renewer.current(jobLeaseKey('long'))!;
      expect(current.revision).toBeGreaterThan(lease!.revision);
      expect(await renewer.release(jobLeaseKey('long'))).toMatchObject({ released: true });
      expect(await nodeB.leases.acquire(jobLeaseKey('long'), 'node-b')).not.toBeNull();
    });

    it('a lease not renewed is taken after its TTL, and the old owner is fenced off', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const key = jobLeaseKey('crashy');
      // Taken first, so it has surely expired by the time the other key is taken over.
      const gone = (await nodeA.leases.acquire(jobLeaseKey('gone'), 'node-a'))!;
      const a = (await nodeA.leases.acquire(key, 'node-a'))!;
      expect(await nodeB.leases.acquire(key, 'node-b')).toBeNull();
      const b = await until(async () => (await nodeB.leases.acquire(key, 'node-b')) ?? undefined, 3 * L);
      expect(b.revision).toBeGreaterThan(a.revision);
      expect(await nodeA.leases.renew(a)).toMatchObject({ lost: true, reason: 'expired_and_taken', holder: 'node-b' });
      expect(await nodeA.leases.release(a)).toMatchObject({ lost: true, reason: 'expired_and_taken', holder: 'node-b' });
      expect(await nodeA.leases.renew(gone)).toMatchObject({ lost: true, reason: 'key_gone' });
      expect(await nodeA.leases.holder(key)).toMatchObject({ owner: 'node-b', revision: b.revision });
      expect(isLeaseLost(await nodeB.leases.renew(b))).toBe(false);
    });

    it('the renewer reports a lease that was taken away', async (ctx) => {
      const store = await open(ctx);
      const lease = (await store.leases.acquire(jobLeaseKey('stolen'), 'node-a'))!;
      const lost: LeaseLost[] = [];
      const renewer = store.createLeaseRenewer({ onLost: (l) => lost.push(l) });
      renewer.hold(lease);
      await store.buckets.leases.delete(lease.key); // someone removes it under our feet
      await until(async () => (lost.length > 0 ? true : undefined), 2 * L);
      expect(lost).toEqual([expect.objectContaining({ key: lease.key, reason: 'key_gone' })]);
      expect(renewer.size).toBe(0);
    });

    it('slot leases cap a task at k across nodes and free a crashed holder after its TTL', async (ctx) => {
      const [nodeA, nodeB] = await openPair(ctx);
      const attempts = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? nodeA : nodeB).leases.acquireSlot('encode', 3, `node-${i}`)),
      );
      const held = attempts.filter((l): l is Lease => l !== null);
      expect(held).toHaveLength(3);
      expect(new Set(held.map((l) => l.key))).toEqual(new Set([0, 1, 2].map((k) => slotLeaseKey('encode', k))));
      // Two holders keep renewing; the third "crashes" (never renews).
      const renewer = nodeA.createLeaseRenewer();
      renewer.hold(held[0]!);
      renewer.hold(held[1]!);
      expect(await nodeB.leases.acquireSlot('encode', 3, 'late')).toBeNull();
      const freed = await until(async () => (await nodeB.leases.acquireSlot('encode', 3, 'late')) ?? undefined, 3 * L);
      expect(freed.key).toBe(held[2]!.key);
      expect(await nodeB.leases.acquireSlot('encode', 3, 'later')).toBeNull();
    });
  });
});
