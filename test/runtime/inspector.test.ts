/**
 * The inspector: with `inspect: 'ws://…'` a node streams its actors, events and snapshots to a
 * WebSocket inspector server; with no server there it still starts and stops cleanly, and a
 * process running such a node ends by itself after `stop()` (the inspector holds no handle open).
 */
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { freePort } from '../support/nats-server.js';
import { useCluster } from './support/cluster.js';
import { waitUntil } from './support/wait.js';

const cluster = useCluster();

interface InspectorMessage {
  type: string;
  sessionId?: string;
  parentId?: string;
  name?: string;
  snapshot?: { value?: unknown; status?: string };
  event?: { type?: string };
}

/** A local inspector server collecting every message it receives. */
async function inspectorServer(): Promise<{ url: string; messages: InspectorMessage[]; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const messages: InspectorMessage[] = [];
  wss.on('connection', (socket) => {
    socket.on('message', (data) => messages.push(JSON.parse(data.toString()) as InspectorMessage));
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    messages,
    close: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

describe('inspector', () => {
  it('streams the worker and job actors, their events and snapshots to a WebSocket inspector', async () => {
    const server = await inspectorServer();
    try {
      const rt = await cluster.runtime(cluster.newPrefix(), { inspect: server.url });
      rt.task('inspected', (n: number) => n + 1);
      await rt.start();
      await expect(rt.runJob('inspected', 1)).resolves.toBe(2);
      await waitUntil('actor and snapshot messages', () =>
        ['@xstate.actor', '@xstate.snapshot', '@xstate.event'].every((type) => server.messages.some((m) => m.type === type)),
      );
      await rt.stop();
      const actors = server.messages.filter((m) => m.type === '@xstate.actor');
      // The worker and at least the one job actor announced themselves.
      expect(actors.length).toBeGreaterThanOrEqual(2);
      expect(new Set(actors.map((m) => m.sessionId)).size).toBe(actors.length);
      const eventTypes = new Set(server.messages.filter((m) => m.type === '@xstate.event').map((m) => m.event?.type));
      expect(eventTypes).toContain('SLOT_RELEASED'); // the job told the worker its slot is free
      const states = JSON.stringify(server.messages.filter((m) => m.type === '@xstate.snapshot').map((m) => m.snapshot?.value));
      for (const state of ['acquiring', 'running', 'committing', 'done', 'waiting']) expect(states).toContain(state);
      // The job actor is part of the node's actor system: its parent is the worker.
      const committed = new Set(
        server.messages.filter((m) => m.type === '@xstate.snapshot' && m.snapshot?.value === 'committing').map((m) => m.sessionId),
      );
      const job = actors.find((m) => m.sessionId !== undefined && committed.has(m.sessionId));
      expect(job?.parentId, 'the job actor has a parent (the worker)').toBeDefined();
    } finally {
      await server.close();
    }
  });

  it('with no inspector listening the node still starts, runs jobs and stops promptly', async () => {
    const url = `ws://127.0.0.1:${await freePort()}`;
    const rt = await cluster.runtime(cluster.newPrefix(), { inspect: url });
    rt.task('blind', () => 'ok');
    await rt.start();
    await expect(rt.runJob('blind')).resolves.toBe('ok');
    const before = Date.now();
    await rt.stop();
    expect(Date.now() - before).toBeLessThan(2_000);
    expect(rt.status.lifecycle).toBe('stopped');
  });

  it.each([
    ['no inspector listening', false],
    ['an inspector connected', true],
  ])('a node process with %s exits by itself after stop (no handle kept open)', async (_, listening) => {
    const server = listening ? await inspectorServer() : null;
    try {
      const inspect = server?.url ?? `ws://127.0.0.1:${await freePort()}`;
      const child = await cluster.spawn(cluster.newPrefix(), {
        nodeId: listening ? 'watched' : 'unwatched',
        inspect,
        selfTest: true,
        tasks: [{ name: 'once', kind: 'sleep' }],
      });
      await child.waitForOutput('STOPPED', 10_000);
      const stoppedAt = Date.now();
      const exit = await Promise.race([child.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 5_000))]);
      expect(exit, child.output()).toEqual({ code: 0, signal: null });
      expect(Date.now() - stoppedAt).toBeLessThan(5_000);
      expect(child.output()).toContain('RESULT {"node":');
      if (server) expect(server.messages.some((m) => m.type === '@xstate.snapshot')).toBe(true);
    } finally {
      await server?.close();
    }
  });
});
