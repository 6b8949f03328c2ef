/**
 * The distributed store on NATS JetStream (nats-server >= 2.9): KV buckets `<prefix>_<name>`, the
 * dispatch stream `<prefix>_dispatch`, and core subjects `<prefix>.<channel>.<key>` for the signal
 * channels (job completions, cancel requests, batched events). Each
 * `open()` makes its own connection (one per node), which reconnects forever by default; a drop is
 * reported through `onConnectionChange` ('down', then 'up'), never as an unhandled rejection.
 */
import { readFileSync } from 'node:fs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { systemClock } from '../clock.js';
import type { SignalChannel, SignalTransport } from '../signals.js';
import type { KvBucket } from '../kv-bucket.js';
import {
  assembleBackend,
  BucketName,
  resolveStoreOptions,
  type ConnectionState,
  type OpenStoreOptions,
  type ResolvedStoreOptions,
  type StoreBackend,
  type StoreDriver,
  type StoreFactory,
} from '../store-backend.js';
import { validatePrefix } from '../store-keys.js';
import { StoreConfigError } from '../store-errors.js';
import { NatsBucket } from './nats-bucket.js';
import { JetStreamRequests } from './jetstream-requests.js';
import { NatsJobQueue } from './nats-job-queue.js';

/** Node TLS options as @nats-io/transport-node takes them (ca, cert, key, rejectUnauthorized, …). */
export type NatsTlsOptions = NonNullable<NodeConnectionOptions['tls']>;

export interface NatsStoreOptions {
  /** nats-server URL(s), e.g. 'nats://127.0.0.1:4222'. */
  servers: string | string[];
  /** Namespace of buckets, stream and subjects (`[A-Za-z0-9_-]+`). @defaultValue 'jobchart' */
  prefix?: string;
  /** User name for user/password auth. @defaultValue none */
  user?: string;
  /** Password for user/password auth. @defaultValue none */
  pass?: string;
  /** Token auth. @defaultValue none */
  token?: string;
  /** Path of a `.creds` file (JWT + nkey seed), read at each open. @defaultValue none */
  credsFile?: string;
  /** TLS options (Node's: ca, cert, key, rejectUnauthorized…); `{}` requires TLS. @defaultValue none (server's choice) */
  tls?: NatsTlsOptions | null;
  /** Client name shown in server monitoring. @defaultValue 'jobchart' */
  name?: string;
  /** Wait between reconnect attempts. @defaultValue 1000 */
  reconnectTimeWaitMs?: number;
  /** Reconnect attempts per server before giving up ('closed'); -1 = never give up. @defaultValue -1 */
  maxReconnectAttempts?: number;
  /** Timeout of each JetStream/KV request and ack. @defaultValue 5000 */
  requestTimeoutMs?: number;
  /**
   * JetStream replication of every bucket and of the dispatch stream: 1, or 3 or 5 on a JetStream
   * cluster of at least that many servers. What is missing is created with it, and an existing
   * bucket or stream with another count is refused (`StoreConfigError`): give every node of a store
   * the same value. Left out, missing ones are created with 1 replica and existing ones are used as
   * they are (what admin tools such as the CLI do). @defaultValue 1
   */
  replicas?: NatsReplicas;
  /** Any other @nats-io/transport-node connection option, applied last. @defaultValue none */
  connection?: Partial<NodeConnectionOptions>;
}

/** The replica counts JetStream clusters are run with (an odd count keeps a Raft majority). */
export const NATS_REPLICAS = [1, 3, 5] as const;
export type NatsReplicas = (typeof NATS_REPLICAS)[number];

/** Whether `value` is a replica count JetStream is run with (1, 3 or 5). */
export function isNatsReplicas(value: unknown): value is NatsReplicas {
  return NATS_REPLICAS.includes(value as NatsReplicas);
}

/** `replicas` as given, checked: 1, 3 or 5, or undefined. */
function checkReplicas(replicas: unknown): NatsReplicas | undefined {
  if (replicas === undefined) return undefined;
  if (!isNatsReplicas(replicas)) {
    throw new StoreConfigError(
      `natsStore replicas must be 1, 3 or 5, got ${JSON.stringify(replicas)}: 1 on a single nats-server, 3 (or 5) on a JetStream cluster of as many servers`,
    );
  }
  return replicas;
}

class NatsDriver implements StoreDriver {
  readonly kind = 'nats';
  readonly clock = systemClock;
  #state: ConnectionState = 'up';
  readonly #stateListeners = new Set<(state: ConnectionState) => void>();

  constructor(
    private readonly nc: NatsConnection,
    readonly buckets: Record<BucketName, KvBucket>,
    readonly queue: NatsJobQueue,
    private readonly requests: JetStreamRequests,
    private readonly prefix: string,
    private readonly reportError: (error: unknown, where: string) => void,
  ) {
    void this.#watchStatus();
    nc.closed().then(
      () => this.#setState('closed'),
      () => this.#setState('closed'),
    );
  }

