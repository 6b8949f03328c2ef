/**
 * Best-effort one-way messages on a few named channels, cluster-wide: job completions (`done`, for
 * result waiters), cancel requests (`cancel`, for the node running a job) and runtime events
 * (`events`, batched). Core NATS subjects `<prefix>.<channel>.<key>` on the NATS backend, in-process
 * listeners on the memory backend. At most once: every user of a channel also has a way to recover
 * a lost message (waiters re-read the job's key, events are documented as at-most-once).
 *
 * Listening is what costs: on NATS the server only forwards a channel's messages to connections
 * that subscribed to it, so the users subscribe only while someone local listens.
 */

export const SignalChannel = {
  done: 'done',
  cancel: 'cancel',
  events: 'events',
  /** "Someone here listens to events": lets publishers skip events nobody would receive. */
  interest: 'interest',
} as const;
export type SignalChannel = (typeof SignalChannel)[keyof typeof SignalChannel];

export interface SignalTransport {
  /** Sends `data` on `channel` under `key` (a key token: `[A-Za-z0-9_-]+`). Never throws once closed. */
  send(channel: SignalChannel, key: string, data: Uint8Array): void;
  /** Receives every message of `channel` from the whole cluster (this node included). */
  listen(channel: SignalChannel, listener: (key: string, data: Uint8Array) => void): () => void;
}
