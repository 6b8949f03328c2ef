/**
 * `natsStore({ replicas })` on a single nats-server: values other than 1, 3 and 5 are refused when
 * the factory is made; replicas 3 (or 5) on a server that is not in a JetStream cluster is refused
 * with a StoreConfigError that names the bucket and says what to do; replicas 1 creates every
 * bucket and the dispatch stream with one replica, and a store opened without `replicas` takes
 * them as they are. The cluster side (R3 created, mismatches refused) is test/cluster/replicas.test.ts.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsStore } from '../../src/store/nats/nats-store.js';
import { StoreConfigError } from '../../src/store/store-errors.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';

const STREAMS = (prefix: string): string[] => [
  `KV_${prefix}_schedules`,
  `KV_${prefix}_jobs`,
  `KV_${prefix}_leases`,
  `KV_${prefix}_nodes`,
  `${prefix}_dispatch`,
];

describe('natsStore replicas on a single server', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  it.each([0, 2, 4, 6, -1, 1.5, '3', null])('refuses replicas %j when the factory is made, naming the allowed values', (value) => {
    const make = () => natsStore({ servers: server.url, replicas: value as never });
    expect(make).toThrow(StoreConfigError);
    expect(make).toThrow(/replicas must be 1, 3 or 5, got/);
  });

  it.each([3, 5] as const)('replicas %i on a server outside a JetStream cluster is refused, naming the bucket and the fix', async (replicas) => {
    const factory = natsStore({ servers: server.url, prefix: `single_r${replicas}`, replicas });
    const error = await factory.open({ leaseDurationMs: 1_000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreConfigError);
    expect((error as Error).message).toContain(`bucket "single_r${replicas}_schedules" cannot be created with replicas ${replicas}`);
    expect((error as Error).message).toContain('use replicas 1 on a single nats-server');
  });

  it('replicas 1 creates every bucket and the dispatch stream with one replica; a store opened without replicas adopts them', async () => {
    const backend = await natsStore({ servers: server.url, prefix: 'single_r1', replicas: 1 }).open({ leaseDurationMs: 1_000 });
    await backend.close();
    const jsm = await jetstreamManager(nc);
    for (const stream of STREAMS('single_r1')) expect((await jsm.streams.info(stream)).config.num_replicas, stream).toBe(1);
    const adopted = await natsStore({ servers: server.url, prefix: 'single_r1' }).open({ leaseDurationMs: 1_000 });
    await adopted.close();
    const again = await natsStore({ servers: server.url, prefix: 'single_r1', replicas: 1 }).open({ leaseDurationMs: 1_000 });
    await again.close();
  });
});
