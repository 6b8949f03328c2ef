/**
 * NATS-only behaviour: surviving a nats-server restart (same store dir) with a reconnecting
 * client, and records planted by a foreign client straight into the buckets.
 */
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../src/records.js';
import { isLeaseLost, type Lease, type LeaseLost } from '../../src/store/lease.js';
import { natsStore } from '../../src/store/nats/nats-store.js';
import type { ConnectionState, StoreBackend } from '../../src/store/store-backend.js';
import { CorruptRecordError } from '../../src/store/store-errors.js';
import { encodeKeyToken, jobLeaseKey } from '../../src/store/store-keys.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { sleep, until } from './support/backend-fixtures.js';

const job = (id: string): JobRecord => ({
  id,
  task: 'send-mail',
  args: [1, 2, 3],
  createdAt: new Date('2030-01-01T00:00:00Z'),
  attempt: 1,
  resultTtlMs: 60_000,
});

describe('NATS store', () => {
  let server: NatsServerHandle;
  const stores: StoreBackend[] = [];
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await server?.dispose();
  });

  it('survives a server restart: data kept, client reconnects (down, then up), leases still fenced', async () => {
    const factory = natsStore({ servers: server.url, prefix: 'restart', reconnectTimeWaitMs: 100 });
    const opts = { leaseDurationMs: 3000, ackWaitMs: 2000, resultSweepIntervalMs: 0 };
    const nodeA = await factory.open(opts);
    const nodeB = await factory.open(opts);
    stores.push(nodeA, nodeB);
    const states: ConnectionState[] = [];
    nodeA.onConnectionChange((s) => states.push(s));

    await nodeA.jobs.create(job('j1'));
    await nodeA.dispatch.enqueue('j1');
    const lease = (await nodeA.leases.acquire(jobLeaseKey('j1'), 'node-a'))!;
    const lost: LeaseLost[] = [];
    const renewer = nodeA.createLeaseRenewer({ onLost: (l) => lost.push(l) });
    renewer.hold(lease);

    const waiting = nodeA.results.waitFor('j1', { timeoutMs: 8000, pollIntervalMs: 500 });
    await server.restart();
    await until(async () => (states.includes('up') ? true : undefined), 10_000);
    expect(states.slice(0, 2)).toEqual(['down', 'up']);
    expect(nodeA.connectionState).toBe('up');

    // Data survived (file storage) and is reachable again through the same connection.
    expect((await nodeA.jobs.get('j1'))?.record).toMatchObject({ id: 'j1', args: [1, 2, 3] });
    const [delivery] = await nodeB.dispatch.fetch(1, { expiresMs: 2000 });
    expect(delivery?.jobId).toBe('j1');
    await delivery!.ack();

    // The lease is still ours: renewals resumed, the other node is fenced out.
    await renewer.renewNow();
    expect(lost).toEqual([]);
    const current = renewer.current(lease.key)!;
    expect(current.revision).toBeGreaterThan(lease.revision);
    expect(await nodeB.leases.acquire(lease.key, 'node-b')).toBeNull();
    expect(await nodeB.leases.renew(lease)).toMatchObject({ lost: true, reason: 'revision_moved' });
    expect(await renewer.release(lease.key)).toMatchObject({ released: true });
    // A wait begun before the restart still sees a result written after it.
    await nodeB.results.create(
      { jobId: 'j1', outcome: 'success', returnValue: 'after restart', finishedAt: new Date(), attempt: 1 },
      { ttlMs: null },
    );
    expect(await waiting).toMatchObject({ jobId: 'j1', returnValue: 'after restart' });
    const taken = await nodeB.leases.acquire(lease.key, 'node-b');
    expect(taken).not.toBeNull();
    expect(isLeaseLost(await nodeB.leases.renew(taken as Lease))).toBe(false);
  });

  it('reports records planted by a foreign client as typed failures', async () => {
    const corrupt: CorruptRecordError[] = [];
    const store = await natsStore({ servers: server.url, prefix: 'planted' }).open({
      leaseDurationMs: 1000,
      resultSweepIntervalMs: 0,
      onCorrupt: (e) => corrupt.push(e),
    });
    stores.push(store);
    await store.jobs.create(job('fine'));
    const nc = await connect({ servers: server.url });
    try {
      const raw = await new Kvm(nc).open('planted_jobs');
      await raw.put(encodeKeyToken('weird/id'), new TextEncoder().encode('{"json":"not msgpack"}'));
      await raw.put(encodeKeyToken('empty'), new Uint8Array(0));
    } finally {
      await nc.close();
    }
    const listing = await store.jobs.list();
    expect(listing.items.map((s) => s.record.id)).toEqual(['fine']);
    expect(listing.failures.map((f) => f.id).sort()).toEqual(['empty', 'weird/id']);
    expect(corrupt.every((e) => e instanceof CorruptRecordError)).toBe(true);
    await sleep(10);
    expect(await store.jobs.create(job('still-works'))).not.toBeNull();
  });

  it('fails fast when the first connection cannot be made', async () => {
    const nowhere = natsStore({ servers: `nats://127.0.0.1:${await freePort()}` });
    const started = Date.now();
    await expect(nowhere.open({ leaseDurationMs: 1000 })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
