/**
 * Priorities: workers take high before normal before low, and the lower levels still progress while
 * the higher ones are busy (every 8th fetch starts from the lowest). On both stores.
 */
import { describe, expect, it } from 'vitest';
import type { JobContext } from '../../src/index.js';
import { STORE_KINDS, useCluster } from './support/cluster.js';
import { sleep, waitUntil } from './support/wait.js';

const cluster = useCluster();

describe.each(STORE_KINDS)('priorities on the %s store', (kind) => {
  it('a high-priority job added behind a backlog of low-priority ones starts next, not after the backlog', async () => {
    const store = cluster.freshStore(kind);
    const rt = await cluster.runtimeOn(store, { maxConcurrentJobs: 4 });
    const started: { id: string; at: number }[] = [];
    rt.task('work', async (_: unknown, ctx: JobContext) => {
      started.push({ id: ctx.jobId, at: Date.now() });
      await sleep(20);
    });
    const low = await rt.addJobs(Array.from({ length: 400 }, () => ({ task: 'work', priority: -1 })));
    await rt.start();
    await waitUntil('the backlog to be running', () => started.length >= 8);
    const addedAt = Date.now();
    const high = await rt.addJob({ task: 'work', priority: 5 });
    await waitUntil('the high-priority job to start', () => started.find((s) => s.id === high), { timeoutMs: 5_000 });
    const startedHigh = started.find((s) => s.id === high)!;
    // 400 jobs of 20 ms on 4 slots take 2 s: the high one must not wait for them.
    expect(startedHigh.at - addedAt).toBeLessThan(500);
    const lowBefore = started.filter((s) => s.at <= startedHigh.at && low.includes(s.id)).length;
    expect(lowBefore).toBeLessThan(low.length / 2);
  });

  it('low priority still progresses while high-priority work keeps every slot busy', async () => {
    const store = cluster.freshStore(kind);
    const rt = await cluster.runtimeOn(store, { maxConcurrentJobs: 2 });
    const order: string[] = [];
    rt.task('work', async (level: string) => {
      order.push(level);
      await sleep(5);
    });
    await rt.addJobs(Array.from({ length: 20 }, () => ({ task: 'work', args: 'low', priority: -1 })));
    await rt.addJobs(Array.from({ length: 300 }, () => ({ task: 'work', args: 'high', priority: 1 })));
    await rt.start();
    await waitUntil('every job to run', () => order.length === 320, { timeoutMs: 20_000 });
    const lastHigh = order.lastIndexOf('high');
    const lowsBeforeLastHigh = order.slice(0, lastHigh).filter((l) => l === 'low').length;
    // Not starved: some low jobs ran while high ones were still queued…
    expect(lowsBeforeLastHigh).toBeGreaterThan(0);
    // …but high ones went first overall.
    expect(order.slice(0, 40).filter((l) => l === 'high').length).toBeGreaterThan(25);
  });
});
