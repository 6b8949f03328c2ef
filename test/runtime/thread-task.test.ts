/**
 * inWorkerThread: CPU-heavy tasks run in a worker thread, so the main event loop keeps renewing
 * the job's lease (on the main thread a 3 s spin under a 1 s lease loses the lease: fencing tests).
 */
import { describe, expect, it } from 'vitest';
import { inWorkerThread, memoryStore, type RuntimeEvent } from '../../src/index.js';
import { useCluster } from './support/cluster.js';
import { waitUntil } from './support/wait.js';

const cluster = useCluster();
const cpuModule = new URL('../fixtures/cpu-task.ts', import.meta.url);

describe('tasks in worker threads', () => {
  it('a 3 s CPU-bound job under a 1 s lease succeeds on its first attempt and never loses its lease', async () => {
    const rt = await cluster.runtimeOn(memoryStore());
    const events: RuntimeEvent[] = [];
    rt.on('*', (e) => events.push(e));
    rt.task('spin', inWorkerThread(cpuModule, 'spin'));
    await rt.start();
    const id = await rt.addJob({ task: 'spin', args: { ms: 3_000 } });
    const result = await rt.getJobResult(id, { wait: true, timeout: '15s' });
    expect(result).toMatchObject({ outcome: 'success', attempt: 1, returnValue: 3_000 });
    expect(events.filter((e) => e.type === 'LeaseLost')).toEqual([]);
    expect(events.filter((e) => e.type === 'JobAcquired' && e.jobId === id)).toHaveLength(1);
  }, 20_000);

  it("a thread's error becomes the job's error", async () => {
    const rt = await cluster.runtimeOn(memoryStore());
    rt.task('explode', inWorkerThread(cpuModule, 'explode'));
    await rt.start();
    const id = await rt.addJob({ task: 'explode' });
    const result = await rt.getJobResult(id, { wait: true, timeout: '10s' });
    expect(result).toMatchObject({ outcome: 'error', error: { name: 'RangeError', message: 'exploded in a thread' } });
  }, 15_000);

  it('cancelling a running thread job terminates the thread and ends it cancelled', async () => {
    const rt = await cluster.runtimeOn(memoryStore());
    rt.task('spin', inWorkerThread(cpuModule, 'spin'));
    await rt.start();
    const id = await rt.addJob({ task: 'spin', args: { ms: 20_000 } });
    await waitUntil('the thread job running', () => rt.status.running === 1, { timeoutMs: 5_000 });
    const t0 = Date.now();
    expect(await rt.cancelJob(id)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await rt.getJobResult(id)).toMatchObject({ outcome: 'cancelled' });
  }, 20_000);
});
