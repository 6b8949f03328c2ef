/**
 * JetStream requests on a lean path, through the NATS client's public API only (`nc.publish` with a
 * reply subject and headers, `nc.subscribe`).
 *
 * Why not `nc.request`: in @nats-io/nats-core 3.4 every request is a `RequestOne` with its own
 * timer, and finishing one *successfully* still builds a `RequestError("cancelled")` — an Error
 * with a stack — in `RequestOne.cancel()` (`noAsyncTraces` does not avoid it). On the job hot
 * path (2–3 KV writes per job) that was ~6 % of a job run's CPU, plus a timer and the promise
 * machinery per request.
 *
 * Here instead: ONE wildcard reply subscription per instance (`<inbox>.*`), a token per request
 * (`<inbox>.<token>` is its reply subject), a Map of pending requests, and ONE sweep timer,
 * unref'd and armed only while requests are pending, that fails requests older than the timeout
 * with `StoreTimeoutError`. All requests share one timeout, so the Map's insertion order is also
 * deadline order and a sweep stops at the first request still in time.
 *
 * Replies become typed errors: a JetStream API error through `jetStreamRequestError` (10071 "wrong
 * last sequence" → `RevisionConflictError` with the current sequence), a 503 status (no responders:
 * JetStream not enabled/ready, or no stream on the subject) → `StoreUnavailableError`, a closed or
 * draining connection → `StoreClosedError`. One in flight when the connection closes fails at once.
 *
 * Across a disconnect (a server restart, or the death of the server this client is connected to):
 * the client drops what it buffered while disconnected when it dials again (@nats-io/nats-core 3.3/3.4
 * `prepare()` resets its outbound buffer), and the replies to requests sent on the lost connection
 * can no longer arrive. Left alone, every request of the outage would wait for its full timeout —
 * longer than a short lease's deadline, so one outage of a second cost every running job its lease.
 * Instead: requests already sent when the connection drops fail at once with
 * `StoreUnavailableError` (the write may have landed: callers re-read before a conditional retry,
 * as after a timeout), and publishes made while it is down — requests and one-way sends alike — are
 * held here and sent as soon as it is back, each request still bounded by its timeout. So a lease
 * renewal retried during a 2 s outage reaches the server the moment it returns.
 */
