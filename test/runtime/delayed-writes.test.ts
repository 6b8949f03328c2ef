/**
 * G1 against a real delay on the wire: one node's writes are held back by a loopback TCP proxy for
 * longer than the lease plus a takeover. Its commit (or requeue) then reaches nats-server after
 * another node took the job over and finished it: the write carries a stale revision of the job's
 * key and is refused, the takeover's result stands, and JobReleased is announced once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { natsStore, type Runtime, type RuntimeEvent } from '../../src/index.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { LEASE_MS, useCluster } from './support/cluster.js';
import { sleep, waitUntil } from './support/wait.js';

const cluster = useCluster();
/** Longer than the ack wait (2 leases, when the queue redelivers) plus the rescuer's takeover and run. */
const HOLD_MS = 4_500;

let proxy: TcpProxy | null = null;
afterEach(async () => {
  proxy?.release();
  await proxy?.close();
  proxy = null;
});

describe.each(['commit', 'requeue'] as const)('a %s held on the wire past the lease (G1)', (write) => {
  it(`the late ${write} is refused, the rescuer's result stands, JobReleased is announced once`, async () => {
    const prefix = cluster.newPrefix();
    proxy = await startTcpProxy(Number(new URL(cluster.server.url).port));
    const held = proxy;
    const runs: { node: string; attempt: number }[] = [];
    const register = (rt: Runtime, node: string): void => {
      rt.task(
        'once',
        async (_args: unknown, ctx) => {
          runs.push({ node, attempt: ctx.attempt });
          if (node === 'victim') {
            // The victim's next writes (the commit or the requeue of this attempt) are held.
            held.hold();
            await sleep(50);
            if (write === 'requeue') throw new Error('attempt 1 fails on the victim');
            return 'from-victim';
          }
          return 'from-rescuer';
        },
        { retry: { attempts: 3, backoff: 10 } },
      );
    };
    const victim = await cluster.runtimeOn(natsStore({ servers: held.url, prefix, reconnectTimeWaitMs: 100 }), {
      nodeId: 'victim',
      role: 'worker',
    });
    register(victim, 'victim');
    await victim.start();
    // The rescuer takes jobs only once the victim holds this one.
    const rescuer = await cluster.runtime(prefix, { nodeId: 'rescuer', role: 'worker', maxConcurrentJobs: 0 });
    register(rescuer, 'rescuer');
    await rescuer.start();
    const client = await cluster.runtime(prefix, { role: 'worker', maxConcurrentJobs: 0 });
    const events: RuntimeEvent[] = [];
    client.on('*', (event) => events.push(event));
    await sleep(50);

    const jobId = await client.addJob({ task: 'once' });
    await waitUntil('the victim to run the job', () => runs.some((r) => r.node === 'victim'));
    rescuer.setMaxConcurrentJobs(1);
    const result = await client.getJobResult(jobId, { wait: true, timeout: 15_000 });
    expect(result).toMatchObject({ outcome: 'success', nodeId: 'rescuer', returnValue: 'from-rescuer' });
    expect(held.heldBytes, 'the victim had writes held back').toBeGreaterThan(0);

    // Now the victim's held writes reach the server: the stale write must be refused.
    await sleep(Math.max(0, HOLD_MS - 2 * LEASE_MS));
    held.release();
    await waitUntil('the victim to report its lease lost', () => events.some((e) => e.type === 'LeaseLost' && e.nodeId === 'victim' && e.jobId === jobId), {
      timeoutMs: 10_000,
    });
    await sleep(LEASE_MS);
    expect(await client.getJobResult(jobId)).toEqual(result);
    const released = events.filter((e) => e.type === 'JobReleased' && e.jobId === jobId);
    expect(released).toHaveLength(1);
    expect(released[0]?.nodeId).toBe('rescuer');
    expect(runs.filter((r) => r.node === 'victim')).toEqual([{ node: 'victim', attempt: 1 }]);
  });
});
