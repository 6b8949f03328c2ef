/**
 * The acquireLease effect when the job machine stops waiting for it (ACQUIRE_TIMEOUT under load):
 * whatever the effect took must be given back — the lease, the delivery, and above all the start
 * marker, which would otherwise make the next runner end a never-started job `abandoned`. Found by
 * the 2,000-job burst (test/runtime/burst-stall.test.ts); reproduced here deterministically with a
 * store whose record update is slow.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { createJobEffects, type JobTicket } from '../../src/actors/job-effects.js';
import type { JobRecord } from '../../src/index.js';
import type { NodeContext } from '../../src/runtime/node-context.js';
import { normaliseTask } from '../../src/runtime/task-registry.js';
import { jobLeaseKey, memoryStore, type StoreBackend } from '../../src/store/index.js';
import { sleep, waitUntil } from './support/wait.js';

async function setup(updateDelayMs: number): Promise<{ backend: StoreBackend; node: NodeContext; job: JobRecord; ticket: JobTicket }> {
  const backend = await memoryStore().open({ leaseDurationMs: 1_000, resultSweepIntervalMs: 0 });
  const update = backend.jobs.update.bind(backend.jobs);
  backend.jobs.update = async (record, revision) => {
    await sleep(updateDelayMs);
    return update(record, revision);
  };
  const job: JobRecord = { id: 'j1', task: 't', args: null, createdAt: new Date(), attempt: 1, resultTtlMs: null };
  const created = await backend.jobs.create(job);
  await backend.dispatch.enqueue(job.id);
  const [delivery] = await backend.dispatch.fetch(1);
  if (!created || !delivery) throw new Error('setup failed');
  const node: NodeContext = {
    nodeId: 'n1',
    backend,
    tasks: new Map([['t', normaliseTask('t', () => undefined)]]),
    defaultResultTtlMs: 60_000,
    emit: () => undefined,
    reportError: () => undefined,
    wakeWorkerAfter: () => undefined,
  };
  return { backend, node, job, ticket: { delivery, recordRevision: created.revision } };
}

describe('acquireLease given up by the job machine', () => {
  it('stopped while marking the record: the marker is undone, the lease released and the delivery handed back', async () => {
    const { backend, node, job, ticket } = await setup(100);
    const actor = createActor(createJobEffects(node).actors.acquireLease, { input: { job, ticket } });
    actor.start();
    await waitUntil('the lease to be taken', async () => (await backend.leases.holder(jobLeaseKey(job.id))) !== null, { intervalMs: 5 });
    actor.stop(); // what leaving `leasing` on ACQUIRE_TIMEOUT does to the invoked effect

    await waitUntil('the lease to be released', async () => (await backend.leases.holder(jobLeaseKey(job.id))) === null, { timeoutMs: 2_000 });
    await sleep(150); // the undo write is slow too
    const stored = await backend.jobs.get(job.id);
    expect(stored?.record.runningAttempt).toBeUndefined();
    expect(stored?.record.runningNode).toBeUndefined();
    // Handed straight back, not left to the ack wait (2 s).
    const again = await backend.dispatch.fetch(1, { expiresMs: 500 });
    expect(again.map((d) => d.jobId)).toEqual([job.id]);
    await backend.close();
  });

  it('not stopped: the same slow acquisition marks the record and keeps the lease (control)', async () => {
    const { backend, node, job, ticket } = await setup(100);
    const actor = createActor(createJobEffects(node).actors.acquireLease, { input: { job, ticket } });
    const done = new Promise<unknown>((resolve) => actor.subscribe({ complete: () => resolve(actor.getSnapshot().output) }));
    actor.start();
    expect(await done).toMatchObject({ status: 'acquired', previousAttemptAbandoned: false });
    expect((await backend.jobs.get(job.id))?.record).toMatchObject({ runningAttempt: 1, runningNode: 'n1' });
    expect((await backend.leases.holder(jobLeaseKey(job.id)))?.owner).toBe('n1');
    await backend.close();
  });
});