import {
  ClosedConnectionError,
  createInbox,
  DrainingConnectionError,
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import { StoreClosedError, StoreTimeoutError, StoreUnavailableError } from '../store-errors.js';
import { parseDirectGet, parseMsgGet, parsePubAck, type PubAck, type StoredMessage } from './jetstream-replies.js';
import type { ConflictTarget } from './nats-errors.js';

export interface JetStreamRequestsOptions {
  /** How long a request waits for its reply before it fails with `StoreTimeoutError`. @defaultValue 5000 */
  timeoutMs?: number;
  /**
   * Period of the sweep that fails timed-out requests: a request fails between `timeoutMs` and
   * `timeoutMs + sweepIntervalMs` after it was sent. @defaultValue timeoutMs / 10, within [10, 1000]
   */
  sweepIntervalMs?: number;
  /**
   * Prefix of the reply subjects (the account's permissions may require one). @defaultValue the
   * connection's `inboxPrefix` option, else `_INBOX`
   */
  inboxPrefix?: string;
  /** Prefix of the JetStream API subjects (`$JS.<domain>.API` for a domain). @defaultValue '$JS.API' */
  apiPrefix?: string;
}

export interface JetStreamPublishOptions {
  /** `Nats-Msg-Id`: the stream drops a second message with this id inside its duplicate window. @defaultValue none */
  msgId?: string;
  /**
   * `Nats-Expected-Last-Subject-Sequence`: store only if the subject's last message has this
   * sequence (0 = the subject has no message). @defaultValue none (unconditional)
   */
  expectedLastSubjectSequence?: number;
  /** Further headers, e.g. `{ 'KV-Operation': 'DEL' }`. @defaultValue none */
  headers?: Readonly<Record<string, string>>;
  /** How a `RevisionConflictError` names this write. @defaultValue the subject and `expectedLastSubjectSequence` */
  conflict?: ConflictTarget;
}

type RequestKind = 'publish' | 'directGet' | 'msgGet';

/** A corked publish; one-way ones (acks, signals) are marked so that holding them can be bounded. */
type HeldSend = (() => void) & { oneWay?: boolean };

interface PendingRequest {
  readonly kind: RequestKind;
  readonly subject: string;
  readonly sentAt: number;
  /** Handed to the connection (false while corked or held during a disconnect). */
  published: boolean;
  readonly resolve: (value: never) => void;
  readonly reject: (reason: unknown) => void;
  readonly conflict: ConflictTarget | undefined;
  readonly expected: number | undefined;
}

/** The client's connection options; read for `inboxPrefix` only (pinned by a test). */
interface WithConnectionOptions {
  options?: { inboxPrefix?: string };
}

const MSG_ID = 'Nats-Msg-Id';
const EMPTY = new Uint8Array(0);
const EXPECTED_LAST_SUBJECT_SEQUENCE = 'Nats-Expected-Last-Subject-Sequence';
const DISCONNECTED_DETAIL =
  'the connection to the server was lost with this request in flight; it may or may not have been applied (re-read before retrying a conditional write)';
/** One-way messages held while disconnected, at most (the oldest are dropped: they are best effort). */
const MAX_HELD_SENDS = 10_000;

const sharedByConnection = new WeakMap<NatsConnection, JetStreamRequests>();

export class JetStreamRequests {
  /**
   * The instance shared on `nc` by whoever does not bring its own, created with `opts` on first
   * use (later `opts` are ignored) and replaced once closed.
   */
  static shared(nc: NatsConnection, opts?: JetStreamRequestsOptions): JetStreamRequests {
    let requests = sharedByConnection.get(nc);
    if (!requests || requests.#closed) {
      requests = new JetStreamRequests(nc, opts);
      sharedByConnection.set(nc, requests);
    }
    return requests;
  }

  readonly timeoutMs: number;
  readonly sweepIntervalMs: number;
  /** Reply subjects are `<inbox>.<token>`. */
  readonly inbox: string;
  readonly apiPrefix: string;
  readonly #nc: NatsConnection;
  readonly #pending = new Map<string, PendingRequest>();
  readonly #subscription: Subscription;
  readonly #tokenStart: number;
  #nextToken = 0;
  /** Publishes waiting for the end of this turn of the event loop (see `#cork`). */
  #corked: (() => void)[] = [];
  /** The connection is down (between the client's `disconnect` and `reconnect` statuses). */
  #down = false;
  /** Publishes made while down, sent on reconnect; requests among them stay bounded by their timeout. */
  #held: (() => void)[] = [];
  #heldSends = 0;
  #sweepTimer: NodeJS.Timeout | null = null;
  #sweepArmed = false;
  #closed = false;
  /** Set when the reply subscription failed (e.g. a permissions violation): every request fails with it. */
  #broken: Error | null = null;

  constructor(nc: NatsConnection, opts: JetStreamRequestsOptions = {}) {
    this.#nc = nc;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    if (!(this.timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${this.timeoutMs}`);
    this.sweepIntervalMs = opts.sweepIntervalMs ?? Math.min(1000, Math.max(10, Math.round(this.timeoutMs / 10)));
    if (!(this.sweepIntervalMs > 0)) throw new RangeError(`sweepIntervalMs must be > 0, got ${this.sweepIntervalMs}`);
    this.apiPrefix = opts.apiPrefix ?? '$JS.API';
    this.inbox = createInbox(opts.inboxPrefix ?? (nc as WithConnectionOptions).options?.inboxPrefix);
    this.#tokenStart = this.inbox.length + 1;
    if (nc.isClosed()) throw new StoreClosedError('JetStream requests');
    this.#subscription = nc.subscribe(`${this.inbox}.*`, { callback: (err, msg) => this.#onReply(err, msg) });
    void this.#watchConnection();
    nc.closed().then(
      () => this.#shutdown(),
      () => this.#shutdown(),
    );
  }

  /** Requests waiting for their reply. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** True while the sweep timer is armed (only while requests are pending, plus at most one sweep period). */
  get sweepArmed(): boolean {
    return this.#sweepArmed;
  }

  /** Publishes `data` to a stream's `subject` and resolves to JetStream's acknowledgement. */
  publish(subject: string, data: Uint8Array, opts?: JetStreamPublishOptions): Promise<PubAck> {
    let headers: MsgHdrs | undefined;
    if (opts) {
      if (opts.msgId !== undefined) (headers ??= natsHeaders()).set(MSG_ID, opts.msgId);
      if (opts.expectedLastSubjectSequence !== undefined) {
        (headers ??= natsHeaders()).set(EXPECTED_LAST_SUBJECT_SEQUENCE, String(opts.expectedLastSubjectSequence));
      }
      if (opts.headers) for (const name in opts.headers) (headers ??= natsHeaders()).set(name, opts.headers[name]!);
    }
    return this.#request('publish', subject, data, headers, opts?.conflict, opts?.expectedLastSubjectSequence);
  }

  /**
   * The last message on `subject` in `stream` through the direct get API
   * (`<api>.DIRECT.GET.<stream>.<subject>`), or null when the subject has none. Needs the stream's
   * `allow_direct` (KV buckets get it on nats-server ≥ 2.9): on a stream without it the request
   * goes unanswered and times out, so check the stream's config and use `lastMessage` otherwise.
   */
  directGet(stream: string, subject: string): Promise<StoredMessage | null> {
    return this.#request('directGet', `${this.apiPrefix}.DIRECT.GET.${stream}.${subject}`, EMPTY, undefined, undefined, undefined);
  }

  /** Like `directGet` through `<api>.STREAM.MSG.GET.<stream>` (`last_by_subj`): any stream, answered by its leader. */
  lastMessage(stream: string, subject: string): Promise<StoredMessage | null> {
    const payload = new TextEncoder().encode(JSON.stringify({ last_by_subj: subject }));
    return this.#request('msgGet', `${this.apiPrefix}.STREAM.MSG.GET.${stream}`, payload, undefined, undefined, undefined);
  }

  /**
   * A one-way publish on the same corked path as the requests (acks, signals): everything sent in
   * one turn of the event loop leaves in one socket write. Never throws; a closed connection drops it.
   */
  send(subject: string, data: Uint8Array, reply?: string): void {
    if (this.#closed || this.#nc.isClosed()) return;
    const publish = (): void => {
      try {
        this.#nc.publish(subject, data, reply === undefined ? undefined : { reply });
      } catch {
        // closed meanwhile: one-way messages are best effort
      }
    };
    (publish as HeldSend).oneWay = true;
    this.#cork(publish);
  }

  /** True between the connection's disconnect and its reconnect. */
  get disconnected(): boolean {
    return this.#down;
  }

  /**
   * Defers a publish to the end of this turn of the event loop, with every other publish of the
   * turn: the client flushes its buffer once per microtask checkpoint, so publishes spread over many
   * microtasks (each job's promise chain) would otherwise cost a socket write each.
   */
  #cork(publish: () => void): void {
    this.#corked.push(publish);
    if (this.#corked.length === 1) setImmediate(this.#uncork);
  }

  /** Sends the corked publishes now (before closing the connection). */
  flush(): void {
    this.#uncork();
  }

  readonly #uncork = (): void => {
    const batch = this.#corked;
    this.#corked = [];
    if (this.#down) {
      for (const publish of batch) this.#hold(publish);
      return;
    }
    for (const publish of batch) publish();
  };

  #hold(publish: () => void): void {
    if ((publish as HeldSend).oneWay) {
      if (this.#heldSends >= MAX_HELD_SENDS) return;
      this.#heldSends++;
    }
    this.#held.push(publish);
  }

  /** Follows the client's status: fails what the lost connection carried, holds what comes meanwhile. */
  async #watchConnection(): Promise<void> {
    try {
      for await (const status of this.#nc.status()) {
        if (status.type === 'disconnect') this.#onDisconnect();
        else if (status.type === 'reconnect') this.#onReconnect();
      }
    } catch {
      // The status iterator ends with the connection; `closed()` shuts us down.
    }
  }

  #onDisconnect(): void {
    if (this.#closed) return;
    this.#down = true;
    for (const [token, request] of this.#pending) {
      if (!request.published) continue;
      this.#pending.delete(token);
      request.reject(new StoreUnavailableError(request.subject, DISCONNECTED_DETAIL));
    }
  }

  #onReconnect(): void {
    if (this.#closed || !this.#down) return;
    this.#down = false;
    const held = this.#held;
    this.#held = [];
    this.#heldSends = 0;
    for (const publish of held) this.#cork(publish);
  }

  /** Fails pending requests with `StoreClosedError` and ends the reply subscription. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#shutdown();
    if (!this.#nc.isClosed()) this.#subscription.unsubscribe();
  }

  #request<T>(
    kind: RequestKind,
    subject: string,
    data: Uint8Array,
    headers: MsgHdrs | undefined,
    conflict: ConflictTarget | undefined,
    expected: number | undefined,
  ): Promise<T> {
    if (this.#closed || this.#nc.isClosed()) return Promise.reject(new StoreClosedError(`request on "${subject}"`));
    if (this.#broken) return Promise.reject(this.#broken);
    const token = (++this.#nextToken).toString(36);
    return new Promise<T>((resolve, reject) => {
      this.#cork(() => {
        const pending = this.#pending.get(token);
        if (!pending) return; // failed meanwhile (closed, timed out)
        pending.published = true;
        try {
          this.#nc.publish(subject, data, headers ? { reply: `${this.inbox}.${token}`, headers } : { reply: `${this.inbox}.${token}` });
        } catch (err) {
          this.#pending.delete(token);
          reject(
            err instanceof ClosedConnectionError || err instanceof DrainingConnectionError
              ? new StoreClosedError(`request on "${subject}"`)
              : err,
          );
        }
      });
      this.#pending.set(token, {
        kind,
        subject,
        sentAt: performance.now(),
        published: false,
        resolve: resolve as (value: never) => void,
        reject,
        conflict,
        expected,
      });
      if (!this.#sweepArmed) this.#armSweep();
    });
  }

  #onReply(err: Error | null, msg: Msg): void {
    if (err) {
      this.#broken = new StoreUnavailableError(`${this.inbox}.*`, `the reply subscription failed: ${err.message}`);
      this.#failAll(() => this.#broken!);
      return;
    }
    const token = msg.subject.substring(this.#tokenStart);
    const request = this.#pending.get(token);
    if (!request) return; // timed out already, or a stray reply
    this.#pending.delete(token);
    try {
      const settle = request.resolve as (value: unknown) => void;
      switch (request.kind) {
        case 'publish':
          settle(parsePubAck(request, msg));
          break;
        case 'directGet':
          settle(parseDirectGet(request, msg));
          break;
        case 'msgGet':
          settle(parseMsgGet(request, msg));
          break;
      }
    } catch (error) {
      request.reject(error);
    }
  }

  #armSweep(): void {
    if (this.#closed) return;
    this.#sweepArmed = true;
    if (this.#sweepTimer) {
      this.#sweepTimer.refresh(); // re-arms the one timer, also after it fired
    } else {
      this.#sweepTimer = setTimeout(this.#sweep, this.sweepIntervalMs);
      this.#sweepTimer.unref();
    }
  }

  readonly #sweep = (): void => {
    this.#sweepArmed = false;
    const cutoff = performance.now() - this.timeoutMs;
    for (const [token, request] of this.#pending) {
      if (request.sentAt > cutoff) break; // insertion order is deadline order
      this.#pending.delete(token);
      request.reject(new StoreTimeoutError(request.subject, this.timeoutMs));
    }
    if (this.#pending.size > 0) this.#armSweep();
  };

  #shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#held = [];
    if (this.#sweepTimer) clearTimeout(this.#sweepTimer);
    this.#sweepArmed = false;
    this.#failAll((request) => new StoreClosedError(`request on "${request.subject}"`));
  }

  #failAll(error: (request: PendingRequest) => Error): void {
    const requests = [...this.#pending.values()];
    this.#pending.clear();
    for (const request of requests) request.reject(error(request));
  }
}
