/**
 * One nats-server per test file, a fresh store prefix per test, side-channel files in a temp dir,
 * and in-process runtimes that are stopped after each test. Registers its own vitest hooks.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createRuntime, memoryStore, natsStore, type Runtime, type RuntimeOptions, type StoreFactory } from '../../../src/index.js';
import { startNatsServer, type NatsServerHandle } from '../../support/nats-server.js';
import { killAllChildren, makeTempDir, spawnNode, type ChildNode, type NodeProcessConfig } from './child-node.js';

/** Lease and poll used by every end-to-end test unless it says otherwise. */
export const LEASE_MS = 1_000;
export const POLL_MS = 250;

export interface Cluster {
  readonly server: NatsServerHandle;
  /** A store prefix no other test uses. */
  newPrefix(): string;
  store(prefix: string): StoreFactory;
  /** An in-process runtime on `prefix`, stopped after the test. */
  runtime(prefix: string, opts?: Omit<RuntimeOptions, 'store'>): Promise<Runtime>;
  /** An in-process runtime on any store (lease and poll defaulted as above), stopped after the test. */
  runtimeOn(store: StoreFactory, opts?: Omit<RuntimeOptions, 'store'>): Promise<Runtime>;
  /** An isolated store of `kind` (runtimes opened on the same factory share it, like nodes). */
  freshStore(kind: StoreKind): StoreFactory;
  /** A node process on `prefix`, killed after the test if still alive. */
  spawn(prefix: string, config: Omit<NodeProcessConfig, 'servers' | 'prefix' | 'logFile'> & { logFile?: string }): Promise<ChildNode>;
  /** A side-channel file path in this file's temp dir. */
  logFile(name: string): string;
}

/** The two stores of the contract, for `describe.each(STORE_KINDS)`. */
export const STORE_KINDS = ['memory', 'nats'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

let counter = 0;

export function useCluster(): Cluster {
  let server: NatsServerHandle | null = null;
  let temp: { dir: string; cleanup: () => void } | null = null;
  const runtimes: Runtime[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
    temp = makeTempDir();
  });
  afterEach(async () => {
    await killAllChildren();
    await Promise.all(runtimes.splice(0).map((rt) => rt.stop({ drain: false }).catch(() => undefined)));
  });
  afterAll(async () => {
    await killAllChildren();
    await server?.dispose();
    temp?.cleanup();
  });

  const cluster: Cluster = {
    get server() {
      if (!server) throw new Error('useCluster: server not started (use inside tests)');
      return server;
    },
    newPrefix: () => `e2e${process.pid}_${++counter}`,
    store: (prefix) => natsStore({ servers: cluster.server.url, prefix, reconnectTimeWaitMs: 100 }),
    runtime(prefix, opts = {}) {
      return cluster.runtimeOn(cluster.store(prefix), opts);
    },
    async runtimeOn(store, opts = {}) {
      const rt = await createRuntime({ leaseDuration: LEASE_MS, pollInterval: POLL_MS, ...opts, store });
      runtimes.push(rt);
      return rt;
    },
    freshStore: (kind) => (kind === 'memory' ? memoryStore() : cluster.store(cluster.newPrefix())),
    spawn(prefix, config) {
      return spawnNode({
        leaseDuration: LEASE_MS,
        pollInterval: POLL_MS,
        ...config,
        servers: cluster.server.url,
        prefix,
        logFile: config.logFile ?? cluster.logFile(`${prefix}.log`),
      });
    },
    logFile(name) {
      if (!temp) throw new Error('useCluster: temp dir not made (use inside tests)');
      return join(temp.dir, name);
    },
  };
  return cluster;
}
