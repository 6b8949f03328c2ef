/**
 * `natsStore({ replicas })` on a real three-server JetStream cluster: replicas 3 creates every
 * bucket (schedules, jobs, leases, nodes) and the dispatch stream with three replicas, placed on all
 * three servers; a node asking for another count than the existing buckets or stream have is refused
 * with a StoreConfigError naming the bucket or stream and how to fix it (@nats-io/kv's own create
 * would silently hand back the existing bucket); a store opened without `replicas` takes them as
 * they are (admin tools); replicas 5 on three servers is refused; `jobchart node --replicas 3` does
 * the same from the CLI.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsStore, type NatsStoreOptions } from '../../src/store/index.js';
import { StoreConfigError } from '../../src/store/store-errors.js';
import { startNode } from '../cli/support/run-jobchart.js';
import { startNatsCluster, type NatsCluster } from '../support/nats-cluster.js';

const BUCKETS = ['schedules', 'jobs', 'leases', 'nodes'] as const;

describe('natsStore replicas on a three-server cluster', () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    cluster = await startNatsCluster();
    nc = await connect({ servers: cluster.urls });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await cluster?.dispose();
  });

  const open = async (opts: Omit<NatsStoreOptions, 'servers'>): Promise<void> => {
    const backend = await natsStore({ servers: cluster.urls, ...opts }).open({ leaseDurationMs: 2_000 });
    await backend.close();
  };
  const refusal = (opts: Omit<NatsStoreOptions, 'servers'>): Promise<Error> =>
    open(opts).then(
      () => {
        throw new Error(`opening ${JSON.stringify(opts)} was not refused`);
      },
      (e: unknown) => e as Error,
    );

  it('replicas 3 creates every bucket and the dispatch stream with three replicas on the three servers', async () => {
    await open({ prefix: 'r3', replicas: 3 });
    const streams = [...BUCKETS.map((b) => `KV_r3_${b}`), 'r3_dispatch'];
    for (const stream of streams) {
      const info = await cluster.streamInfo(stream);
      expect(info.config.num_replicas, stream).toBe(3);
      const peers = [info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((r) => r.name)].sort();
      expect(peers, stream).toEqual(['n1', 'n2', 'n3']);
    }
    // The shared pull consumers (one per priority level) follow their stream's replication.
    for (const level of ['high', 'normal', 'low']) {
      const consumer = await jsm.consumers.info('r3_dispatch', `r3_workers_${level}`);
      expect(consumer.cluster?.replicas?.length, level).toBe(2);
    }
    // Opening again with the same count, or without one (as admin tools do), is fine.
    await open({ prefix: 'r3', replicas: 3 });
    await open({ prefix: 'r3' });
  });

  it('a node asking for another replica count than the existing buckets is refused, naming the bucket and the fix', async () => {
    await open({ prefix: 'mismatch', replicas: 3 });
    const error = await refusal({ prefix: 'mismatch', replicas: 1 });
    expect(error).toBeInstanceOf(StoreConfigError);
    expect(error.message).toContain('bucket "mismatch_schedules" exists with 3 replica(s) but this store asks for replicas 1');
    expect(error.message).toContain('nats stream edit KV_mismatch_schedules --replicas 1');
    // Nothing was changed by the refused open.
    expect((await cluster.streamInfo('KV_mismatch_schedules')).config.num_replicas).toBe(3);

    await open({ prefix: 'single', replicas: 1 });
    const up = await refusal({ prefix: 'single', replicas: 3 });
    expect(up).toBeInstanceOf(StoreConfigError);
    expect(up.message).toContain('bucket "single_schedules" exists with 1 replica(s) but this store asks for replicas 3');
  });

  it('a dispatch stream with another replica count than the buckets is refused, naming the stream', async () => {
    await open({ prefix: 'stream', replicas: 3 });
    const { config } = await jsm.streams.info('stream_dispatch');
    await jsm.streams.update('stream_dispatch', { ...config, num_replicas: 1 });
    const error = await refusal({ prefix: 'stream', replicas: 3 });
    expect(error).toBeInstanceOf(StoreConfigError);
    expect(error.message).toContain('stream "stream_dispatch" exists with 1 replica(s) but this store asks for replicas 3');
  });

  it('replicas 5 on three servers is refused with the reason', async () => {
    const error = await refusal({ prefix: 'r5', replicas: 5 });
    expect(error).toBeInstanceOf(StoreConfigError);
    expect(error.message).toContain('bucket "r5_schedules" cannot be created with replicas 5');
    expect(error.message).toContain('replicas 5 needs 5 servers');
  });
  it('jobchart node --replicas 3 (the CLI) creates the store replicated on the three servers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobchart-cli-r3-'));
    const node = await startNode(['--nats', cluster.urls.join(','), '--prefix', 'clir3', '--replicas', '3', '--role', 'scheduler', '--quiet'], {}, dir);
    try {
      for (const stream of [...BUCKETS.map((b) => `KV_clir3_${b}`), 'clir3_dispatch']) {
        expect((await cluster.streamInfo(stream)).config.num_replicas, stream).toBe(3);
      }
    } finally {
      expect(await node.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
