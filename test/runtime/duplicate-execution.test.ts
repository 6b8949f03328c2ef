/**
 * Founding failure 1, end to end: a job that runs far longer than the lease must run exactly once,
 * however many worker processes compete for it (APScheduler 4.0.0a4 ran it again after 30 s).
 */
import { describe, expect, it } from 'vitest';
import type { RuntimeEvent } from '../../src/index.js';
import { readSideChannel } from './support/child-node.js';
import { LEASE_MS, useCluster } from './support/cluster.js';
import { waitUntil } from './support/wait.js';

const cluster = useCluster();

describe('founding failure 1: duplicate execution of long jobs', () => {
  it('a 6 s job on 3 worker processes with a 1 s lease runs exactly once and ends in one success', async () => {
    const prefix = cluster.newPrefix();
    const logFile = cluster.logFile('dup.log');
    const nodes = await Promise.all(
      ['w1', 'w2', 'w3'].map((nodeId) => cluster.spawn(prefix, { nodeId, role: 'worker', logFile, tasks: [{ name: 'long', kind: 'sleep' }] })),
    );
    expect(nodes).toHaveLength(3);
    // An admin client: never started, so it runs nothing itself.
    const client = await cluster.runtime(prefix);
    const events: RuntimeEvent[] = [];
    client.on('*', (event) => events.push(event));

    const jobId = await client.addJob({ task: 'long', args: { ms: 6 * LEASE_MS, value: 'done' } });
    const result = await client.getJobResult(jobId, { wait: true, timeout: 20_000 });

    expect(result?.outcome).toBe('success');
    expect(result?.attempt).toBe(1);
    const lines = readSideChannel(logFile).filter((l) => l.job === jobId);
    expect(lines.filter((l) => l.e === 'start')).toHaveLength(1);
    expect(lines.filter((l) => l.e === 'end')).toHaveLength(1);
    expect(lines.filter((l) => l.e === 'aborted')).toHaveLength(0);
    // The run really outlived the lease several times over.
    const start = lines.find((l) => l.e === 'start')?.t ?? 0;
    const end = lines.find((l) => l.e === 'end')?.t ?? 0;
    expect(end - start).toBeGreaterThanOrEqual(6 * LEASE_MS - 50);
    expect(result?.nodeId).toBe(lines[0]?.node);
    expect(result?.returnValue).toEqual({ node: lines[0]?.node, value: 'done' });
    // Seen cluster-wide: one acquisition, one release, no lease ever lost. (The result can be
    // read before the JobReleased event, published after the lease release, arrives.)
    await waitUntil('the JobReleased event', () => events.some((e) => e.type === 'JobReleased' && e.jobId === jobId));
    const forJob = events.filter((e) => 'jobId' in e && e.jobId === jobId);
    expect(forJob.filter((e) => e.type === 'JobAcquired')).toHaveLength(1);
    expect(forJob.filter((e) => e.type === 'JobReleased')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'LeaseLost')).toHaveLength(0);
  });
});
