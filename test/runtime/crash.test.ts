/**
 * G3 across a crash: a worker process killed with SIGKILL mid-job. Its running jobs come back once
 * their lease TTL and the queue's ack wait run out: retried on another node when the task allows
 * it, else ended `abandoned`. Nothing else in the queue is lost.
 */
import { describe, expect, it } from 'vitest';
import type { JobResult } from '../../src/index.js';
import { readSideChannel } from './support/child-node.js';
import { LEASE_MS, useCluster } from './support/cluster.js';
import { waitUntil } from './support/wait.js';

const cluster = useCluster();

describe('a worker killed with SIGKILL mid-job (G3)', () => {
  it('its running jobs are retried elsewhere (attempt 2) and every other job still ends exactly once', async () => {
    const prefix = cluster.newPrefix();
    const logFile = cluster.logFile('crash-retry.log');
    const tasks = [
      { name: 'hold', kind: 'hold' as const, options: { retry: { attempts: 2, backoff: 100 } } },
      { name: 'quick', kind: 'sleep' as const },
    ];
    const doomed = await cluster.spawn(prefix, { nodeId: 'doomed', role: 'worker', maxConcurrentJobs: 3, logFile, tasks });
    const client = await cluster.runtime(prefix);
    const held = await Promise.all([0, 1, 2].map(() => client.addJob({ task: 'hold', args: { quickFromAttempt: 2 } })));
    await waitUntil('the doomed node to run all three', () => readSideChannel(logFile).filter((l) => l.e === 'start' && l.node === 'doomed').length === 3);
    const survivor = await cluster.spawn(prefix, { nodeId: 'survivor', role: 'worker', maxConcurrentJobs: 5, logFile, tasks });
    const before = await Promise.all(Array.from({ length: 10 }, (_, i) => client.addJob({ task: 'quick', args: { ms: 50, value: i } })));

    const killedAt = Date.now();
    doomed.signal('SIGKILL');
    expect((await doomed.exited).signal).toBe('SIGKILL');
    const after = await Promise.all(Array.from({ length: 5 }, (_, i) => client.addJob({ task: 'quick', args: { ms: 50, value: 10 + i } })));

    const results = new Map<string, JobResult | null>();
    for (const id of [...held, ...before, ...after]) results.set(id, await client.getJobResult(id, { wait: true, timeout: 15_000 }));
    for (const id of held) {
      expect(results.get(id)).toMatchObject({ outcome: 'success', attempt: 2, nodeId: 'survivor', returnValue: 'from-survivor' });
      // Not before the dead node's lease could have expired.
      expect((results.get(id)?.finishedAt.getTime() ?? 0) - killedAt).toBeGreaterThan(LEASE_MS / 2);
    }
    for (const id of [...before, ...after]) expect(results.get(id)?.outcome).toBe('success');
    expect(survivor.nodeId).toBe('survivor');
    // Each quick job ran once, each held job twice (the crashed attempt and the retry).
    const starts = readSideChannel(logFile).filter((l) => l.e === 'start');
    for (const id of [...before, ...after]) expect(starts.filter((l) => l.job === id)).toHaveLength(1);
    for (const id of held) expect(starts.filter((l) => l.job === id).map((l) => `${l.node}#${l.attempt}`)).toEqual(['doomed#1', 'survivor#2']);
  });

  it('without retry the crashed job ends abandoned after the lease TTL, on the node that found it', async () => {
    const prefix = cluster.newPrefix();
    const logFile = cluster.logFile('crash-abandon.log');
    const tasks = [{ name: 'hold', kind: 'hold' as const }];
    const doomed = await cluster.spawn(prefix, { nodeId: 'doomed', role: 'worker', logFile, tasks });
    const client = await cluster.runtime(prefix);
    const jobId = await client.addJob({ task: 'hold' });
    await waitUntil('the doomed node to start the job', () => readSideChannel(logFile).some((l) => l.e === 'start' && l.node === 'doomed'));
    await cluster.spawn(prefix, { nodeId: 'survivor', role: 'worker', logFile, tasks });

    const killedAt = Date.now();
    doomed.signal('SIGKILL');
    const result = await client.getJobResult(jobId, { wait: true, timeout: 15_000 });
    expect(result).toMatchObject({ outcome: 'abandoned', attempt: 1, nodeId: 'survivor' });
    expect((result?.finishedAt.getTime() ?? 0) - killedAt).toBeGreaterThan(LEASE_MS / 2);
    // The survivor never ran it: abandoned means "started and lost", not "run again".
    expect(readSideChannel(logFile).filter((l) => l.job === jobId).map((l) => `${l.e}@${l.node}`)).toEqual(['start@doomed']);
  });
});
