/**
 * The replies to JetStream requests, read into results or typed errors: a publish acknowledgement,
 * a direct get (a message in headers and payload), and a message get of the JetStream API (the
 * fallback for streams without direct get). See jetstream-requests.ts for the requests themselves.
 */
import type { Msg } from '@nats-io/transport-node';
import { StoreUnavailableError } from '../store-errors.js';
import { jetStreamRequestError, JetStreamRequestError, type ConflictTarget, type JetStreamApiErrorBody } from './nats-errors.js';

/** JetStream's acknowledgement of a stored message. */
export interface PubAck {
  stream: string;
  /** The message's sequence in the stream (a KV entry's revision). */
  seq: number;
  /** True when `msgId` was seen within the stream's duplicate window: nothing new was stored. */
  duplicate: boolean;
}

/** What a KV entry's last message says: PUT a value, or a DEL/PURGE marker. */
export type KvOperation = 'PUT' | 'DEL' | 'PURGE';

/** The last message stored on a subject. */
export interface StoredMessage {
  data: Uint8Array;
  seq: number;
  /** From the `KV-Operation` header; `PUT` when absent. */
  operation: KvOperation;
}

/** What a reply's reading needs of its request: the subject, and how a revision conflict names the write. */
export interface ReplyContext {
  readonly subject: string;
  readonly conflict?: ConflictTarget | undefined;
  readonly expected?: number | undefined;
}

const KV_OPERATION = 'KV-Operation';
const EMPTY = new Uint8Array(0);
const NO_RESPONDERS_DETAIL =
  'JetStream is not enabled or not ready yet (e.g. just after a server restart), or no stream stores this subject (NATS 503 no responders)';

/** The status a reply carries in its header line (0 = none): 503 no responders, 404 not found… */
function statusOf(msg: Msg): number {
  return msg.headers?.code ?? 0;
}

/** A publish's acknowledgement, or the error its reply carries. */
export function parsePubAck(request: ReplyContext, msg: Msg): PubAck {
  const status = statusOf(msg);
  if (status === 503) throw new StoreUnavailableError(request.subject, NO_RESPONDERS_DETAIL);
  if (status !== 0 && msg.data.length === 0) {
    throw new JetStreamRequestError(request.subject, { code: status, description: msg.headers?.description ?? '' });
  }
  const reply = msg.json<{ stream?: string; seq?: number; duplicate?: boolean; error?: JetStreamApiErrorBody }>();
  if (reply.error) throw jetStreamRequestError(request.subject, reply.error, request.conflict, request.expected);
  if (!reply.stream || typeof reply.seq !== 'number') {
    throw new JetStreamRequestError(request.subject, { code: 500, description: `invalid publish acknowledgement ${msg.string()}` });
  }
  return { stream: reply.stream, seq: reply.seq, duplicate: reply.duplicate === true };
}

/** A direct get's message (null: no message on the subject), or the error its reply carries. */
export function parseDirectGet(request: ReplyContext, msg: Msg): StoredMessage | null {
  const headers = msg.headers;
  const status = headers?.code ?? 0;
  if (status === 404) return null;
  if (status === 503) throw new StoreUnavailableError(request.subject, NO_RESPONDERS_DETAIL);
  if (!headers || status !== 0) {
    throw new JetStreamRequestError(request.subject, {
      code: status || 500,
      description: headers?.description || 'direct get reply without headers',
    });
  }
  return { data: msg.data, seq: Number(headers.get('Nats-Sequence')), operation: operationOf(headers.get(KV_OPERATION), headers.get('Nats-Marker-Reason')) };
}

interface MsgGetReply {
  message?: { seq: number; data?: string; hdrs?: string };
  error?: JetStreamApiErrorBody;
}

const NO_MESSAGE_FOUND = 10037;

/** A message get's message (null: no message on the subject), or the error its reply carries. */
export function parseMsgGet(request: ReplyContext, msg: Msg): StoredMessage | null {
  if (statusOf(msg) === 503) throw new StoreUnavailableError(request.subject, NO_RESPONDERS_DETAIL);
  const reply = msg.json<MsgGetReply>();
  if (reply.error) {
    if (reply.error.err_code === NO_MESSAGE_FOUND) return null;
    throw jetStreamRequestError(request.subject, reply.error);
  }
  const message = reply.message;
  if (!message) throw new JetStreamRequestError(request.subject, { code: 500, description: 'message get reply without a message' });
  const headerText = message.hdrs ? Buffer.from(message.hdrs, 'base64').toString('utf8') : '';
  return {
    data: message.data ? new Uint8Array(Buffer.from(message.data, 'base64')) : EMPTY,
    seq: message.seq,
    operation: operationOf(headerValue(headerText, KV_OPERATION), headerValue(headerText, 'Nats-Marker-Reason')),
  };
}

/** As @nats-io/kv reads it: a MaxAge marker (nats-server ≥ 2.11) is a purge, else the KV-Operation header. */
function operationOf(kvOperation: string, markerReason: string): KvOperation {
  if (markerReason === 'MaxAge') return 'PURGE';
  return kvOperation === 'DEL' || kvOperation === 'PURGE' ? kvOperation : 'PUT';
}

/** A header's first value in a raw `NATS/1.0\r\nName: value\r\n…` block; '' when absent. */
function headerValue(block: string, name: string): string {
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon) === name) return line.slice(colon + 1).trim();
  }
  return '';
}