  /** Core subjects `<prefix>.<channel>.<key>`; the server forwards only to subscribers. */
  readonly signals: SignalTransport = {
    send: (channel, key, data) => this.requests.send(`${this.prefix}.${channel}.${key}`, data),
    listen: (channel: SignalChannel, listener) => {
      const head = `${this.prefix}.${channel}.`.length;
      const sub = this.nc.subscribe(`${this.prefix}.${channel}.>`, {
        callback: (err, msg) => {
          if (!err) listener(msg.subject.slice(head), msg.data);
        },
      });
      return () => sub.unsubscribe();
    },
  };

  get connectionState(): ConnectionState {
    return this.#state;
  }

  onConnectionChange(listener: (state: ConnectionState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** Sends what is buffered (the last events, acks) before the connection closes. */
  async close(): Promise<void> {
    if (!this.nc.isClosed()) {
      // The corked publishes of this turn (the last acks, events) go out first.
      this.requests.flush();
      await this.nc.flush().catch(() => undefined);
      await this.nc.close();
    }
    this.#setState('closed');
  }

  async #watchStatus(): Promise<void> {
    try {
      for await (const status of this.nc.status()) {
        if (status.type === 'disconnect') this.#setState('down');
        else if (status.type === 'reconnect') this.#setState('up');
        else if (status.type === 'close') this.#setState('closed');
      }
    } catch {
      // The status iterator ends with the connection; `closed()` reports that.
    }
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state || this.#state === 'closed') return;
    this.#state = state;
    for (const listener of [...this.#stateListeners]) {
      try {
        listener(state);
      } catch (err) {
        this.reportError(err, 'a connection listener threw');
      }
    }
  }
}

function connectionOptions(opts: NatsStoreOptions): NodeConnectionOptions {
  const out: NodeConnectionOptions = {
    servers: opts.servers,
    name: opts.name ?? 'jobchart',
    maxReconnectAttempts: opts.maxReconnectAttempts ?? -1,
    reconnectTimeWait: opts.reconnectTimeWaitMs ?? 1000,
    // Every request otherwise builds an Error up front to give a later timeout its call site:
    // ~7 % of a 1,000-schedule run's CPU. Our errors name the operation themselves.
    noAsyncTraces: true,
    // The first connect fails fast (a wrong URL must not hang open() forever); only an
    // established connection reconnects without limit.
  };
  if (opts.user !== undefined) out.user = opts.user;
  if (opts.pass !== undefined) out.pass = opts.pass;
  if (opts.token !== undefined) out.token = opts.token;
  if (opts.tls !== undefined) out.tls = opts.tls;
  if (opts.credsFile !== undefined) out.authenticator = credsAuthenticator(readFileSync(opts.credsFile));
  return { ...out, ...opts.connection };
}

async function openDriver(
  opts: NatsStoreOptions,
  prefix: string,
  resolved: ResolvedStoreOptions,
  reportError: (error: unknown, where: string) => void,
  replicas: NatsReplicas | undefined,
): Promise<NatsDriver> {
  const requestTimeoutMs = opts.requestTimeoutMs ?? 5000;
  const nc = await connect(connectionOptions(opts));
  try {
    const js = jetstream(nc, { timeout: requestTimeoutMs });
    const jsm = await jetstreamManager(nc, { timeout: requestTimeoutMs });
    const kvm = new Kvm(js);
    const ttl: Record<BucketName, number> = {
      schedules: 0,
      jobs: 0,
      leases: resolved.leaseDurationMs,
      nodes: resolved.nodeTtlMs,
    };
    const inboxPrefix = opts.connection?.inboxPrefix;
    // One request path for every KV write and queue publish of this connection (no per-request timer or Error).
    const requests = new JetStreamRequests(nc, { timeoutMs: requestTimeoutMs, ...(inboxPrefix === undefined ? {} : { inboxPrefix }) });
    const buckets = {} as Record<BucketName, KvBucket>;
    for (const name of Object.values(BucketName)) {
      buckets[name] = await NatsBucket.open(kvm, nc, `${prefix}_${name}`, ttl[name], requests, replicas);
    }
    const names = { stream: `${prefix}_dispatch`, subjectPrefix: `${prefix}.dispatch`, consumer: `${prefix}_workers` };
    const queue = await NatsJobQueue.open(nc, jsm, requests, inboxPrefix === undefined ? names : { ...names, inboxPrefix }, {
      ackWaitMs: resolved.ackWaitMs,
      duplicateWindowMs: resolved.duplicateWindowMs,
      requestTimeoutMs,
      ...(replicas === undefined ? {} : { replicas }),
    });
    return new NatsDriver(nc, buckets, queue, requests, prefix, reportError);
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
}

/** The distributed store on NATS JetStream; `open()` connects and creates what is missing. */
export function natsStore(opts: NatsStoreOptions): StoreFactory {
  const prefix = validatePrefix(opts.prefix ?? 'jobchart');
  const replicas = checkReplicas(opts.replicas);
  return {
    kind: 'nats',
    async open(openOpts: OpenStoreOptions): Promise<StoreBackend> {
      const resolved = resolveStoreOptions(openOpts);
      const reportError = openOpts.reportError ?? (() => undefined);
      return assembleBackend(await openDriver(opts, prefix, resolved, reportError, replicas), resolved, reportError);
    },
  };
}
