/**
 * G3 across a nats-server restart: jobs queued and running while the server goes away and comes
 * back all end with exactly one result, and callers already waiting for results keep waiting
 * through the outage instead of failing with the store's transient errors.
 */
import { describe, expect, it } from 'vitest';
import type { JobContext } from '../../src/index.js';
import { useCluster } from './support/cluster.js';
import { sleep, waitUntil } from './support/wait.js';

const cluster = useCluster();

describe('a nats-server restart under load (G3)', () => {
  it('every job ends with exactly one result, and waits begun before the restart resolve', async () => {
    const prefix = cluster.newPrefix();
    const nodes = await Promise.all([0, 1].map(() => cluster.runtime(prefix, { maxConcurrentJobs: 5 })));
    const runs = new Map<string, number[]>();
    for (const rt of nodes) {
      rt.task(
        'work',
        async (n: number, ctx: JobContext) => {
          runs.set(ctx.jobId, [...(runs.get(ctx.jobId) ?? []), ctx.attempt]);
          await sleep(300);
          return n;
        },
        { retry: { attempts: 3, backoff: 100 } },
      );
      await rt.start();
    }
    const ids = await Promise.all(Array.from({ length: 40 }, (_, n) => nodes[0]!.addJob({ task: 'work', args: n })));
    const waits = ids.map((id) => nodes[1]!.getJobResult(id, { wait: true, timeout: 30_000 }).then((r) => r, (e: unknown) => e));
    await waitUntil('some jobs to run', () => runs.size >= 5);

    await cluster.server.restart();
    // Asked while JetStream is still recovering: the first lookups may time out, a wait must not.
    const lateWaits = ids.map((id) => nodes[0]!.getJobResult(id, { wait: true, timeout: 30_000 }).then((r) => r, (e: unknown) => e));
    const results = await Promise.all(waits);
    expect(await Promise.all(lateWaits)).toEqual(results);
    expect(results.filter((r) => r instanceof Error)).toEqual([]);
    expect(results.map((r) => (r as { outcome?: string } | null)?.outcome)).toEqual(ids.map(() => 'success'));
    expect(results.map((r) => (r as { returnValue?: unknown }).returnValue)).toEqual(ids.map((_, n) => n));
    // Every job ran; a run cut off by the restart counts as a failed attempt and was retried.
    for (const id of ids) expect(runs.get(id)?.length).toBeGreaterThanOrEqual(1);
    const { jobs } = await nodes[0]!.listJobs({ state: 'done', limit: 100_000 });
    expect(jobs.filter((j) => ids.includes(j.id))).toHaveLength(ids.length);
    // The nodes are back to normal.
    await expect(nodes[0]!.runJob('work', 99)).resolves.toBe(99);
  }, 60_000);
});
