/**
 * JetStreamRequests across a disconnect (the nats-server stopped and started again on the same
 * port and store dir): a request already sent when the connection drops fails at once with
 * StoreUnavailableError instead of waiting for its timeout (its reply can no longer come); requests
 * and one-way sends made while the connection is down are held and sent when it is back (the client
 * itself would drop them when it dials again); a request held longer than its timeout fails with
 * StoreTimeoutError and is never sent. And the dispatch queue's fetch fails with
 * StoreUnavailableError when nothing serves its pull (503), so the worker backs off.
 */
import { jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsStore } from '../../src/store/index.js';
import { JetStreamRequests } from '../../src/store/nats/jetstream-requests.js';
import { StoreTimeoutError, StoreUnavailableError } from '../../src/store/store-errors.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Resolves once the client reports `type` (disconnect, reconnect). */
async function nextStatus(nc: NatsConnection, type: string): Promise<void> {
  for await (const status of nc.status()) if (status.type === type) return;
}

describe('JetStreamRequests across a disconnect', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'D', subjects: ['d.>'], storage: StorageType.File });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  it('a request in flight fails at once when the connection drops; requests and sends made while down go out when it is back', async () => {
    const requests = new JetStreamRequests(nc, { timeoutMs: 8_000 });
    // A subject the server receives but never answers: the request stays in flight until the drop.
    const swallow = nc.subscribe('swallow.>', { callback: () => undefined });
    await nc.flush();
    try {
      const inFlight = requests.publish('swallow.x', bytes('1')).then(
        () => 'answered',
        (error: unknown) => error,
      );
      await nc.flush();
      expect(requests.pendingCount).toBe(1);

      const down = nextStatus(nc, 'disconnect');
      const stoppedAt = performance.now();
      await server.stop();
      await down;
      const failure = await inFlight;
      expect(failure).toBeInstanceOf(StoreUnavailableError);
      expect((failure as Error).message).toContain('may or may not have been applied');
      expect(performance.now() - stoppedAt).toBeLessThan(3_000); // not the 8 s timeout
      expect(requests.disconnected).toBe(true);

      // Made while down: held, not handed to the client (which would drop them when it dials again).
      const write = requests.publish('d.a', bytes('written while down'));
      requests.send('d.b', bytes('one-way while down'));
      await new Promise((r) => setTimeout(r, 500));
      expect(requests.pendingCount).toBe(1);

      const up = nextStatus(nc, 'reconnect');
      await server.restart();
      await up;
      const ack = await write;
      expect(ack).toMatchObject({ stream: 'D', duplicate: false });
      expect(requests.disconnected).toBe(false);
      // The one-way publish was sent too: the stream stored it after the held request.
      while ((await jsm.streams.info('D')).state.messages < 2) await new Promise((r) => setTimeout(r, 50));
      const oneWay = await jsm.streams.getMessage('D', { last_by_subj: 'd.b' });
      expect(new TextDecoder().decode(oneWay?.data)).toBe('one-way while down');
    } finally {
      swallow.unsubscribe();
      requests.close();
    }
  }, 30_000);

  it('a request held while down longer than its timeout fails with StoreTimeoutError and is never sent', async () => {
    const requests = new JetStreamRequests(nc, { timeoutMs: 300, sweepIntervalMs: 20 });
    try {
      const down = nextStatus(nc, 'disconnect');
      await server.stop();
      await down;
      const held = requests.publish('d.late', bytes('too late'));
      await expect(held).rejects.toBeInstanceOf(StoreTimeoutError);
      const up = nextStatus(nc, 'reconnect');
      await server.restart();
      await up;
      await new Promise((r) => setTimeout(r, 200));
      await expect(jsm.streams.getMessage('D', { last_by_subj: 'd.late' })).resolves.toBeNull();
      expect(requests.pendingCount).toBe(0);
    } finally {
      requests.close();
    }
  }, 30_000);

  it('a fetch answered with 503 (no responders: JetStream not ready, no consumer leader during an election) fails with StoreUnavailableError at once', async () => {
    const backend = await natsStore({ servers: server.url, prefix: 'fetch503' }).open({ leaseDurationMs: 1_000 });
    // The consumer gone, JetStream leaves its pull requests unanswered; answer them the way the
    // server answers a request nobody serves: an empty message with status 503.
    for (const level of ['high', 'normal', 'low']) await jsm.consumers.delete('fetch503_dispatch', `fetch503_workers_${level}`);
    const responder = nc.subscribe('$JS.API.CONSUMER.MSG.NEXT.fetch503_dispatch.*', {
      callback: (_err, msg) => void msg.respond(new Uint8Array(0), { headers: headers(503, 'No Responders') }),
    });
    await nc.flush();
    try {
      const started = performance.now();
      await expect(backend.jobs.fetch(4, { expiresMs: 2_000 })).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      responder.unsubscribe();
      await backend.close();
    }
  });
});
