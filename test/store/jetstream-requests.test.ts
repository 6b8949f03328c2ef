/**
 * JetStreamRequests against a real nats-server 2.9: acks, duplicates, revision conflicts with the
 * current sequence, 503 no responders, timeouts through the one sweep timer, closing, many
 * concurrent requests, direct get vs STREAM.MSG.GET — and the server facts the NATS bucket relies
 * on (KV streams allow direct get; a direct get on a stream without it is never answered).
 */
import { jetstream, jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamRequests } from '../../src/store/nats/jetstream-requests.js';
import { isStreamNotFound, JetStreamRequestError } from '../../src/store/nats/nats-errors.js';
import {
  RevisionConflictError,
  StoreClosedError,
  StoreTimeoutError,
  StoreUnavailableError,
} from '../../src/store/store-errors.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);

describe('JetStreamRequests', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let requests: JetStreamRequests;
  let streamCounter = 0;

  /** A fresh stream on `<name>.>` with history 1 per subject, like a KV bucket. */
  const stream = async (opts: { allowDirect?: boolean } = {}): Promise<{ name: string; subject: (s: string) => string }> => {
    const name = `S${++streamCounter}`;
    await jsm.streams.add({
      name,
      subjects: [`${name}.>`],
      storage: StorageType.Memory,
      max_msgs_per_subject: 1,
      allow_direct: opts.allowDirect ?? true,
      duplicate_window: 60_000_000_000,
    });
    return { name, subject: (s) => `${name}.${s}` };
  };

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
    requests = new JetStreamRequests(nc, { timeoutMs: 2000 });
  });
  afterAll(async () => {
    requests?.close();
    await nc?.close();
    await server?.dispose();
  });

  it('publishes and reports JetStream’s ack; a repeated msgId is a duplicate of the same sequence', async () => {
    const s = await stream();
    const first = await requests.publish(s.subject('a'), bytes('1'), { msgId: 'm-1' });
    expect(first).toEqual({ stream: s.name, seq: 1, duplicate: false });
    const again = await requests.publish(s.subject('b'), bytes('other payload'), { msgId: 'm-1' });
    expect(again).toEqual({ stream: s.name, seq: 1, duplicate: true });
    expect(await requests.publish(s.subject('a'), bytes('2'))).toEqual({ stream: s.name, seq: 2, duplicate: false });
    expect(requests.pendingCount).toBe(0);
  });

  it('a stale expected sequence is a RevisionConflictError carrying the current sequence', async () => {
    const s = await stream();
    const created = await requests.publish(s.subject('k'), bytes('v1'), { expectedLastSubjectSequence: 0 });
    const updated = await requests.publish(s.subject('k'), bytes('v2'), { expectedLastSubjectSequence: created.seq });
    expect(updated.seq).toBe(created.seq + 1);

    const stale = requests.publish(s.subject('k'), bytes('v3'), {
      expectedLastSubjectSequence: created.seq,
      conflict: { bucket: 'leases', key: 'k', expectedRevision: created.seq },
    });
    const err = await stale.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RevisionConflictError);
    expect(err).toMatchObject({ bucket: 'leases', key: 'k', expectedRevision: created.seq, currentRevision: updated.seq });
    expect((err as Error).cause).toBeInstanceOf(JetStreamRequestError);
    expect((err as Error).cause).toMatchObject({ errCode: 10071, status: 400 });

    // A create (expected 0) on a live subject: named by the subject when no conflict target is given.
    const exists = await requests.publish(s.subject('k'), bytes('again'), { expectedLastSubjectSequence: 0 }).catch((e: unknown) => e);
    expect(exists).toBeInstanceOf(RevisionConflictError);
    expect(exists).toMatchObject({ key: s.subject('k'), expectedRevision: 0, currentRevision: updated.seq });
  });

  it('a subject nobody serves fails at once with StoreUnavailableError (503 no responders)', async () => {
    const started = performance.now();
    const err = await requests.publish('nobody.listens.here', bytes('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toContain('"nobody.listens.here"');
    expect(performance.now() - started).toBeLessThan(1000); // not the 2 s timeout
    expect(requests.pendingCount).toBe(0);
  });

  it('a request nobody answers fails through the sweep with StoreTimeoutError naming subject and timeout', async () => {
    const short = new JetStreamRequests(nc, { timeoutMs: 150, sweepIntervalMs: 20 });
    const swallowed: string[] = [];
    const sub = nc.subscribe('swallow.>', {
      callback: (_err, msg) => {
        swallowed.push(msg.subject);
      },
    });
    await nc.flush();
    try {
      const started = performance.now();
      const results = await Promise.allSettled([
        short.publish('swallow.one', bytes('1')),
        short.publish('swallow.two', bytes('2')),
      ]);
      const waited = performance.now() - started;
      expect(swallowed).toEqual(['swallow.one', 'swallow.two']);
      for (const [i, subject] of ['swallow.one', 'swallow.two'].entries()) {
        const r = results[i]!;
        expect(r.status).toBe('rejected');
        const reason = (r as PromiseRejectedResult).reason as StoreTimeoutError;
        expect(reason).toBeInstanceOf(StoreTimeoutError);
        expect(reason).toMatchObject({ subject, timeoutMs: 150 });
        expect(reason.message).toContain(`"${subject}" within 150 ms`);
      }
      expect(waited).toBeGreaterThanOrEqual(145);
      expect(short.pendingCount).toBe(0);
      // The sweep disarms itself once nothing is pending.
      await new Promise((r) => setTimeout(r, 60));
      expect(short.sweepArmed).toBe(false);
    } finally {
      sub.unsubscribe();
      short.close();
    }
  });

  it('answers many concurrent requests, in any order, and leaves nothing pending and no timer armed', async () => {
    const s = await stream();
    const n = 2000;
    const writes = Array.from({ length: n }, (_, i) =>
      requests.publish(s.subject(`k${i % 500}`), bytes(String(i))),
    );
    expect(requests.pendingCount).toBe(n);
    expect(requests.sweepArmed).toBe(true);
    const acks = await Promise.all(writes);
    expect(new Set(acks.map((a) => a.seq)).size).toBe(n);
    expect(Math.max(...acks.map((a) => a.seq))).toBe(n);
    // Interleave reads and conditional writes: every promise gets its own reply.
    const mixed = await Promise.all(
      Array.from({ length: 500 }, async (_, i) => {
        const last = await requests.directGet(s.name, s.subject(`k${i}`));
        const next = await requests.publish(s.subject(`k${i}`), bytes('next'), { expectedLastSubjectSequence: last!.seq });
        return [text(last!.data), next.seq > last!.seq] as const;
      }),
    );
    expect(mixed.map(([value]) => Number(value) % 500)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(mixed.every(([, moved]) => moved)).toBe(true);
    expect(requests.pendingCount).toBe(0);
    await new Promise((r) => setTimeout(r, requests.sweepIntervalMs + 50));
    expect(requests.sweepArmed).toBe(false);
  });

  it('directGet and lastMessage read the last value or marker of a subject, null when it has none', async () => {
    const s = await stream();
    const put = await requests.publish(s.subject('a'), bytes('value'));
    const del = await requests.publish(s.subject('b'), new Uint8Array(0), { headers: { 'KV-Operation': 'DEL' } });
    const purge = await requests.publish(s.subject('c'), new Uint8Array(0), { headers: { 'KV-Operation': 'PURGE' } });
    for (const read of [requests.directGet.bind(requests), requests.lastMessage.bind(requests)]) {
      const a = await read(s.name, s.subject('a'));
      expect({ ...a, data: text(a?.data) }).toEqual({ data: 'value', seq: put.seq, operation: 'PUT' });
      expect(await read(s.name, s.subject('b'))).toMatchObject({ seq: del.seq, operation: 'DEL' });
      expect(await read(s.name, s.subject('c'))).toMatchObject({ seq: purge.seq, operation: 'PURGE' });
      expect(await read(s.name, s.subject('absent'))).toBeNull();
    }
  });

  it('other API errors keep the server’s codes', async () => {
    const err = await requests.lastMessage('NO_SUCH_STREAM', 'x.y').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JetStreamRequestError);
    expect(err).toMatchObject({ status: 404, errCode: 10059, subject: '$JS.API.STREAM.MSG.GET.NO_SUCH_STREAM' });
    expect(isStreamNotFound(err)).toBe(true);
  });

  it('server facts: KV buckets allow direct get; a direct get on a stream without it is never answered', async () => {
    const kvm = new Kvm(jetstream(nc));
    await kvm.create('direct_probe', { history: 1 });
    expect((await jsm.streams.info('KV_direct_probe')).config.allow_direct).toBe(true);

    const s = await stream({ allowDirect: false });
    await requests.publish(s.subject('a'), bytes('v'));
    const short = new JetStreamRequests(nc, { timeoutMs: 200, sweepIntervalMs: 20 });
    try {
      await expect(short.directGet(s.name, s.subject('a'))).rejects.toBeInstanceOf(StoreTimeoutError);
      expect(await short.lastMessage(s.name, s.subject('a'))).toMatchObject({ operation: 'PUT' });
    } finally {
      short.close();
    }
  });

  it('close() fails pending requests with StoreClosedError and refuses new ones', async () => {
    const own = new JetStreamRequests(nc, { timeoutMs: 5000 });
    const sub = nc.subscribe('swallow2.>', { callback: () => undefined });
    await nc.flush();
    try {
      const pending = own.publish('swallow2.x', bytes('1'));
      expect(own.pendingCount).toBe(1);
      own.close();
      await expect(pending).rejects.toBeInstanceOf(StoreClosedError);
      await expect(own.publish('swallow2.x', bytes('2'))).rejects.toBeInstanceOf(StoreClosedError);
      expect(own.pendingCount).toBe(0);
      expect(own.sweepArmed).toBe(false);
    } finally {
      sub.unsubscribe();
    }
  });

  it('a closed connection fails requests in flight and later ones with StoreClosedError', async () => {
    const conn = await connect({ servers: server.url });
    const own = new JetStreamRequests(conn, { timeoutMs: 5000 });
    const sub = nc.subscribe('swallow3.>', { callback: () => undefined });
    await nc.flush();
    try {
      const inFlight = own.publish('swallow3.x', bytes('1'));
      await conn.flush();
      await conn.close();
      await expect(inFlight).rejects.toBeInstanceOf(StoreClosedError);
      await expect(own.publish('swallow3.x', bytes('2'))).rejects.toBeInstanceOf(StoreClosedError);
      expect(own.pendingCount).toBe(0);
      expect(own.sweepArmed).toBe(false);
    } finally {
      sub.unsubscribe();
    }
  });

  it('takes the reply inbox prefix from the connection options (the client’s own field, pinned here)', async () => {
    const conn = await connect({ servers: server.url, inboxPrefix: '_INBOX_jobchart' });
    try {
      const s = await stream();
      const own = new JetStreamRequests(conn);
      expect(own.inbox.startsWith('_INBOX_jobchart.')).toBe(true);
      expect((await own.publish(s.subject('a'), bytes('1'))).seq).toBe(1);
      expect(new JetStreamRequests(conn, { inboxPrefix: '_MINE' }).inbox.startsWith('_MINE.')).toBe(true);
      expect(JetStreamRequests.shared(conn)).toBe(JetStreamRequests.shared(conn));
    } finally {
      await conn.close();
    }
  });
});
