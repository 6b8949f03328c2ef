/**
 * Events and node lifecycle on both stores: events are typed and cluster-wide (a second runtime on
 * the same store sees the first one's), `stop({ drain: true })` finishes running jobs, and
 * `stop({ drain: false })` hands them back to another node.
 */
import { describe, expect, it } from 'vitest';
import { RuntimeStoppedError, type JobContext, type RuntimeEvent, type RuntimeEventMap } from '../../src/index.js';
import { STORE_KINDS, useCluster } from './support/cluster.js';
import { aborted, sleep, waitUntil } from './support/wait.js';

const cluster = useCluster();

describe.each(STORE_KINDS)('events and lifecycle on the %s store', (kind) => {
  it("events are typed and cluster-wide: a second runtime sees the first one's task, node and job events", async () => {
    const store = cluster.freshStore(kind);
    const observer = await cluster.runtimeOn(store);
    const seen: RuntimeEvent[] = [];
    const iterated: RuntimeEvent[] = [];
    const released: RuntimeEventMap['JobReleased'][] = [];
    observer.on('*', (event) => seen.push(event));
    observer.on('JobReleased', (event) => released.push(event));
    const loop = (async () => {
      for await (const event of observer.events()) {
        iterated.push(event);
        if (event.type === 'NodeStopped') break;
      }
    })();
    await sleep(50); // let the subscriptions settle (core NATS)

    const node = await cluster.runtimeOn(store);
    node.task('double', (n: number) => n * 2);
    await node.start();
    const jobId = await observer.addJob({ task: 'double', args: 21 });
    expect(await observer.getJobResult(jobId, { wait: true, timeout: 5_000 })).toMatchObject({ returnValue: 42, nodeId: node.nodeId });
    await waitUntil('the JobReleased event', () => released.length === 1);
    await node.stop();
    await loop;

    const fromNode = (type: RuntimeEvent['type']): RuntimeEvent[] => seen.filter((e) => e.type === type && e.nodeId === node.nodeId);
    expect(fromNode('TaskAdded')).toMatchObject([{ task: 'double' }]);
    expect(fromNode('NodeStarted')).toMatchObject([{ role: 'both' }]);
    expect(fromNode('JobAcquired')).toMatchObject([{ jobId, task: 'double', attempt: 1 }]);
    expect(fromNode('JobReleased')).toMatchObject([{ jobId, task: 'double', outcome: 'success', attempt: 1 }]);
    expect(fromNode('NodeStopped')).toHaveLength(1);
    expect(seen.filter((e) => e.type === 'JobAdded' && e.nodeId === observer.nodeId)).toMatchObject([{ jobId, task: 'double' }]);
    expect(released[0]?.outcome).toBe('success'); // typed: RuntimeEventMap['JobReleased']
    for (const event of seen) {
      expect(event.timestamp).toBeInstanceOf(Date);
      expect(typeof event.nodeId).toBe('string');
    }
    // The iterator saw the job's life in order, ending with the node's stop. Events of one node
    // arrive in the order it published them; across nodes there is no order (the observer's
    // JobAdded is published once the queue confirmed the job, by which time the worker may have
    // taken it already).
    const order = iterated.filter((e) => (('jobId' in e && e.jobId === jobId) || e.type === 'NodeStopped') && e.nodeId === node.nodeId).map((e) => e.type);
    expect(order).toEqual(['JobAcquired', 'JobReleased', 'NodeStopped']);
    expect(iterated.filter((e) => e.type === 'JobAdded' && e.jobId === jobId && e.nodeId === observer.nodeId)).toHaveLength(1);
  });

  it('stop({ drain: true }) lets running jobs finish before it resolves', async () => {
    const store = cluster.freshStore(kind);
    const rt = await cluster.runtimeOn(store);
    const reader = await cluster.runtimeOn(store); // reads the result once rt is gone
    const signals: boolean[] = [];
    rt.task('steady', async (_: unknown, { signal }: JobContext) => {
      await sleep(500);
      signals.push(signal.aborted);
      return 'finished';
    });
    await rt.start();
    const id = await rt.addJob({ task: 'steady' });
    await waitUntil('the job to run', () => rt.status.running === 1);
    const stoppedAt = Date.now();
    await rt.stop({ drain: true });
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(300);
    expect(signals).toEqual([false]);
    expect(rt.status.lifecycle).toBe('stopped');
    expect(await reader.getJobResult(id)).toMatchObject({ outcome: 'success', returnValue: 'finished', nodeId: rt.nodeId });
    await expect(rt.getJobResult(id)).rejects.toBeInstanceOf(RuntimeStoppedError);
  });

  it('stop({ drain: false }) aborts running jobs and hands them back: another node runs the same attempt', async () => {
    const store = cluster.freshStore(kind);
    const leaving = await cluster.runtimeOn(store);
    const abortedOnLeaving: boolean[] = [];
    leaving.task('handover', async (_: unknown, { signal }: JobContext) => {
      abortedOnLeaving.push(await aborted(signal, 10_000));
      return 'from leaving';
    });
    await leaving.start();
    const id = await leaving.addJob({ task: 'handover' });
    await waitUntil('the job to run on the leaving node', () => leaving.status.running === 1);
    const staying = await cluster.runtimeOn(store);
    staying.task('handover', () => 'from staying');
    await staying.start();

    await leaving.stop({ drain: false });
    expect(abortedOnLeaving).toEqual([true]);
    const result = await staying.getJobResult(id, { wait: true, timeout: 5_000 });
    expect(result).toMatchObject({ outcome: 'success', attempt: 1, nodeId: staying.nodeId, returnValue: 'from staying' });
  });

  it('stop() called while start() runs stops the node: both resolve, the node is stopped, every later call is refused', async () => {
    const store = cluster.freshStore(kind);
    const rt = await cluster.runtimeOn(store);
    rt.task('t', () => 1);
    const started = rt.start();
    const stopped = rt.stop();
    expect(rt.stop()).toBe(stopped); // every caller gets the same promise
    await started;
    await stopped;
    expect(rt.status.lifecycle).toBe('stopped');
    await expect(rt.addJob({ task: 't' })).rejects.toBeInstanceOf(RuntimeStoppedError);
    expect(() => rt.start()).toThrow(RuntimeStoppedError);
    // And nothing of it keeps running: a node on the same store sees no live node.
    const other = await cluster.runtimeOn(store, { maxConcurrentJobs: 0 });
    expect((await other.backend.nodes.listNodes()).map((n) => n.nodeId)).not.toContain(rt.nodeId);
  });
});
