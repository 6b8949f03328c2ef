/**
 * The holder's own renewal deadline, seen from a task and from the event stream (src/actors/job-host.ts
 * with the real lease keeper, on the memory store, in one process). A task whose event loop was
 * blocked past its deadline (a synchronous busy wait: no timer of the process can run, as in a
 * SIGSTOP) reads `ctx.signal.aborted` as true the moment it looks, before any keeper tick, and
 * `throwIfAborted()` throws; the loss is announced as a LeaseLost event with reason
 * store_unreachable (nobody else took the job: the holder's own deadline), its result is refused,
 * and the job's next attempt runs after the queue redelivers it.
 *
 * Lease 300 ms: deadline min(4D/3, 2D − D/6) = 400 ms after the last successful write.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, memoryStore, type JobContext, type Runtime, type RuntimeEventMap } from '../../src/index.js';

const LEASE_MS = 300;
const BLOCK_MS = 700;

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((rt) => rt.stop({ drain: false })));
});

function busyWait(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // blocking on purpose: the lease keeper's timer cannot run
  }
}

async function node(): Promise<{ rt: Runtime; lost: RuntimeEventMap['LeaseLost'][] }> {
  const rt = await createRuntime({ store: memoryStore(), nodeId: 'solo', leaseDuration: LEASE_MS, pollInterval: 100 });
  runtimes.push(rt);
  const lost: RuntimeEventMap['LeaseLost'][] = [];
  rt.on('LeaseLost', (event) => lost.push(event));
  return { rt, lost };
}

describe('the holder’s own renewal deadline', () => {
  it('a task that reads its signal after a blocked loop sees it aborted at once, and the loss is announced as LeaseLost', async () => {
    const { rt, lost } = await node();
    const seen: { attempt: number; abortedBefore: boolean; abortedAfter: boolean; threw: boolean; reason: string }[] = [];
    rt.task(
      'blocker',
      async (_args: null, ctx: JobContext) => {
        const { signal } = ctx;
        const abortedBefore = signal.aborted;
        if (ctx.attempt === 1) busyWait(BLOCK_MS);
        const abortedAfter = signal.aborted;
        let threw = false;
        try {
          signal.throwIfAborted();
        } catch {
          threw = true;
        }
        seen.push({ attempt: ctx.attempt, abortedBefore, abortedAfter, threw, reason: String((signal.reason as Error | undefined)?.message ?? '') });
        return ctx.attempt;
      },
      { retry: { attempts: 2, backoff: 10 } },
    );
    await rt.start();
    const result = await rt.runJob('blocker', null);

    expect(seen[0]).toMatchObject({ attempt: 1, abortedBefore: false, abortedAfter: true, threw: true });
    expect(seen[0]!.reason).toContain('aborted');
    // The first attempt's result was refused; the redelivered job ran again.
    expect(result).toBe(2);
    expect(seen[1]).toMatchObject({ attempt: 2, abortedAfter: false, threw: false });
    await expect.poll(() => lost.length).toBe(1);
    expect(lost[0]).toMatchObject({ type: 'LeaseLost', nodeId: 'solo', reason: 'store_unreachable' });
  });

  it('a task that never reads its signal: its late result is refused at commit and the loss is announced all the same', async () => {
    const { rt, lost } = await node();
    const runs: number[] = [];
    rt.task(
      'oblivious',
      (_args: null, ctx: JobContext) => {
        runs.push(ctx.attempt);
        if (ctx.attempt === 1) busyWait(BLOCK_MS);
        return ctx.attempt;
      },
      { retry: { attempts: 2, backoff: 10 } },
    );
    await rt.start();
    const id = await rt.addJob({ task: 'oblivious' });
    const result = await rt.getJobResult(id, { wait: true, timeout: 10_000 });
    expect(result).toMatchObject({ outcome: 'success', attempt: 2, returnValue: 2 });
    expect(runs).toEqual([1, 2]);
    await expect.poll(() => lost.length).toBe(1);
    expect(lost[0]).toMatchObject({ jobId: id, nodeId: 'solo', reason: 'store_unreachable' });
  });
});
