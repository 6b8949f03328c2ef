/**
 * The two backends the conformance suite runs against. Every call of `factory()` gives an isolated
 * store (a fresh memory store, or a fresh prefix on the suite's one nats-server), so tests can run
 * concurrently without seeing each other's keys.
 */
import { memoryStore } from '../../../src/store/memory/memory-store.js';
import { natsStore } from '../../../src/store/nats/nats-store.js';
import type { OpenStoreOptions, StoreBackend, StoreFactory } from '../../../src/store/store-backend.js';
import { startNatsServer, type NatsServerHandle } from '../../support/nats-server.js';

export interface BackendFixture {
  readonly name: 'memory' | 'nats';
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** An isolated store factory. */
  factory(): StoreFactory;
}

let prefixCounter = 0;

export function memoryFixture(): BackendFixture {
  return {
    name: 'memory',
    setup: async () => undefined,
    teardown: async () => undefined,
    factory: () => memoryStore(),
  };
}

export function natsFixture(): BackendFixture {
  let server: NatsServerHandle | null = null;
  return {
    name: 'nats',
    setup: async () => {
      server = await startNatsServer();
    },
    teardown: async () => {
      await server?.dispose();
      server = null;
    },
    factory: () => {
      if (!server) throw new Error('natsFixture.setup() was not awaited');
      return natsStore({ servers: server.url, prefix: `t${process.pid}_${++prefixCounter}`, reconnectTimeWaitMs: 100 });
    },
  };
}

/** Opens backends and closes them all at the end of a test. */
export class BackendPool {
  readonly #open: StoreBackend[] = [];

  async open(factory: StoreFactory, opts: OpenStoreOptions): Promise<StoreBackend> {
    const backend = await factory.open(opts);
    this.#open.push(backend);
    return backend;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.#open.splice(0).map((b) => b.close()));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a non-undefined value; fails after `timeoutMs`. */
export async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, stepMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}
