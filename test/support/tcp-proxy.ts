/**
 * A loopback TCP proxy in front of a server, for tests that need a real delay on the wire: while
 * `hold()` is on, everything the client sends is kept back (in order) and only forwarded on
 * `release()`; what the server sends always passes. Listens on a free loopback port; `close()`
 * ends every connection it carried.
 */
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  /** `nats://127.0.0.1:<port>` of the proxy. */
  readonly url: string;
  /** Keep back what clients send from now on. */
  hold(): void;
  /** Forward what was kept back, in order, and stop holding. */
  release(): void;
  /** Bytes kept back right now. */
  readonly heldBytes: number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket; queue: Buffer[] }>();
  let holding = false;
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    const pair = { client, upstream, queue: [] as Buffer[] };
    pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      if (holding || pair.queue.length > 0) pair.queue.push(chunk);
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `nats://127.0.0.1:${port}`,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const pair of pairs) {
        for (const chunk of pair.queue.splice(0)) pair.upstream.write(chunk);
      }
    },
    get heldBytes() {
      let n = 0;
      for (const pair of pairs) for (const chunk of pair.queue) n += chunk.length;
      return n;
    },
    close: async () => {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
