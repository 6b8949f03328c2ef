/**
 * G1 across processes: a runner that outlives its lease without knowing it (a process paused with
 * SIGSTOP, an event loop blocked by CPU work) loses the job to another node; when it wakes up its
 * signal aborts or its result is refused, and the job keeps exactly one committed result.
 */
import { describe, expect, it } from 'vitest';
import type { RuntimeEvent, TaskOptions } from '../../src/index.js';
import { readSideChannel } from './support/child-node.js';
import { LEASE_MS, useCluster } from './support/cluster.js';
import { sleep, waitUntil } from './support/wait.js';

const cluster = useCluster();

/** Retry that lets the node taking over run a second attempt soon after it finds the first abandoned. */
const RETRY: TaskOptions = { retry: { attempts: 2, backoff: 100 } };

describe('fencing across processes (G1)', () => {
  it('a worker paused with SIGSTOP past its lease: another node takes over; after SIGCONT its signal aborts and one result stands', async () => {
    const prefix = cluster.newPrefix();
    const logFile = cluster.logFile('sigstop.log');
    const tasks = [{ name: 'hold', kind: 'hold' as const, options: RETRY }];
    // The victim runs alone first, so it is certainly the one holding the job.
    const victim = await cluster.spawn(prefix, { nodeId: 'paused', role: 'worker', logFile, tasks });
    const client = await cluster.runtime(prefix);
    const events: RuntimeEvent[] = [];
    client.on('*', (event) => events.push(event));
    const jobId = await client.addJob({ task: 'hold', args: { quickFromAttempt: 2 } });
    await waitUntil('the victim to start the job', () => readSideChannel(logFile).some((l) => l.e === 'start' && l.node === 'paused'));
    const rescuer = await cluster.spawn(prefix, { nodeId: 'rescuer', role: 'worker', logFile, tasks });
    expect(rescuer.pid).not.toBe(victim.pid);

    victim.signal('SIGSTOP');
    const result = await client.getJobResult(jobId, { wait: true, timeout: 15_000 });
    expect(result).toMatchObject({ outcome: 'success', attempt: 2, nodeId: 'rescuer', returnValue: 'from-rescuer' });
    // Still paused: the victim has not noticed anything yet.
    expect(readSideChannel(logFile).filter((l) => l.node === 'paused').map((l) => l.e)).toEqual(['start']);

    const resumedAt = Date.now();
    victim.signal('SIGCONT');
    const abortLine = await waitUntil('the paused runner to see its signal abort', () =>
      readSideChannel(logFile).find((l) => l.node === 'paused' && l.e === 'aborted'),
    );
    // Its first renewal after waking fails, and the abort follows within a renewal round.
    expect(abortLine.t - resumedAt).toBeLessThan(LEASE_MS);
    expect(abortLine.attempt).toBe(1);
    await waitUntil('the LeaseLost event of the paused node', () =>
      events.some((e) => e.type === 'LeaseLost' && e.nodeId === 'paused' && e.jobId === jobId),
    );

    // Give a refused write every chance to show up, then check that nothing moved.
    await sleep(LEASE_MS / 2);
    expect(await client.getJobResult(jobId)).toEqual(result);
    const lines = readSideChannel(logFile);
    expect(lines.filter((l) => l.e === 'start').map((l) => [l.node, l.attempt])).toEqual([
      ['paused', 1],
      ['rescuer', 2],
    ]);
    expect(lines.filter((l) => l.e === 'end').map((l) => l.node)).toEqual(['rescuer']);
    expect(events.filter((e) => e.type === 'JobReleased' && e.jobId === jobId)).toHaveLength(1);
    // Both nodes are still alive and working.
    const after = await client.addJob({ task: 'hold', args: { quickFromAttempt: 1 } });
    expect((await client.getJobResult(after, { wait: true, timeout: 10_000 }))?.outcome).toBe('success');
  });

  it('a worker whose event loop is blocked past its lease: its late result is refused, the takeover result stands', async () => {
    const prefix = cluster.newPrefix();
    const logFile = cluster.logFile('busy.log');
    const tasks = [{ name: 'busy', kind: 'busy' as const, options: RETRY }];
    await cluster.spawn(prefix, { nodeId: 'blocked', role: 'worker', logFile, tasks });
    const client = await cluster.runtime(prefix);
    const events: RuntimeEvent[] = [];
    client.on('*', (event) => events.push(event));
    // Spawn the rescuer first: the busy attempt blocks the whole victim process, spawning included.
    const rescuer = await cluster.spawn(prefix, { nodeId: 'rescuer', role: 'worker', logFile, tasks, maxConcurrentJobs: 0 });
    const jobId = await client.addJob({ task: 'busy', args: { ms: 5 * LEASE_MS, quickFromAttempt: 2 } });
    await waitUntil('the blocked node to start the job', () => readSideChannel(logFile).some((l) => l.e === 'start' && l.node === 'blocked'));
    expect(rescuer.nodeId).toBe('rescuer');
    // Only now may the rescuer take jobs (capacity 0 kept it from racing for the first attempt).
    rescuer.process.stdin?.write('capacity 1\n');

    const result = await client.getJobResult(jobId, { wait: true, timeout: 15_000 });
    expect(result).toMatchObject({ outcome: 'success', attempt: 2, nodeId: 'rescuer', returnValue: 'from-rescuer' });
    await waitUntil('the blocked runner to return', () => readSideChannel(logFile).some((l) => l.node === 'blocked' && l.e === 'returned'), {
      timeoutMs: 10_000,
    });
    await waitUntil('the LeaseLost event of the refused write', () =>
      events.some((e) => e.type === 'LeaseLost' && e.nodeId === 'blocked' && e.jobId === jobId),
    );
    await sleep(LEASE_MS / 2);
    expect(await client.getJobResult(jobId)).toEqual(result);
    const released = events.filter((e) => e.type === 'JobReleased' && e.jobId === jobId);
    expect(released).toHaveLength(1);
    expect(released[0]?.nodeId).toBe('rescuer');
  });
});
