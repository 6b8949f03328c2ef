/**
 * Failures you can read, on both stores: JobReleased carries the error, a failed attempt that is
 * retried emits JobRetryScheduled with its error and the next attempt's time, `ctx.log` lines and
 * `ctx.progress` values are kept with each attempt, and `rt.getJob` / `rt.listJobs` return every
 * attempt (node, times, outcome, error, logs). Progress is an event too, throttled per job, and is
 * written with the lease's renewals while the job runs.
 */
import { describe, expect, it } from 'vitest';
import { JobLookupError, PayloadTooLargeError, SerializationError, type JobContext, type RuntimeEvent, type RuntimeEventMap } from '../../src/index.js';
import { STORE_KINDS, useCluster } from './support/cluster.js';
import { sleep, waitUntil } from './support/wait.js';

const cluster = useCluster();

function record(rt: { on(type: '*', fn: (e: RuntimeEvent) => void): () => void }): RuntimeEvent[] {
  const events: RuntimeEvent[] = [];
  rt.on('*', (e) => events.push(e));
  return events;
}
const ofType = <T extends keyof RuntimeEventMap>(events: RuntimeEvent[], type: T, jobId: string): RuntimeEventMap[T][] =>
  events.filter((e): e is RuntimeEventMap[T] => e.type === type && (e as { jobId?: string }).jobId === jobId);

