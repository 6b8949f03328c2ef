/**
 * The job half of the public API, on both stores: runJob, getJobResult, retries, timeouts,
 * cancellation, the cluster-wide maxRunning cap and live capacity changes.
 */
import { describe, expect, it } from 'vitest';
import { JobFailedError, JobLookupError, type JobContext } from '../../src/index.js';
import { STORE_KINDS, useCluster } from './support/cluster.js';
import { aborted, ConcurrencyProbe, sleep, waitUntil } from './support/wait.js';

const cluster = useCluster();

describe.each(STORE_KINDS)('jobs API on the %s store', (kind) => {
  it('runJob returns the value, or throws JobFailedError carrying the remote error', async () => {
    const rt = await cluster.runtimeOn(cluster.freshStore(kind));
    rt.task('add', ({ a, b }: { a: number; b: number }) => a + b);
    rt.task('fail', async (reason: string) => {
      await sleep(5);
      throw new RangeError(`bad input: ${reason}`);
    });
    await rt.start();
    await expect(rt.runJob('add', { a: 2, b: 40 })).resolves.toBe(42);
    const error = await rt.runJob('fail', 'negative').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobFailedError);
    expect(error).toMatchObject({ outcome: 'error', remoteName: 'RangeError' });
    expect((error as Error).message).toMatch(/bad input: negative/);
    expect((error as Error).stack).toMatch(/remote stack/);
  });

  it('getJobResult: null while running, the result with wait, null after a wait timeout, JobLookupError for unknown ids', async () => {
    const rt = await cluster.runtimeOn(cluster.freshStore(kind));
    rt.task('slow', async (ms: number) => {
      await sleep(ms);
      return ms;
    });
    await rt.start();
    const id = await rt.addJob({ task: 'slow', args: 600 });
    expect(await rt.getJobResult(id)).toBeNull();
    const before = Date.now();
    expect(await rt.getJobResult(id, { wait: true, timeout: 150 })).toBeNull();
    expect(Date.now() - before).toBeGreaterThanOrEqual(140);
    const result = await rt.getJobResult(id, { wait: true, timeout: '5s' });
    expect(result).toMatchObject({ jobId: id, outcome: 'success', returnValue: 600, attempt: 1, nodeId: rt.nodeId });
    expect(result?.finishedAt).toBeInstanceOf(Date);
    expect(result?.startedAt?.getTime()).toBeLessThanOrEqual(result?.finishedAt.getTime() ?? 0);
    // Once there, it is returned with or without wait.
    expect(await rt.getJobResult(id)).toEqual(result);
    await expect(rt.getJobResult('never-added')).rejects.toBeInstanceOf(JobLookupError);
    await expect(rt.getJobResult('never-added', { wait: true, timeout: 100 })).rejects.toBeInstanceOf(JobLookupError);
  });

  it('a retry starts when its backoff ends, not at the next poll (the node wakes itself)', async () => {
    // A poll far longer than the whole test: only the wake-up after the backoff can start attempts 2 and 3.
    const rt = await cluster.runtimeOn(cluster.freshStore(kind), { pollInterval: '30s' });
    const starts: number[] = [];
    rt.task(
      'flaky',
      (_args: null, ctx: JobContext) => {
        starts.push(Date.now());
        if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} failed`);
        return ctx.attempt;
      },
      { retry: { attempts: 3, backoff: '100ms' } },
    );
    await rt.start();
    const t0 = Date.now();
    await expect(rt.runJob('flaky', null)).resolves.toBe(3);
    expect(starts).toHaveLength(3);
    // Each retry waits its backoff, and starts well before a poll could have picked it up.
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(95);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(95);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('retries with exponential backoff: attempt numbers count up, the waits grow, the last attempt decides', async () => {
    const rt = await cluster.runtimeOn(cluster.freshStore(kind));
    const runs: { attempt: number; start: number; end: number }[] = [];
    rt.task(
      'flaky',
      async (succeedOn: number, ctx: JobContext) => {
        const start = Date.now();
        await sleep(5);
        runs.push({ attempt: ctx.attempt, start, end: Date.now() });
        if (ctx.attempt < succeedOn) throw new Error(`attempt ${ctx.attempt} failed`);
        return `ok on ${ctx.attempt}`;
      },
      { retry: { attempts: 3, backoff: { initial: 100, factor: 2 } } },
    );
    await rt.start();
    const ok = await rt.addJob({ task: 'flaky', args: 3 });
    expect(await rt.getJobResult(ok, { wait: true, timeout: 5_000 })).toMatchObject({ outcome: 'success', attempt: 3, returnValue: 'ok on 3' });
    expect(runs.map((r) => r.attempt)).toEqual([1, 2, 3]);
    const [first, second, third] = runs as [(typeof runs)[0], (typeof runs)[0], (typeof runs)[0]];
    expect(second.start - first.end).toBeGreaterThanOrEqual(95); // initial
    expect(third.start - second.end).toBeGreaterThanOrEqual(195); // initial · factor
    runs.length = 0;
    const hopeless = await rt.addJob({ task: 'flaky', args: 99 });
    const result = await rt.getJobResult(hopeless, { wait: true, timeout: 5_000 });
    expect(result).toMatchObject({ outcome: 'error', attempt: 3, error: { message: 'attempt 3 failed' } });
    expect(runs.map((r) => r.attempt)).toEqual([1, 2, 3]);
  });

  it('a task timeout ends the job `timeout` and aborts the task signal', async () => {
    const rt = await cluster.runtimeOn(cluster.freshStore(kind));
    const seen: boolean[] = [];
    rt.task(
      'stuck',
      async (_: unknown, { signal }: JobContext) => {
        seen.push(await aborted(signal, 5_000));
        return 'too late';
      },
      { timeout: 200 },
    );
    await rt.start();
    const started = Date.now();
    const id = await rt.addJob({ task: 'stuck' });
    const result = await rt.getJobResult(id, { wait: true, timeout: 5_000 });
    expect(result).toMatchObject({ outcome: 'timeout', attempt: 1 });
    expect(result).not.toHaveProperty('returnValue');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    await waitUntil('the task to see its signal', () => seen.length === 1);
    expect(seen).toEqual([true]);
  });

  it('cancelJob: a queued job ends cancelled without running; a running one (cancelled from another node) has its signal aborted', async () => {
    const store = cluster.freshStore(kind);
    const worker = await cluster.runtimeOn(store);
    const calls: string[] = [];
    const signals: boolean[] = [];
    worker.task('wait', async (_: unknown, { jobId, signal }: JobContext) => {
      calls.push(jobId);
      signals.push(await aborted(signal, 10_000));
      return 'finished anyway';
    });
    const client = await cluster.runtimeOn(store);
    client.task('wait', () => undefined); // known here; the client never starts

    // Queued: the worker is not started yet.
    const queued = await worker.addJob({ task: 'wait' });
    expect(await client.cancelJob(queued)).toBe(true);
    expect(await client.getJobResult(queued)).toMatchObject({ outcome: 'cancelled' });
    await worker.start();

    const running = await client.addJob({ task: 'wait' });
    await waitUntil('the job to start', () => calls.includes(running));
    expect(await client.cancelJob(running)).toBe(true);
    expect(await client.getJobResult(running, { wait: true, timeout: 5_000 })).toMatchObject({ outcome: 'cancelled', nodeId: worker.nodeId });
    await waitUntil('the task to see its signal', () => signals.length === 1);
    expect(signals).toEqual([true]);
    await sleep(300); // the queued one must never have run, even after the worker started
    expect(calls).toEqual([running]);
    expect(await client.cancelJob(running)).toBe(false); // already ended
    await expect(client.cancelJob('never-added')).rejects.toBeInstanceOf(JobLookupError);
  });

  it('maxRunning caps a task cluster-wide: two nodes with room for 5 each never run more than 2 at once', async () => {
    const store = cluster.freshStore(kind);
    const probe = new ConcurrencyProbe();
    const nodes = await Promise.all([0, 1].map(() => cluster.runtimeOn(store, { maxConcurrentJobs: 5 })));
    for (const rt of nodes) {
      rt.task(
        'capped',
        async () => {
          probe.enter();
          await sleep(150);
          probe.leave();
          return rt.nodeId;
        },
        { maxRunning: 2 },
      );
      await rt.start();
    }
    const ids = await Promise.all(Array.from({ length: 8 }, () => nodes[0]!.addJob({ task: 'capped' })));
    const results = await Promise.all(ids.map((id) => nodes[1]!.getJobResult(id, { wait: true, timeout: 15_000 })));
    expect(results.every((r) => r?.outcome === 'success')).toBe(true);
    expect(probe.max).toBe(2);
  });

  it('setMaxConcurrentJobs changes capacity live, up and down, without stopping running jobs', async () => {
    const rt = await cluster.runtimeOn(cluster.freshStore(kind), { maxConcurrentJobs: 1 });
    const probe = new ConcurrencyProbe();
    let completed = 0;
    rt.task('unit', async () => {
      probe.enter();
      await sleep(250);
      probe.leave();
      completed++;
    });
    await rt.start();
    const ids = await Promise.all(Array.from({ length: 12 }, () => rt.addJob({ task: 'unit' })));
    await sleep(400);
    expect(probe.max).toBe(1);
    rt.setMaxConcurrentJobs(3);
    expect(rt.status.capacity).toBe(3);
    await waitUntil('three at once', () => probe.current === 3, { timeoutMs: 3_000, intervalMs: 10 });
    const loweredAt = Date.now();
    rt.setMaxConcurrentJobs(1);
    const runningWhenLowered = probe.current;
    expect(runningWhenLowered).toBe(3); // nothing running was stopped by the change…
    await Promise.all(ids.map((id) => rt.getJobResult(id, { wait: true, timeout: 15_000 })));
    expect(completed).toBe(12);
    // …and once those three had finished, one at a time again.
    expect(probe.maxSince(loweredAt + 400)).toBe(1);
  });
});
