/**
 * Dispatch on JetStream: a work-queue stream `<prefix>_dispatch` (subject `<prefix>.dispatch.jobs`,
 * file storage) holding job ids, and ONE durable pull consumer `<prefix>_workers` that every worker
 * pulls from, so the server splits jobs among workers and no two workers race for one message.
 *
 * Fetching speaks the pull protocol directly (`$JS.API.CONSUMER.MSG.NEXT`) instead of the client's
 * `consumer.fetch`, because that fetch only returns once the batch is full or `expires` (>= 1 s)
 * has passed, which would hold back a lone job for the whole wait. Here a fetch first asks with
 * `no_wait` for up to `max` available messages; only if there are none does it wait for one (batch
 * 1, with `expires`), then tops up with `no_wait` again. Observed on nats-server 2.9.10: `no_wait`
 * answers 404 when empty and 408 after a partial batch; acks from a superseded delivery still ack,
 * while nak/working from one are ignored.
 */
import { AckPolicy, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { createInbox, nanos, type Msg, type NatsConnection } from '@nats-io/transport-node';
import type { FetchOptions, JobDelivery, JobDispatch } from '../job-dispatch.js';
import { StoreClosedError, StoreConfigError } from '../store-errors.js';
import { isConsumerNotFound, isStreamNotFound } from './nats-errors.js';

export interface DispatchNames {
  stream: string;
  subject: string;
  consumer: string;
  notifySubject: string;
  /** The connection's inbox prefix, when permissions require one. */
  inboxPrefix?: string;
}

const utf8 = new TextDecoder();

export class NatsDispatch implements JobDispatch {
  readonly #nextSubject: string;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly names: DispatchNames,
    private readonly requestTimeoutMs: number,
  ) {
    this.#nextSubject = `$JS.API.CONSUMER.MSG.NEXT.${names.stream}.${names.consumer}`;
  }

  /** Creates the stream and the shared consumer if absent; refuses an existing consumer with another ack wait. */
  static async open(
    nc: NatsConnection,
    jsm: JetStreamManager,
    js: JetStreamClient,
    names: DispatchNames,
    ackWaitMs: number,
    requestTimeoutMs: number,
  ): Promise<NatsDispatch> {
    try {
      const info = await jsm.streams.info(names.stream);
      if (info.config.retention !== RetentionPolicy.Workqueue) {
        throw new StoreConfigError(`stream "${names.stream}" exists but is not a work-queue stream: delete it or choose another prefix`);
      }
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
      await jsm.streams.add({
        name: names.stream,
        subjects: [names.subject],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
      });
    }
    try {
      const info = await jsm.consumers.info(names.stream, names.consumer);
      const existingMs = Math.round((info.config.ack_wait ?? 30_000_000_000) / 1_000_000);
      if (existingMs !== ackWaitMs) {
        throw new StoreConfigError(
          `consumer "${names.consumer}" exists with ack wait ${existingMs} ms but this node needs ${ackWaitMs} ms: ` +
            'open every node with the same leaseDurationMs/ackWaitMs',
        );
      }
    } catch (err) {
      if (!isConsumerNotFound(err)) throw err;
      await jsm.consumers.add(names.stream, {
        durable_name: names.consumer,
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(ackWaitMs),
        // Jobs are retried by the runtime's policy, never dropped by the queue.
        max_deliver: -1,
        // The default (1000) would cap the jobs running across the whole cluster.
        max_ack_pending: -1,
      });
    }
    return new NatsDispatch(nc, js, names, requestTimeoutMs);
  }

  async enqueue(jobId: string): Promise<void> {
    if (typeof jobId !== 'string' || jobId.length === 0) throw new TypeError(`job id must be a non-empty string, got ${JSON.stringify(jobId)}`);
    if (this.nc.isClosed()) throw new StoreClosedError('enqueue');
    await this.js.publish(this.names.subject, jobId);
    this.nc.publish(this.names.notifySubject);
  }

  async fetch(max: number, opts: FetchOptions = {}): Promise<JobDelivery[]> {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`fetch max must be an integer >= 1, got ${max}`);
    if (this.nc.isClosed()) throw new StoreClosedError('fetch');
    const expiresMs = opts.expiresMs ?? 0;
    let msgs = await this.#pull(max, 0);
    if (msgs.length === 0 && expiresMs > 0 && !opts.signal?.aborted) {
      msgs = await this.#pull(1, expiresMs, opts.signal);
      if (msgs.length === 1 && max > 1) msgs = msgs.concat(await this.#pull(max - 1, 0));
    }
    return msgs.map((msg) => this.#toDelivery(msg));
  }

  onJobAvailable(listener: () => void): () => void {
    const sub = this.nc.subscribe(this.names.notifySubject, {
      callback: (err) => {
        if (!err) listener();
      },
    });
    return () => sub.unsubscribe();
  }

  /**
   * One pull request; `waitMs` 0 = no_wait. The server answers within `waitMs` (a status 404/408)
   * unless the request is lost, e.g. while JetStream recovers right after a server restart: then
   * the fetch gives up after a short grace and keeps listening a while longer only to hand late
   * deliveries straight back (nak) instead of leaving them to the ack wait.
   */
  #pull(batch: number, waitMs: number, signal?: AbortSignal): Promise<Msg[]> {
    // Closed meanwhile (between two pulls of one fetch): what was fetched so far is all there is.
    if (this.nc.isClosed()) return Promise.resolve([]);
    return new Promise((resolve) => {
      const got: Msg[] = [];
      let answered = false;
      let listening = true;
      const inbox = createInbox(this.names.inboxPrefix);
      const answer = (): void => {
        if (answered) return;
        answered = true;
        clearTimeout(answerGuard);
        signal?.removeEventListener('abort', answer);
        resolve(got);
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
          if (err || isStatus(msg)) return stopListening(); // 404 empty, 408 expired/partial, 409, 503
          if (answered) return respondQuietly(msg, '-NAK'); // the caller stopped waiting: give it back
          got.push(msg);
          if (got.length >= batch) stopListening();
        },
      });
      const answerGuard = setTimeout(answer, waitMs + Math.min(1000, this.requestTimeoutMs));
      const listenGuard = setTimeout(stopListening, waitMs + this.requestTimeoutMs);
      listenGuard.unref();
      signal?.addEventListener('abort', answer, { once: true });
      const body = waitMs > 0 ? { batch, expires: nanos(waitMs) } : { batch, no_wait: true };
      try {
        this.nc.publish(this.#nextSubject, JSON.stringify(body), { reply: inbox });
      } catch {
        stopListening(); // closed connection: nothing to fetch
      }
    });
  }

  #toDelivery(msg: Msg): JobDelivery {
    const reply = msg.reply ?? '';
    const tokens = reply.split('.');
    // $JS.ACK.<stream>.<consumer>.<delivered>.… (v1, 9 tokens) or $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.… (v2)
    const deliveryCount = Number(tokens.length === 9 ? tokens[4] : tokens[6]) || 1;
    return {
      jobId: utf8.decode(msg.data),
      deliveryCount,
      ack: async () => {
        // A request, not a plain publish: the server confirms (double ack), so "acked" means removed.
        await this.nc.request(reply, '+ACK', { timeout: this.requestTimeoutMs });
      },
      nak: (delayMs = 0) => respondQuietly(msg, delayMs > 0 ? `-NAK ${JSON.stringify({ delay: nanos(delayMs) })}` : '-NAK'),
      working: () => respondQuietly(msg, '+WPI'),
      term: () => respondQuietly(msg, '+TERM'),
    };
  }
}

function isStatus(msg: Msg): boolean {
  return msg.data.length === 0 && (msg.headers?.code ?? 0) > 0;
}

/** nak/working/term are fire-and-forget: on a closed connection the ack wait settles it instead. */
function respondQuietly(msg: Msg, body: string): void {
  try {
    msg.respond(body);
  } catch {
    // ignored by design, see above
  }
}
