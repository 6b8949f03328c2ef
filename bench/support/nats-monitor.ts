/**
 * Message counts from nats-server's HTTP monitoring: `/varz` for the server's totals, `/connz` for
 * each client connection by the name it gave (`natsStore({ name })`). The server counts from its
 * side: a connection's in_msgs are the messages that client published (requests, acks, one-way
 * publishes), its out_msgs the messages delivered to it (replies, pushed messages, events).
 */
export interface MessageCounts {
  in: number;
  out: number;
}

export interface NatsCounters {
  server: MessageCounts;
  /** By connection name; connections sharing a name are summed. */
  connections: Record<string, MessageCounts>;
}

interface Varz {
  in_msgs: number;
  out_msgs: number;
}

interface Connz {
  connections?: { name?: string; in_msgs: number; out_msgs: number }[];
}

async function getJson<T>(monitorUrl: string, path: string): Promise<T> {
  const res = await fetch(`${monitorUrl}${path}`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

export async function readNatsCounters(monitorUrl: string): Promise<NatsCounters> {
  const get = <T>(path: string): Promise<T> => getJson<T>(monitorUrl, path);
  const varz = await get<Varz>('/varz');
  const connz = await get<Connz>('/connz?limit=4096');
  const connections: Record<string, MessageCounts> = {};
  for (const c of connz.connections ?? []) {
    const name = c.name ?? '(unnamed)';
    const sum = (connections[name] ??= { in: 0, out: 0 });
    sum.in += c.in_msgs;
    sum.out += c.out_msgs;
  }
  return { server: { in: varz.in_msgs, out: varz.out_msgs }, connections };
}

/** after − before for one connection name (0 for a connection absent from either). */
export function connectionDelta(before: NatsCounters, after: NatsCounters, name: string): MessageCounts {
  const a = after.connections[name] ?? { in: 0, out: 0 };
  const b = before.connections[name] ?? { in: 0, out: 0 };
  return { in: a.in - b.in, out: a.out - b.out };
}

interface Jsz {
  account_details?: {
    stream_detail?: {
      name: string;
      state: { messages: number };
      consumer_detail?: { name: string; num_pending: number; num_ack_pending: number; num_redelivered: number; num_waiting: number }[];
    }[];
  }[];
}

const readJsz = (monitorUrl: string): Promise<Jsz> => getJson<Jsz>(monitorUrl, '/jsz?accounts=true&streams=true&consumers=true');

/** A stream's messages and its consumers' pending / ack-pending / redelivered counts, summed. */
export async function streamState(monitorUrl: string, stream: string): Promise<Record<string, number>> {
  const jsz = await readJsz(monitorUrl);
  for (const account of jsz.account_details ?? []) {
    const detail = account.stream_detail?.find((s) => s.name === stream);
    if (!detail) continue;
    const consumers = detail.consumer_detail ?? [];
    const sum = (pick: (c: (typeof consumers)[number]) => number): number => consumers.reduce((n, c) => n + pick(c), 0);
    return {
      'stream msgs': detail.state.messages,
      pending: sum((c) => c.num_pending),
      'ack pending': sum((c) => c.num_ack_pending),
      redelivered: sum((c) => c.num_redelivered),
    };
  }
  return {};
}

/** One line per stream: messages held, and per consumer pending / ack-pending / redelivered / waiting pulls. */
export async function describeJetStream(monitorUrl: string): Promise<string> {
  const jsz = await readJsz(monitorUrl);
  const parts: string[] = [];
  for (const account of jsz.account_details ?? []) {
    for (const stream of account.stream_detail ?? []) {
      const consumers = (stream.consumer_detail ?? []).map(
        (c) => `${c.name}: pending ${c.num_pending}, ack-pending ${c.num_ack_pending}, redelivered ${c.num_redelivered}, waiting pulls ${c.num_waiting}`,
      );
      parts.push(`${stream.name} ${stream.state.messages} msgs${consumers.length ? ` (${consumers.join('; ')})` : ''}`);
    }
  }
  return parts.join(' · ');
}