describe.each(STORE_KINDS)('job history on the %s store', (kind) => {
  it('every attempt is kept with its node, times, outcome, error, log lines and progress; retries and the final failure are events with the error', async () => {
    const rt = await cluster.runtimeOn(cluster.freshStore(kind));
    const events = record(rt);
    rt.task(
      'flaky',
      (args: { failUntil: number }, ctx: JobContext) => {
        ctx.log('attempt %d of %s', ctx.attempt, ctx.task);
        ctx.progress({ attempt: ctx.attempt });
        if (ctx.attempt < args.failUntil) throw new RangeError(`upstream hiccup #${ctx.attempt}`);
        ctx.log('done');
        return `ok on ${ctx.attempt}`;
      },
      { retry: { attempts: 3, backoff: '50ms' } },
    );
    await rt.start();
    const before = Date.now();
    await expect(rt.runJob('flaky', { failUntil: 3 })).resolves.toBe('ok on 3');
    const failing = await rt.addJob({ task: 'flaky', args: { failUntil: 9 } });
    expect(await rt.getJobResult(failing, { wait: true, timeout: '10s' })).toMatchObject({ outcome: 'error', attempt: 3 });

    const [succeeded] = (await rt.listJobs({ state: 'success' })).jobs;
    expect(succeeded?.attempts.map((a) => [a.attempt, a.outcome, a.nodeId])).toEqual([
      [1, 'error', rt.nodeId],
      [2, 'error', rt.nodeId],
      [3, 'success', rt.nodeId],
    ]);
    const [first, second, third] = succeeded!.attempts;
    expect(first).toMatchObject({ error: { name: 'RangeError', message: 'upstream hiccup #1' }, progress: { attempt: 1 } });
    expect(first?.error?.stack).toMatch(/RangeError: upstream hiccup #1\n\s+at .*job-history\.test\.ts/);
    // The frames below the task (the job host, XState's action runner) are cut: they say nothing about the task.
    expect(first?.error?.stack).not.toMatch(/job-host|xstate/);
    expect(succeeded?.attempts.every((a) => !/job-host|xstate/.test(a.error?.stack ?? ''))).toBe(true);
    // Log lines are kept on the latest earlier attempt and the final one (bounded history); older ones count theirs.
    expect(first).toMatchObject({ logs: [], logsDropped: 1 });
    expect(first!.startedAt!.getTime()).toBeGreaterThanOrEqual(before - 5);
    expect(first!.endedAt!.getTime()).toBeGreaterThanOrEqual(first!.startedAt!.getTime());
    expect(first!.nextAttemptAt!.getTime()).toBeGreaterThanOrEqual(first!.endedAt!.getTime() + 45);
    expect(second!.startedAt!.getTime()).toBeGreaterThanOrEqual(first!.nextAttemptAt!.getTime() - 5);
    expect(second?.logs.map((l) => l.message)).toEqual(['attempt 2 of flaky']);
    expect(third).toMatchObject({ outcome: 'success', progress: { attempt: 3 } });
    expect(third?.logs.map((l) => l.message)).toEqual(['attempt 3 of flaky', 'done']);
    expect(succeeded?.progress).toEqual({ attempt: 3 });

    const shown = await rt.getJob(failing);
    expect(shown).toMatchObject({ id: failing, task: 'flaky', state: 'done', args: undefined, result: { outcome: 'error' } });
    expect(shown.attempts.map((a) => [a.outcome, a.error?.message])).toEqual([
      ['error', 'upstream hiccup #1'],
      ['error', 'upstream hiccup #2'],
      ['error', 'upstream hiccup #3'],
    ]);

    await waitUntil('the final JobReleased', () => ofType(events, 'JobReleased', failing).length > 0);
    const retries = ofType(events, 'JobRetryScheduled', failing);
    expect(retries.map((e) => [e.attempt, e.nextAttempt, e.outcome, e.error?.name, e.error?.message])).toEqual([
      [1, 2, 'error', 'RangeError', 'upstream hiccup #1'],
      [2, 3, 'error', 'RangeError', 'upstream hiccup #2'],
    ]);
    expect(retries[0]!.nextAttemptAt.getTime()).toBeGreaterThan(retries[0]!.timestamp.getTime());
    expect(ofType(events, 'JobReleased', failing)).toMatchObject([{ outcome: 'error', attempt: 3, error: { name: 'RangeError', message: 'upstream hiccup #3' } }]);
    expect((ofType(events, 'JobReleased', failing)[0]?.error as { stack?: string } | undefined)?.stack).toBeUndefined();
  });

  it('a timeout is released with a TimeoutError, and a retried one is announced as a timeout', async () => {
    const rt = await cluster.runtimeOn(cluster.freshStore(kind));
    const events = record(rt);
    rt.task('stuck', (_: null, ctx: JobContext) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))), {
      timeout: '100ms',
      retry: { attempts: 2, backoff: '10ms' },
    });
    await rt.start();
    const id = await rt.addJob({ task: 'stuck', args: null });
    expect(await rt.getJobResult(id, { wait: true, timeout: '10s' })).toMatchObject({
      outcome: 'timeout',
      attempt: 2,
      error: { name: 'TimeoutError', message: expect.stringMatching(/timeout of 100 ms/) },
    });
    await waitUntil('JobReleased', () => ofType(events, 'JobReleased', id).length > 0);
    expect(ofType(events, 'JobRetryScheduled', id)).toMatchObject([{ attempt: 1, nextAttempt: 2, outcome: 'timeout', error: { name: 'TimeoutError' } }]);
    expect(ofType(events, 'JobReleased', id)).toMatchObject([{ outcome: 'timeout', error: { name: 'TimeoutError', message: expect.stringMatching(/timeout of 100 ms/) } }]);
    expect((await rt.getJob(id)).attempts.map((a) => [a.outcome, a.error?.name])).toEqual([
      ['timeout', 'TimeoutError'],
      ['timeout', 'TimeoutError'], // the final attempt is the result, which says what timed out
    ]);
  });

  it('progress: an event at most every 250 ms per job with the latest value last, written with the renewals while the job runs', async () => {
    const rt = await cluster.runtimeOn(cluster.freshStore(kind));
    const events = record(rt);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    rt.task('progressing', async (_: null, ctx: JobContext) => {
      for (let i = 1; i <= 200; i++) ctx.progress({ done: i, of: 200 }); // a tight loop: one event, then the latest
      await released;
      return 'finished';
    });
    await rt.start();
    const id = await rt.addJob({ task: 'progressing', args: null });
    // Written with a renewal (every third of the 1 s lease), without a write per call.
    const running = await waitUntil('progress on the running job', async () => {
      const job = await rt.getJob(id);
      return job.state === 'running' && job.progress !== undefined ? job : null;
    });
    expect(running.progress).toEqual({ done: 200, of: 200 });
    expect(running.attempts).toMatchObject([{ attempt: 1, outcome: 'running', nodeId: rt.nodeId, progress: { done: 200, of: 200 } }]);
    await waitUntil('the latest progress event', () => ofType(events, 'JobProgress', id).some((e) => (e.progress as { done: number }).done === 200));
    const progress = ofType(events, 'JobProgress', id);
    expect(progress.length).toBeLessThanOrEqual(3);
    expect(progress[0]).toMatchObject({ task: 'progressing', attempt: 1, progress: { done: 1, of: 200 } });
    release();
    expect(await rt.getJobResult(id, { wait: true, timeout: '5s' })).toMatchObject({ outcome: 'success' });
    expect((await rt.getJob(id)).progress).toEqual({ done: 200, of: 200 });
  });

  it('progress that is not plain data or over 1 KB is refused in the task; the job goes on', async () => {
    const rt = await cluster.runtimeOn(cluster.freshStore(kind));
    rt.task('picky', (_: null, ctx: JobContext) => {
      const errors: string[] = [];
      for (const value of [new Map(), () => 1, 'x'.repeat(2000)]) {
        try {
          ctx.progress(value);
        } catch (error) {
          errors.push(error instanceof SerializationError ? 'SerializationError' : error instanceof PayloadTooLargeError ? 'PayloadTooLargeError' : String(error));
        }
      }
      return errors;
    });
    await rt.start();
    await expect(rt.runJob('picky', null)).resolves.toEqual(['SerializationError', 'SerializationError', 'PayloadTooLargeError']);
  });

  it('getJob: a queued job (no worker for its task yet) with its args and no attempts; JobLookupError for an unknown id', async () => {
    const rt = await cluster.runtimeOn(cluster.freshStore(kind));
    const id = await rt.addJob({ task: 'nobody-runs-this', args: { n: 1 } });
    await sleep(20);
    expect(await rt.getJob(id)).toMatchObject({ id, task: 'nobody-runs-this', state: 'queued', attempt: 1, args: { n: 1 }, attempts: [] });
    await expect(rt.getJob('never-added')).rejects.toBeInstanceOf(JobLookupError);
  });
});
