/**
 * The dispatch queue on JetStream: a work-queue stream `<prefix>_dispatch` whose messages carry the
 * encoded job record on the subject `<prefix>.dispatch.<level>.<job token>` (one subject per job,
 * so a queued job can be looked up by id), deduplicated by job id (`Nats-Msg-Id`) within the
 * stream's duplicate window, and per priority level ONE durable pull consumer
 * `<prefix>_workers_<level>` (filtered on its level) that every worker pulls from, so the server
 * splits jobs among workers. A fetch visits the levels highest first (every 8th from the lowest, so
 * none starves), skips for a moment a level it just found empty, and when every level is empty waits
 * on all of them at once.
 *
 * Fetching speaks the pull protocol directly (`$JS.API.CONSUMER.MSG.NEXT`) instead of the client's
 * `consumer.fetch`, because that fetch only returns once the batch is full or `expires` (>= 1 s)
 * has passed, which would hold back a lone job for the whole wait. Here a fetch first asks with
 * `no_wait` for up to `max` available messages; only if there are none does it wait for one (batch
 * 1, with `expires`), then tops up with `no_wait` again. Observed on nats-server 2.9.10: `no_wait`
 * answers 404 when empty and 408 after a partial batch; ack, nak and working from a superseded
 * delivery still act on the message.
 */
