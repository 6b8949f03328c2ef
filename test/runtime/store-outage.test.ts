/**
 * Outages shorter than the lease cost no running job an attempt: a nats-server stopped for 2 s
 * under a 3 s lease (the holder's deadline is 4 s after its last successful renewal). Jobs running
 * across the outage keep their lease — the renewals that fail are retried until the deadline and
 * the first one after the restart lands — and a job that finishes while the server is down has
 * its result written once the server is back. Each job runs once, as attempt 1.
 */
import { describe, expect, it } from 'vitest';
import type { JobContext, JobResult, Runtime, RuntimeEvent } from '../../src/index.js';
import { useCluster } from './support/cluster.js';
import { aborted, sleep, waitUntil } from './support/wait.js';

const cluster = useCluster();

const LEASE_MS = 3_000;
const OUTAGE_MS = 2_000;

interface Run {
  jobId: string;
  node: string;
  attempt: number;
  startedAt: number;
  endedAt?: number;
  aborted?: boolean;
}

describe('a store outage shorter than the lease (nats-server stopped 2 s, lease 3 s)', () => {
  it('costs no running job an attempt: long jobs keep their lease, a result finished during the outage is written after it', async () => {
    const prefix = cluster.newPrefix();
    const runs: Run[] = [];
    const events: RuntimeEvent[] = [];
    const nodes: Runtime[] = [];
    for (const nodeId of ['w1', 'w2']) {
      const rt = await cluster.runtime(prefix, { nodeId, leaseDuration: LEASE_MS, maxConcurrentJobs: 20 });
      // Sleeps args.ms, or until its signal aborts (then the run is recorded as aborted).
      rt.task('work', async (args: { ms: number }, ctx: JobContext) => {
        const run: Run = { jobId: ctx.jobId, node: nodeId, attempt: ctx.attempt, startedAt: Date.now() };
        runs.push(run);
        const wasAborted = await Promise.race([sleep(args.ms).then(() => false), aborted(ctx.signal, args.ms + 1_000)]);
        run.endedAt = Date.now();
        run.aborted = wasAborted;
        return ctx.attempt;
      }, { retry: { attempts: 3, backoff: 100 } });
      await rt.start();
      nodes.push(rt);
    }
    const client = nodes[0]!;
    client.on('*', (event) => events.push(event));

    // Long jobs that span the whole outage, and short ones that finish while the server is down.
    const long = await Promise.all(Array.from({ length: 10 }, () => client.addJob({ task: 'work', args: { ms: OUTAGE_MS + 3_000 } })));
    const short = await Promise.all(Array.from({ length: 10 }, () => client.addJob({ task: 'work', args: { ms: 1_200 } })));
    const all = [...long, ...short];
    await waitUntil('every job to run', () => new Set(runs.map((r) => r.jobId)).size === all.length, { timeoutMs: 10_000 });
    // Let a renewal round pass so the outage starts mid-lease, not right at acquisition.
    await sleep(400);

    const stoppedAt = Date.now();
    await cluster.server.stop();
    await sleep(OUTAGE_MS);
    await cluster.server.restart();
    const restartedAt = Date.now();

    const results = await Promise.all(all.map((id) => client.getJobResult(id, { wait: true, timeout: 20_000 })));
    const byId = new Map(all.map((id, i) => [id, results[i] as JobResult | null]));
    const summary = { stoppedForMs: restartedAt - stoppedAt, runs: runs.length, lost: events.filter((e) => e.type === 'LeaseLost').length };
    console.log('[store-outage]', JSON.stringify(summary));

    for (const id of all) {
      expect(byId.get(id), `job ${id}`).toMatchObject({ outcome: 'success', attempt: 1, returnValue: 1 });
      const ofJob = runs.filter((r) => r.jobId === id);
      expect(ofJob.map((r) => [r.attempt, r.aborted]), `runs of job ${id}`).toEqual([[1, false]]);
    }
    // The short jobs finished while the server was down; their results were written after it.
    for (const id of short) {
      const run = runs.find((r) => r.jobId === id)!;
      expect(run.endedAt!).toBeLessThan(restartedAt);
      expect(byId.get(id)!.finishedAt.getTime()).toBeGreaterThanOrEqual(run.endedAt! - 50);
    }
    // Some long jobs were running the whole time, as planned.
    expect(long.every((id) => runs.find((r) => r.jobId === id)!.startedAt < stoppedAt)).toBe(true);
    expect(events.filter((e) => e.type === 'LeaseLost')).toEqual([]);
  }, 60_000);
});
