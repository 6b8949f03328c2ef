/**
 * NatsBucket's lean request path speaks @nats-io/kv's protocol exactly: what one writes the other
 * reads (values, delete and purge markers, revisions), on buckets with and without direct get.
 * The KvBucket semantics themselves are the conformance suite's job (test/store/conformance).
 */
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamRequests } from '../../src/store/nats/jetstream-requests.js';
import { NatsBucket } from '../../src/store/nats/nats-bucket.js';
import { InvalidStoreKeyError, RevisionConflictError } from '../../src/store/store-errors.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);

describe('NatsBucket on the lean request path', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let kvm: Kvm;
  let requests: JetStreamRequests;
  let counter = 0;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    kvm = new Kvm(jetstream(nc));
    requests = new JetStreamRequests(nc, { timeoutMs: 2000 });
  });
  afterAll(async () => {
    requests?.close();
    await nc?.close();
    await server?.dispose();
  });

  /** A bucket opened both ways: ours, and @nats-io/kv's view of the same stream. */
  const open = async (allowDirect: boolean): Promise<{ bucket: NatsBucket; kv: KV }> => {
    const name = `b${++counter}`;
    const kv = await kvm.create(name, { history: 1, allow_direct: allowDirect });
    expect((await kv.status()).streamInfo.config.allow_direct).toBe(allowDirect);
    return { bucket: await NatsBucket.open(kvm, nc, name, 0, requests), kv };
  };

  for (const allowDirect of [true, false]) {
    it(`writes and reads what @nats-io/kv writes and reads (allow_direct ${allowDirect})`, async () => {
      const { bucket, kv } = await open(allowDirect);

      const r1 = await bucket.create('a', bytes('1'));
      expect(await kv.get('a')).toMatchObject({ revision: r1, operation: 'PUT' });
      const r2 = await kv.update('a', bytes('2'), r1);
      expect(await bucket.get('a')).toMatchObject({ key: 'a', revision: r2 });
      expect(text((await bucket.get('a'))?.value)).toBe('2');

      // A revision-checked delete is @nats-io/kv's delete marker.
      await bucket.delete('a', { revision: r2 });
      const marker = await kv.get('a');
      expect(marker).toMatchObject({ operation: 'DEL', revision: r2 + 1 });
      expect(await bucket.get('a')).toBeNull();
      // create over a delete marker is an update fenced on the marker's revision, as in @nats-io/kv.
      const r4 = await bucket.create('a', bytes('again'));
      expect(r4).toBe(r2 + 2);
      expect(await kv.get('a')).toMatchObject({ operation: 'PUT', revision: r4 });

      // ...and over a purge marker written by @nats-io/kv.
      await kv.purge('a');
      expect(await bucket.get('a')).toBeNull();
      expect(await bucket.create('a', bytes('after purge'))).toBeGreaterThan(r4);

      // Unconditional put and delete.
      const p = await bucket.put('b', bytes('x'));
      expect((await kv.get('b'))?.revision).toBe(p);
      await bucket.delete('b');
      expect((await kv.get('b'))?.operation).toBe('DEL');
      expect(await bucket.get('never')).toBeNull();
    });
  }

  it('conflicts name the bucket and key and carry the current revision', async () => {
    const { bucket } = await open(true);
    const r1 = await bucket.create('k', bytes('1'));
    const r2 = await bucket.update('k', bytes('2'), r1);
    const stale = await bucket.update('k', bytes('3'), r1).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(RevisionConflictError);
    expect(stale).toMatchObject({ bucket: bucket.name, key: 'k', expectedRevision: r1, currentRevision: r2 });
    const exists = await bucket.create('k', bytes('again')).catch((e: unknown) => e);
    expect(exists).toMatchObject({ bucket: bucket.name, key: 'k', expectedRevision: 0, currentRevision: r2 });
    await expect(bucket.delete('k', { revision: r1 })).rejects.toMatchObject({ expectedRevision: r1, currentRevision: r2 });
    // Revision 0 never matches a write (as in the memory backend).
    await expect(bucket.delete('k', { revision: 0 })).rejects.toBeInstanceOf(RevisionConflictError);
    await expect(bucket.delete('absent', { revision: 0 })).rejects.toBeInstanceOf(RevisionConflictError);
    expect(text((await bucket.get('k'))?.value)).toBe('2');
  });

  it('refuses keys @nats-io/kv refuses, with a typed error', async () => {
    const { bucket } = await open(true);
    for (const key of ['', '.a', 'a.', 'a b', 'a*', 'a.>']) {
      await expect(bucket.put(key, bytes('x'))).rejects.toBeInstanceOf(InvalidStoreKeyError);
    }
    await expect(bucket.get('a b')).rejects.toBeInstanceOf(InvalidStoreKeyError);
  });
  it('a listing holds every key that exists throughout it, also keys rewritten while it runs', async () => {
    // A key rewritten during a listing moves past the bucket's last revision read at its start;
    // a listing that ended there dropped it (seen as listSchedules() → [] in a CI run).
    const { bucket } = await open(true);
    const keys = Array.from({ length: 300 }, (_, i) => `k${String(i).padStart(3, '0')}`);
    for (const key of keys) await bucket.put(key, bytes('0'));
    let writing = true;
    let rewrites = 0;
    // Four writers, each rewriting random keys one after another.
    const writers = Array.from({ length: 4 }, async () => {
      while (writing) {
        const key = keys[Math.floor(Math.random() * keys.length)] as string;
        await bucket.put(key, bytes(String(++rewrites)));
      }
    });
    try {
      for (let round = 0; round < 20; round++) {
        const listed = (await bucket.entries()).map((entry) => entry.key);
        expect(listed.length, `round ${round}: keys missing from the listing`).toBe(keys.length);
        expect(new Set(listed)).toEqual(new Set(keys));
      }
    } finally {
      writing = false;
      await Promise.all(writers);
    }
    expect(rewrites).toBeGreaterThan(20);
  });
});
