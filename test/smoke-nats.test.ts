import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from './support/nats-server.js';

describe('nats-server test helper', () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('starts a JetStream server on a loopback port and round-trips a KV value', async () => {
    expect(server.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    const nc = await connect({ servers: server.url });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.getAccountInfo();
      expect(info.limits).toBeDefined();
      const kv = await new Kvm(nc).create('smoke', { history: 1 });
      const rev = await kv.create('greeting', new TextEncoder().encode('hello'));
      expect(rev).toBeGreaterThan(0);
      const entry = await kv.get('greeting');
      expect(entry?.string()).toBe('hello');
      expect(entry?.revision).toBe(rev);
      await expect(kv.create('greeting', new TextEncoder().encode('again'))).rejects.toThrow();
    } finally {
      await nc.close();
    }
  });

  it('stops by its own pid and restarts on the same port and store dir with data intact', async () => {
    const nc1 = await connect({ servers: server.url });
    const kv1 = await new Kvm(nc1).create('persist', { history: 1 });
    await kv1.put('k', new TextEncoder().encode('v1'));
    await nc1.close();
    const firstPid = server.pid;
    await server.restart();
    expect(server.pid).not.toBe(firstPid);
    const nc2 = await connect({ servers: server.url });
    try {
      const kv2 = await new Kvm(nc2).open('persist');
      expect((await kv2.get('k'))?.string()).toBe('v1');
    } finally {
      await nc2.close();
    }
  });
});
