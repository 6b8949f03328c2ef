/**
 * NATS-only behaviour: surviving a nats-server restart (same store dir) with a reconnecting
 * client, and records and queue messages planted by a foreign client straight into the server.
 */
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../src/records.js';
import { isLeaseLost, type Lease, type LeaseLost } from '../../src/store/lease.js';
import { natsStore } from '../../src/store/nats/nats-store.js';
import type { ConnectionState, StoreBackend } from '../../src/store/store-backend.js';
import { CorruptRecordError } from '../../src/store/store-errors.js';
import { encodeKeyToken, scheduleLeaseKey } from '../../src/store/store-keys.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { until } from './support/backend-fixtures.js';

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

  it('survives a server restart: jobs, results and leases kept, client reconnects (down, then up), completions still heard', async () => {
    const factory = natsStore({ servers: server.url, prefix: 'restart', reconnectTimeWaitMs: 100 });
    const opts = { leaseDurationMs: 3000, ackWaitMs: 6000, resultSweepIntervalMs: 0 };
    const nodeA = await factory.open(opts);
    const nodeB = await factory.open(opts);
    stores.push(nodeA, nodeB);
    const states: ConnectionState[] = [];
    nodeA.onConnectionChange((s) => states.push(s));

    // Before: one job finished, one queued; a generic lease held and renewed; A waits for completions.
    await nodeA.jobs.add([job('j0'), job('j1')]);
    const [d0] = await nodeA.jobs.fetch(1);
    const acquired = await nodeA.jobs.acquire(d0!, d0!.job!, 'node-a');
    if (acquired.status !== 'acquired') throw new Error('j0 not acquired');
    await nodeA.jobs.commit(acquired.lease, { jobId: 'j0', outcome: 'success', returnValue: 'before', finishedAt: new Date(), attempt: 1 }, { resultTtlMs: null });
    d0!.ack();
    const lease = (await nodeA.leases.acquire(scheduleLeaseKey('s1'), 'node-a'))!;
    const lost: LeaseLost[] = [];
    const renewer = nodeA.createLeaseRenewer({ onLost: (l) => lost.push(l) });
    renewer.hold(lease);
    const completions: Array<[string, unknown]> = [];
    nodeA.jobs.onDone((id, state) => completions.push([id, state.result.returnValue]));
    await nodeA.jobs.get('probe');

    await server.restart();
    await until(async () => (states.includes('up') ? true : undefined), 10_000);
    expect(states.slice(0, 2)).toEqual(['down', 'up']);
    expect(nodeA.connectionState).toBe('up');

    // Data survived (file storage) and is reachable again through the same connection.
    expect(await until(async () => (await nodeA.jobs.result('j0').catch(() => undefined)) ?? undefined, 10_000)).toMatchObject({ returnValue: 'before' });
    expect(await nodeA.jobs.lookup('j1')).toMatchObject({ state: { phase: 'queued' }, revision: 0, job: { id: 'j1', args: [1, 2, 3] } });
    const [d1] = await nodeB.jobs.fetch(1, { expiresMs: 2000 });
    expect(d1?.jobId).toBe('j1');
    const taken = await nodeB.jobs.acquire(d1!, d1!.job!, 'node-b');
    if (taken.status !== 'acquired') throw new Error('j1 not acquired');
    await nodeB.jobs.commit(taken.lease, { jobId: 'j1', outcome: 'success', returnValue: 'after restart', finishedAt: new Date(), attempt: 1 }, { resultTtlMs: null });
    d1!.ack();
    // A listener attached before the restart hears a completion committed after it (resubscribed).
    await until(async () => (completions.length > 0 ? true : undefined), 5000);
    expect(completions).toEqual([['j1', 'after restart']]);

    // The lease is still ours: renewals resumed, the other node is fenced out.
    await renewer.renewNow();
    expect(lost).toEqual([]);
    const current = renewer.current(lease.key)!;
    expect(current.revision).toBeGreaterThan(lease.revision);
    expect(await nodeB.leases.acquire(lease.key, 'node-b')).toBeNull();
    expect(await nodeB.leases.renew(lease)).toMatchObject({ lost: true, reason: 'revision_moved' });
    expect(await renewer.release(lease.key)).toMatchObject({ released: true });
    const next = await nodeB.leases.acquire(lease.key, 'node-b');
    expect(next).not.toBeNull();
    expect(isLeaseLost(await nodeB.leases.renew(next as Lease))).toBe(false);
  });

  it('reports records and queue messages planted by a foreign client as typed failures', async () => {
    const corrupt: CorruptRecordError[] = [];
    const store = await natsStore({ servers: server.url, prefix: 'planted' }).open({
      leaseDurationMs: 1000,
      resultSweepIntervalMs: 0,
      onCorrupt: (e) => corrupt.push(e),
    });
    stores.push(store);
    await store.jobs.add([job('fine')]);
    const nc = await connect({ servers: server.url });
    try {
      const raw = await new Kvm(nc).open('planted_jobs');
      await raw.put(encodeKeyToken('weird/id'), new TextEncoder().encode('{"json":"not msgpack"}'));
      await raw.put(encodeKeyToken('empty'), new Uint8Array(0));
      const js = jetstream(nc);
      await js.publish(`planted.dispatch.normal.${encodeKeyToken('raw junk')}`, new TextEncoder().encode('junk'));
      await js.publish('planted.dispatch.normal.not_ZZ_a_token', new TextEncoder().encode('junk')); // not a key token of ours
    } finally {
      await nc.close();
    }
    expect(await store.jobs.states()).toEqual([]);
    expect(corrupt.map((f) => f.id).sort()).toEqual(['empty', 'weird/id']);
    await expect(store.jobs.get('weird/id')).rejects.toBeInstanceOf(CorruptRecordError);
    expect((await store.jobs.list()).jobs.map((l) => l.jobId)).toEqual(['fine']);
    expect(await store.jobs.queueDepth()).toBe(3);
    // The job and the junk under a job subject are delivered; the message under a foreign subject is
    // terminated, never delivered.
    const deliveries = await store.jobs.fetch(10);
    expect(deliveries.map((d) => [d.jobId, d.corrupt === null])).toEqual([
      ['fine', true],
      ['raw junk', false],
    ]);
    expect(deliveries[1]!.corrupt).toMatchObject({ bucket: 'jobs', id: 'raw junk' });
    expect(corrupt.every((e) => e instanceof CorruptRecordError)).toBe(true);
    for (const d of deliveries) d.ack();
    await until(async () => ((await store.jobs.queueDepth()) === 0 ? true : undefined), 3000);
    expect(await store.jobs.add([job('still-works')])).toEqual(['queued']);
  });

  it('fails fast when the first connection cannot be made', async () => {
    const nowhere = natsStore({ servers: `nats://127.0.0.1:${await freePort()}` });
    const started = Date.now();
    await expect(nowhere.open({ leaseDurationMs: 1000 })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
