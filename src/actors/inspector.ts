/**
 * Attaches the XState inspector to a node's actors.
 *
 * `inspect: true | url` sends every actor, event and snapshot to a WebSocket inspector server (the
 * Stately inspector protocol, e.g. `npx @statelyai/inspect` style servers or any `ws` server);
 * `inspect: fn` hands the raw XState inspection events to a function.
 *
 * We use @statelyai/inspect's `createInspector` (message format) with our own WebSocket adapter:
 * the stock adapter retries forever on a timer that keeps the process alive and keeps retrying after
 * `stop()`. Ours never holds the event loop open (timers and sockets are unref'd), never throws into
 * the node, drops the oldest events beyond a bound while disconnected, and stops for good on `stop()`.
 */
import { createInspector, type StatelyInspectionEvent } from '@statelyai/inspect';
import type { InspectionEvent, Observer } from 'xstate';
import WebSocket from 'ws';

/** Default inspector server URL for `inspect: true`. */
export const DEFAULT_INSPECTOR_URL = 'ws://127.0.0.1:8080';

/** What `createRuntime({ inspect })` accepts. */
export type InspectOption = boolean | string | ((event: InspectionEvent) => void);

export interface NodeInspector {
  /** Pass as `createActor(logic, { inspect })`. */
  readonly inspect: Observer<InspectionEvent>;
  /** Closes the connection and stops reconnecting. Idempotent. */
  stop(): void;
}

const RECONNECT_DELAY_MS = 2_000;
const MAX_DEFERRED_EVENTS = 500;

/** Builds the inspector for an `inspect` option; null when inspection is off. */
export function createNodeInspector(option: InspectOption | undefined): NodeInspector | null {
  if (option === undefined || option === false) return null;
  if (typeof option === 'function') {
    return {
      inspect: {
        next: (event) => {
          try {
            option(event);
          } catch {
            // An observer's bug must not break the actor system it observes.
          }
        },
      },
      stop: () => {},
    };
  }
  const url = option === true ? DEFAULT_INSPECTOR_URL : option;
  const adapter = new UnrefWebSocketAdapter(url);
  const inspector = createInspector(adapter, { serializationDepthLimit: 8 });
  inspector.start();
  return { inspect: inspector.inspect, stop: () => inspector.stop() };
}

class UnrefWebSocketAdapter {
  private socket: WebSocket | null = null;
  private open = false;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly deferred: string[] = [];

  constructor(private readonly url: string) {}

  start(): void {
    if (this.stopped) return;
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.url, { handshakeTimeout: 5_000 });
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.on('open', () => {
      this.open = true;
      // The socket is a side channel: it must never be the reason the node stays up.
      (socket as unknown as { _socket?: { unref?: () => void } })._socket?.unref?.();
      for (const message of this.deferred.splice(0)) socket.send(message);
    });
    socket.on('error', () => {
      // 'close' follows; reconnect from there.
    });
    socket.on('close', () => {
      this.open = false;
      this.socket = null;
      this.scheduleReconnect();
    });
    // While connecting, the TCP handle may not exist yet; unref it as soon as it does.
    socket.once('upgrade', () => {
      (socket as unknown as { _socket?: { unref?: () => void } })._socket?.unref?.();
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.deferred.length = 0;
    const socket = this.socket;
    this.socket = null;
    this.open = false;
    if (socket) {
      socket.removeAllListeners('close');
      socket.on('error', () => {});
      socket.terminate();
    }
  }

  send(event: StatelyInspectionEvent): void {
    if (this.stopped) return;
    let message: string;
    try {
      message = JSON.stringify(event, safeReplacer());
    } catch {
      return;
    }
    if (this.open && this.socket) {
      this.socket.send(message);
    } else {
      this.deferred.push(message);
      if (this.deferred.length > MAX_DEFERRED_EVENTS) this.deferred.shift();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.start();
    }, RECONNECT_DELAY_MS);
    this.reconnectTimer.unref();
  }
}

/** JSON replacer that drops cycles, functions and AbortSignals instead of throwing. */
function safeReplacer(): (key: string, value: unknown) => unknown {
  const seen = new WeakSet<object>();
  return (_key, value) => {
    if (typeof value === 'function' || typeof value === 'symbol') return undefined;
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) return '[Circular]';
      seen.add(value);
    }
    return value;
  };
}