import { AckPolicy, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { createInbox, nanos, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { levelOrder, PRIORITY_LEVELS, type JobQueue, type PriorityLevel, type PublishOutcome, type QueueDelivery, type QueueFetchOptions, type QueueMessage } from '../job-queue.js';
import { RecordTooLargeError, StoreClosedError, StoreConfigError, StoreUnavailableError } from '../store-errors.js';
import type { JetStreamRequests } from './jetstream-requests.js';
import { encodeKeyToken, tryDecodeKeyToken } from '../store-keys.js';
import { isConsumerNotFound, isStreamNotFound, replicationRefusal } from './nats-errors.js';

export interface QueueNames {
  stream: string;
  /** Subject prefix of job messages: `<subjectPrefix>.<level>.<job token>`. */
  subjectPrefix: string;
  /** Consumer name prefix: one consumer `<consumer>_<level>` per priority level. */
  consumer: string;
  /** The connection's inbox prefix, when permissions require one. */
  inboxPrefix?: string;
}

export interface QueueConfig {
  ackWaitMs: number;
  duplicateWindowMs: number;
  requestTimeoutMs: number;
  /** Replicas of the stream (its consumer follows it); undefined: 1 when created, an existing stream as it is. */
  replicas?: number;
}

const utf8 = new TextEncoder();
const NO_RESPONDERS_DETAIL = 'JetStream is not ready, or the consumer has no leader yet (NATS 503 no responders): the worker backs off and asks again';
const ACK = utf8.encode('+ACK');
const NAK = utf8.encode('-NAK');
const WORKING = utf8.encode('+WPI');
const TERM = utf8.encode('+TERM');

/** A level found empty is skipped by the next fetches for this long (a long poll still waits on it). */
const EMPTY_LEVEL_HINT_MS = 25;

export class NatsJobQueue implements JobQueue {
  readonly #nextSubjects: Record<PriorityLevel, string>;
  #emptyUntil: Record<PriorityLevel, number> = { high: 0, normal: 0, low: 0 };
  #fetches = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly requests: JetStreamRequests,
    private readonly jsm: JetStreamManager,
    private readonly names: QueueNames,
    private readonly config: QueueConfig,
  ) {
    const next = (level: PriorityLevel): string => `$JS.API.CONSUMER.MSG.NEXT.${names.stream}.${names.consumer}_${level}`;
    this.#nextSubjects = { high: next('high'), normal: next('normal'), low: next('low') };
  }

  /** Creates the stream and the shared consumer if absent; refuses existing ones that do not fit. */
  static async open(nc: NatsConnection, jsm: JetStreamManager, requests: JetStreamRequests, names: QueueNames, config: QueueConfig): Promise<NatsJobQueue> {
    const subjects = [`${names.subjectPrefix}.>`];
    try {
      const info = await jsm.streams.info(names.stream);
      if (info.config.retention !== RetentionPolicy.Workqueue || !info.config.subjects?.includes(subjects[0] as string)) {
        throw new StoreConfigError(
          `stream "${names.stream}" exists but is not this version's dispatch queue (work-queue retention on "${subjects[0]}"): ` +
            'delete it (nats stream rm) or choose another prefix',
        );
      }
      const existingReplicas = info.config.num_replicas || 1;
      if (config.replicas !== undefined && existingReplicas !== config.replicas) {
        throw new StoreConfigError(
          `stream "${names.stream}" exists with ${existingReplicas} replica(s) but this store asks for replicas ${config.replicas}: ` +
            `open every node with the same natsStore({ replicas }), or change it (nats stream edit ${names.stream} --replicas ${config.replicas}), ` +
            'or delete it (nats stream rm) to have it created again',
        );
      }
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
      await jsm.streams
        .add({
          name: names.stream,
          subjects,
          retention: RetentionPolicy.Workqueue,
          storage: StorageType.File,
          duplicate_window: nanos(config.duplicateWindowMs),
          num_replicas: config.replicas ?? 1,
        })
        .catch((addErr: unknown) => {
          throw (config.replicas !== undefined && replicationRefusal(addErr, `stream "${names.stream}"`, config.replicas)) || addErr;
        });
    }
    // The single unfiltered consumer of versions before priorities would overlap the per-level ones.
    try {
      await jsm.consumers.info(names.stream, names.consumer);
      throw new StoreConfigError(
        `consumer "${names.consumer}" on stream "${names.stream}" is from an older jobchart (one consumer for all jobs): ` +
          'delete it (nats consumer rm) — this version has one consumer per priority level',
      );
    } catch (err) {
      if (!isConsumerNotFound(err)) throw err;
    }
    for (const level of PRIORITY_LEVELS) {
      const name = `${names.consumer}_${level}`;
      try {
        const info = await jsm.consumers.info(names.stream, name);
        const existingMs = Math.round((info.config.ack_wait ?? 30_000_000_000) / 1_000_000);
        if (existingMs !== config.ackWaitMs) {
          throw new StoreConfigError(
            `consumer "${name}" exists with ack wait ${existingMs} ms but this node needs ${config.ackWaitMs} ms: ` +
              'open every node with the same leaseDurationMs/ackWaitMs',
          );
        }
      } catch (err) {
        if (!isConsumerNotFound(err)) throw err;
        await jsm.consumers.add(names.stream, {
          durable_name: name,
          filter_subject: `${names.subjectPrefix}.${level}.>`,
          ack_policy: AckPolicy.Explicit,
          ack_wait: nanos(config.ackWaitMs),
          // Jobs are retried by the runtime's policy, never dropped by the queue.
          max_deliver: -1,
          // The default (1000) would cap the jobs running across the whole cluster.
          max_ack_pending: -1,
        });
      }
    }
    return new NatsJobQueue(nc, requests, jsm, names, config);
  }

  #subject(jobId: string, level: PriorityLevel): string {
    return `${this.names.subjectPrefix}.${level}.${encodeKeyToken(jobId)}`;
  }

  async publish(messages: readonly QueueMessage[]): Promise<PublishOutcome[]> {
    if (this.nc.isClosed()) throw new StoreClosedError('publish');
    const max = this.nc.info?.max_payload;
    for (const { jobId, data } of messages) {
      if (max !== undefined && data.length > max) throw new RecordTooLargeError(`job ${jobId}`, data.length, max);
    }
    return Promise.all(
      messages.map(async ({ jobId, data, level = 'normal' }) => {
        const ack = await this.requests.publish(this.#subject(jobId, level), data, { msgId: jobId });
        return ack.duplicate ? 'duplicate' : 'queued';
      }),
    );
  }

  async fetch(max: number, opts: QueueFetchOptions = {}): Promise<QueueDelivery[]> {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`fetch max must be an integer >= 1, got ${max}`);
    if (this.nc.isClosed()) throw new StoreClosedError('fetch');
    const order = levelOrder(this.#fetches++);
    let msgs = await this.#pullLevels(order, max, true);
    const expiresMs = opts.expiresMs ?? 0;
    if (msgs.length === 0 && expiresMs > 0 && !opts.signal?.aborted) {
      msgs = await this.#waitOnAllLevels(expiresMs, opts.signal);
      if (msgs.length === 1 && max > 1) msgs = msgs.concat(await this.#pullLevels(order, max - 1, false));
    }
    const out: QueueDelivery[] = [];
    for (const msg of msgs) {
      const delivery = this.#toDelivery(msg);
      if (delivery) out.push(delivery);
      else respondQuietly(msg, '+TERM'); // not a job message of ours: never deliver it again
    }
    return out;
  }

  /** no_wait pulls through the levels in `order` until `max` are fetched (skipping levels just found empty). */
  async #pullLevels(order: readonly PriorityLevel[], max: number, useHints: boolean): Promise<Msg[]> {
    const got: Msg[] = [];
    for (const level of order) {
      if (got.length >= max) break;
      if (useHints && Date.now() < this.#emptyUntil[level]) continue;
      const msgs = await this.#pull(level, max - got.length, 0);
      if (msgs.length === 0) this.#emptyUntil[level] = Date.now() + EMPTY_LEVEL_HINT_MS;
      else got.push(...msgs);
    }
    return got;
  }

  /** A long poll (batch 1) on every level at once: the first delivery wins, the others are called off. */
  async #waitOnAllLevels(expiresMs: number, signal?: AbortSignal): Promise<Msg[]> {
    const race = new AbortController();
    const stop = (): void => race.abort();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      const polls = PRIORITY_LEVELS.map((level) =>
        this.#pull(level, 1, expiresMs, race.signal).then((msgs) => {
          if (msgs.length > 0) race.abort();
          return msgs;
        }),
      );
      const answers = await Promise.all(polls);
      this.#emptyUntil = { high: 0, normal: 0, low: 0 };
      // Several may have delivered at the same moment: keep them all (the caller asked for max >= 1).
      return answers.flat();
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  }

  async peek(jobId: string): Promise<{ data: Uint8Array; seq: number } | null> {
    if (this.nc.isClosed()) throw new StoreClosedError('peek');
    for (const level of PRIORITY_LEVELS) {
      const msg = await this.requests.lastMessage(this.names.stream, this.#subject(jobId, level));
      if (msg) return { data: msg.data, seq: msg.seq };
    }
    return null;
  }

  async messages(limit: number): Promise<{ jobId: string; data: Uint8Array; seq: number }[]> {
    if (this.nc.isClosed()) throw new StoreClosedError('messages');
    const out: { jobId: string; data: Uint8Array; seq: number }[] = [];
    let seq = 1;
    while (out.length < limit) {
      // STREAM.MSG.GET with next_by_subj (nats-server >= 2.9): the first message at or after `seq`.
      const msg = await this.jsm.streams.getMessage(this.names.stream, { seq, next_by_subj: `${this.names.subjectPrefix}.>` } as never);
      if (!msg) break;
      const jobId = tryDecodeKeyToken(msg.subject.slice(msg.subject.lastIndexOf('.') + 1));
      if (jobId !== null) out.push({ jobId, data: msg.data, seq: msg.seq });
      seq = msg.seq + 1;
    }
    return out;
  }

  async depth(): Promise<number> {
    if (this.nc.isClosed()) throw new StoreClosedError('depth');
    const info = await this.jsm.streams.info(this.names.stream);
    return info.state.messages;
  }

  /**
   * One pull request; `waitMs` 0 = no_wait. The server answers within `waitMs` (a status 404/408)
   * unless the request is lost, e.g. while JetStream recovers right after a server restart: then
   * the fetch gives up after a short grace and keeps listening a while longer only to hand late
   * deliveries straight back (nak) instead of leaving them to the ack wait. A 503 (no responders:
   * JetStream not ready, or the consumer has no leader during a cluster election) that ends a pull
   * with nothing fails it with `StoreUnavailableError`, so the worker backs off instead of asking
   * again at once in a loop.
   */
  #pull(level: PriorityLevel, batch: number, waitMs: number, signal?: AbortSignal): Promise<Msg[]> {
    // Closed meanwhile (between two pulls of one fetch): what was fetched so far is all there is.
    if (this.nc.isClosed()) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const got: Msg[] = [];
      let answered = false;
      let listening = true;
      let unavailable = false;
      const inbox = createInbox(this.names.inboxPrefix);
      const answer = (): void => {
        if (answered) return;
        answered = true;
        clearTimeout(answerGuard);
        signal?.removeEventListener('abort', answer);
        if (unavailable && got.length === 0) reject(new StoreUnavailableError(this.#nextSubjects[level], NO_RESPONDERS_DETAIL));
        else resolve(got);
      };
      const stopListening = (): void => {
        if (!listening) return;
        listening = false;
        clearTimeout(listenGuard);
        sub.unsubscribe();
        answer();
      };
      const sub = this.nc.subscribe(inbox, {
        callback: (err, msg) => {
          if (err || isStatus(msg)) {
            unavailable = !err && msg.headers?.code === 503;
            return stopListening(); // 404 empty, 408 expired/partial, 409, 503
          }
          if (answered) return respondQuietly(msg, '-NAK'); // the caller stopped waiting: give it back
          got.push(msg);
          if (got.length >= batch) stopListening();
        },
      });
      const answerGuard = setTimeout(answer, waitMs + Math.min(1000, this.config.requestTimeoutMs));
      const listenGuard = setTimeout(stopListening, waitMs + this.config.requestTimeoutMs);
      listenGuard.unref();
      signal?.addEventListener('abort', answer, { once: true });
      const body = waitMs > 0 ? { batch, expires: nanos(waitMs) } : { batch, no_wait: true };
      try {
        this.nc.publish(this.#nextSubjects[level], JSON.stringify(body), { reply: inbox });
      } catch {
        stopListening(); // closed connection: nothing to fetch
      }
    });
  }

  #toDelivery(msg: Msg): QueueDelivery | null {
    const token = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    const jobId = tryDecodeKeyToken(token);
    if (jobId === null) return null;
    const reply = msg.reply ?? '';
    const tokens = reply.split('.');
    // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.… (v1, 9 tokens) or $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.… (v2)
    const v1 = tokens.length === 9;
    const deliveryCount = Number(v1 ? tokens[4] : tokens[6]) || 1;
    const seq = Number(v1 ? tokens[5] : tokens[7]) || 0;
    const respond = (body: Uint8Array): void => this.requests.send(reply, body);
    return {
      jobId,
      data: msg.data,
      seq,
      deliveryCount,
      ack: () => respond(ACK),
      nak: (delayMs = 0) => respond(delayMs > 0 ? utf8.encode(`-NAK ${JSON.stringify({ delay: nanos(delayMs) })}`) : NAK),
      working: () => respond(WORKING),
      term: () => respond(TERM),
    };
  }
}

function isStatus(msg: Msg): boolean {
  return msg.data.length === 0 && (msg.headers?.code ?? 0) > 0;
}

/** ack/nak/working/term are one-way: on a closed connection the ack wait settles it instead. */
function respondQuietly(msg: Msg, body: string): void {
  try {
    msg.respond(body);
  } catch {
    // ignored by design, see above
  }
}
