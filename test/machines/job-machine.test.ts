/**
 * Unit tests of the job machine: effects are actions answered by hand (controlledJobLogic), the
 * lease keeper's reports are sent as it would send them, the job actor runs under a recording
 * parent as it runs under the worker. The keeper's own timing is tested in
 * test/actors/job-lease-keeper.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import type { JobEvent, JobInput } from '../../src/machines/job-types.js';
import { controlledJobLogic, endEvents, jobUnderParent, testJob } from '../support/fakes/job-fakes.js';

const NOW = Date.UTC(2025, 0, 1, 12);
const retry3 = { attempts: 3, backoff: { initialMs: 100, maxMs: 250, factor: 2 } };

function start(input: JobInput) {
  const fx = controlledJobLogic();
  const harness = jobUnderParent(fx.logic, input);
  const state = () => harness.job.getSnapshot();
  return { fx, ...harness, state };
}

const acquired = (over: Partial<Extract<JobEvent, { type: 'LEASE_ACQUIRED' }>> = {}): JobEvent => ({
  type: 'LEASE_ACQUIRED',
  lease: { revision: 1 },
  attempt: 1,
  now: NOW,
  previousAttemptAbandoned: false,
  ...over,
});

describe('job machine: founding failure 1 (duplicate execution of long jobs), the machine half', () => {
  it('a task running far past its lease takes every renewal without a side effect and commits once', () => {
    const { fx, job, state, received } = start({ job: testJob({ id: 'long' }), nodeId: 'n1' });
    fx.answer('acquireLease', acquired());
    for (let revision = 2; revision <= 31; revision++) fx.report(job, { type: 'LEASE_RENEWED', lease: { revision } });
    expect(state().value).toBe('running');
    expect(state().context.lease).toEqual({ revision: 31 });
    expect(fx.aborts).toEqual([]);
    expect(fx.calls.runTask).toHaveLength(1);
    fx.answer('runTask', { type: 'TASK_SUCCEEDED', value: 42 });
    expect(fx.calls.commitResult.map((c) => c.params.result)).toEqual([
      { jobId: 'long', outcome: 'success', attempt: 1, startedAt: new Date(NOW), nodeId: 'n1', returnValue: 42 },
    ]);
    expect(received()).toEqual([]);
  });

  it('a refused renewal aborts the task, writes nothing and ends discarded; the slot is released once', () => {
    const { fx, job, state, received } = start({ job: testJob({ id: 'lost' }), retry: retry3 });
    fx.answer('acquireLease', acquired());
    fx.report(job, { type: 'LEASE_RENEWED', lease: { revision: 2 } });
    fx.report(job, { type: 'LEASE_LOST', reason: 'revision_moved' });
    expect(fx.aborts.map(({ jobId, reason }) => ({ jobId, reason }))).toEqual([{ jobId: 'lost', reason: 'lease_lost' }]);
    expect(fx.calls.runTask[0]!.status).toBe('aborted');
    expect(fx.calls.commitResult).toEqual([]);
    expect(fx.calls.requeueJob).toEqual([]);
    const output = { kind: 'discarded', reason: 'lease_lost', leaseLostReason: 'revision_moved' } as const;
    expect(state().output).toEqual(output);
    expect(state().context.lease).toBeNull();
    expect(received()).toEqual(endEvents('lost', output));
  });

  it('a fenced commit refused (LEASE_LOST) ends the job discarded, without retrying or requeueing', () => {
    const { fx, state, received } = start({ job: testJob({ id: 'refused' }), retry: retry3 });
    fx.answer('acquireLease', acquired());
    fx.answer('runTask', { type: 'TASK_SUCCEEDED', value: 1 });
    fx.answer('commitResult', { type: 'LEASE_LOST', reason: 'revision_moved' });
    expect(state().output).toEqual({ kind: 'discarded', reason: 'lease_lost', leaseLostReason: 'revision_moved' });
    expect(fx.calls.commitResult).toHaveLength(1);
    expect(fx.calls.requeueJob).toEqual([]);
    expect(fx.aborts).toEqual([]);
    expect(received().map((e) => e.type)).toEqual(['SLOT_RELEASED', 'xstate.done.actor.refused']);
  });

  it('a loss reported while requeueing ends the job there too', () => {
    const { fx, job, state } = start({ job: testJob({ id: 'requeue-lost', attempt: 1 }), retry: retry3 });
    fx.answer('acquireLease', acquired());
    fx.answer('runTask', { type: 'TASK_FAILED', error: { name: 'Error', message: 'boom' } });
    fx.report(job, { type: 'LEASE_LOST', reason: 'renewal_deadline' });
    expect(state().output).toEqual({ kind: 'discarded', reason: 'lease_lost', leaseLostReason: 'renewal_deadline' });
    expect(fx.calls.commitResult).toEqual([]);
  });
});

describe('job machine: outcomes', () => {
  it('success: runs the attempt it acquired, commits a fenced result, ends with the committed result', () => {
    const { fx, state, received } = start({ job: testJob({ id: 'ok' }), nodeId: 'n1', timeoutMs: 500 });
    expect(fx.calls.acquireLease.map((c) => c.params)).toEqual([{ jobId: 'ok' }]);
    fx.answer('acquireLease', acquired());
    expect(fx.calls.runTask.map((c) => c.params)).toEqual([{ jobId: 'ok', attempt: 1, timeoutMs: 500 }]);
    fx.answer('runTask', { type: 'TASK_SUCCEEDED', value: 'ok' });
    const draft = fx.last('commitResult').params.result;
    expect(draft).toEqual({ jobId: 'ok', outcome: 'success', attempt: 1, startedAt: new Date(NOW), nodeId: 'n1', returnValue: 'ok' });
    const result = { ...draft, finishedAt: new Date(NOW + 5) };
    fx.answer('commitResult', { type: 'RESULT_COMMITTED', result });
    expect(state().output).toEqual({ kind: 'result', result });
    expect(received()).toEqual(endEvents('ok', { kind: 'result', result }));
  });

  it('retries a failing task with backoff through requeueJob, and commits the error on the last attempt', () => {
    const first = start({ job: testJob({ id: 'r2', attempt: 2 }), retry: retry3 });
    first.fx.answer('acquireLease', acquired({ attempt: 2 }));
    first.fx.answer('runTask', { type: 'TASK_FAILED', error: { name: 'TypeError', message: 'boom' } });
    expect(first.fx.last('requeueJob').params).toEqual({ jobId: 'r2', attempt: 3, delayMs: 200, reason: 'retry' });
    first.fx.answer('requeueJob', { type: 'JOB_REQUEUED' });
    expect(first.state().output).toEqual({ kind: 'requeued', attempt: 3, delayMs: 200, reason: 'retry' });

    const last = start({ job: testJob({ id: 'r3', attempt: 3 }), retry: retry3 });
    last.fx.answer('acquireLease', acquired({ attempt: 3 }));
    last.fx.answer('runTask', { type: 'TASK_FAILED', error: { name: 'TypeError', message: 'boom' } });
    expect(last.fx.calls.requeueJob).toEqual([]);
    expect(last.fx.last('commitResult').params.result).toMatchObject({ outcome: 'error', attempt: 3, error: { name: 'TypeError', message: 'boom' } });
  });

  it('backoff is capped by maxMs', () => {
    const { fx } = start({ job: testJob({ id: 'capped', attempt: 3 }), retry: { attempts: 5, backoff: { initialMs: 100, maxMs: 250, factor: 2 } } });
    fx.answer('acquireLease', acquired({ attempt: 3 }));
    fx.answer('runTask', { type: 'TASK_FAILED', error: { name: 'Error', message: 'x' } });
    expect(fx.last('requeueJob').params).toMatchObject({ attempt: 4, delayMs: 250 });
  });

  it('TIMEOUT aborts the task; retried while attempts remain, else committed as `timeout`', () => {
    const retried = start({ job: testJob({ id: 't1' }), timeoutMs: 500, retry: retry3 });
    retried.fx.answer('acquireLease', acquired());
    retried.fx.answer('runTask', { type: 'TIMEOUT' });
    expect(retried.fx.aborts.map((a) => a.reason)).toEqual(['timeout']);
    expect(retried.fx.last('requeueJob').params).toMatchObject({ attempt: 2, reason: 'retry' });

    const final = start({ job: testJob({ id: 't2' }), timeoutMs: 500 });
    final.fx.answer('acquireLease', acquired());
    final.fx.answer('runTask', { type: 'TIMEOUT' });
    expect(final.fx.aborts.map((a) => a.reason)).toEqual(['timeout']);
    expect(final.fx.last('commitResult').params.result.outcome).toBe('timeout');
    // The task's answer after its timeout is nobody's business.
    final.job.send({ type: 'TASK_SUCCEEDED', value: 'late' });
    expect(final.fx.calls.commitResult).toHaveLength(1);
    expect(final.fx.last('commitResult').params.result.outcome).toBe('timeout');
  });

  it('CANCEL while running aborts and commits `cancelled`; while acquiring it commits `cancelled` without running', () => {
    const running = start({ job: testJob({ id: 'c1' }) });
    running.fx.answer('acquireLease', acquired());
    running.job.send({ type: 'CANCEL' });
    expect(running.fx.aborts.map((a) => a.reason)).toEqual(['cancelled']);
    expect(running.fx.last('commitResult').params.result.outcome).toBe('cancelled');

    const acquiring = start({ job: testJob({ id: 'c2' }) });
    acquiring.job.send({ type: 'CANCEL' });
    expect(acquiring.state().value).toBe('acquiring');
    acquiring.fx.answer('acquireLease', acquired());
    expect(acquiring.fx.calls.runTask).toEqual([]);
    expect(acquiring.fx.aborts).toEqual([]);
    expect(acquiring.fx.last('commitResult').params.result).toMatchObject({ outcome: 'cancelled', startedAt: new Date(NOW) });
  });

  it('SHUTDOWN hands the same attempt back at once: aborting a running task, or right after acquiring', () => {
    const running = start({ job: testJob({ id: 's1', attempt: 2 }), retry: retry3 });
    running.fx.answer('acquireLease', acquired({ attempt: 2 }));
    running.job.send({ type: 'SHUTDOWN' });
    expect(running.fx.aborts.map((a) => a.reason)).toEqual(['shutdown']);
    expect(running.fx.last('requeueJob').params).toEqual({ jobId: 's1', attempt: 2, delayMs: 0, reason: 'shutdown' });
    running.fx.answer('requeueJob', { type: 'JOB_REQUEUED' });
    expect(running.state().output).toEqual({ kind: 'requeued', attempt: 2, delayMs: 0, reason: 'shutdown' });

    const acquiring = start({ job: testJob({ id: 's2' }) });
    acquiring.job.send({ type: 'SHUTDOWN' });
    acquiring.fx.answer('acquireLease', acquired());
    expect(acquiring.fx.calls.runTask).toEqual([]);
    expect(acquiring.fx.last('requeueJob').params).toEqual({ jobId: 's2', attempt: 1, delayMs: 0, reason: 'shutdown' });

    // Both asked before the lease came: the user's cancel wins over the node's shutdown.
    const both = start({ job: testJob({ id: 's3' }) });
    both.job.send({ type: 'SHUTDOWN' });
    both.job.send({ type: 'CANCEL' });
    both.fx.answer('acquireLease', acquired());
    expect(both.fx.calls.requeueJob).toEqual([]);
    expect(both.fx.last('commitResult').params.result.outcome).toBe('cancelled');
  });

  it('ends `missed_start_deadline` when acquired after the deadline on attempt 1; a retry is not held to it', () => {
    const deadline = new Date(NOW - 1);
    const late = start({ job: testJob({ id: 'd1', startDeadline: deadline }) });
    late.fx.answer('acquireLease', acquired());
    expect(late.fx.calls.runTask).toEqual([]);
    expect(late.fx.last('commitResult').params.result).toMatchObject({ outcome: 'missed_start_deadline', attempt: 1 });

    const onTime = start({ job: testJob({ id: 'd2', startDeadline: new Date(NOW) }) });
    onTime.fx.answer('acquireLease', acquired());
    expect(onTime.state().value).toBe('running');

    const retry = start({ job: testJob({ id: 'd3', startDeadline: deadline }), retry: retry3 });
    retry.fx.answer('acquireLease', acquired({ attempt: 2 }));
    expect(retry.fx.last('runTask').params.attempt).toBe(2);
  });

  it('a vanished previous runner: retried when attempts remain, else `abandoned`', () => {
    const retried = start({ job: testJob({ id: 'a1' }), retry: { attempts: 2, backoff: { initialMs: 50, maxMs: 50, factor: 1 } } });
    retried.fx.answer('acquireLease', acquired({ previousAttemptAbandoned: true }));
    expect(retried.fx.last('requeueJob').params).toEqual({ jobId: 'a1', attempt: 2, delayMs: 50, reason: 'retry' });

    const given = start({ job: testJob({ id: 'a2' }), retry: { attempts: 2, backoff: { initialMs: 50, maxMs: 50, factor: 1 } } });
    given.fx.answer('acquireLease', acquired({ attempt: 2, previousAttemptAbandoned: true }));
    expect(given.fx.last('commitResult').params.result).toMatchObject({ outcome: 'abandoned', attempt: 2 });
    expect(given.fx.calls.runTask).toEqual([]);
  });

  it('not acquired: skipped, deferred (task slots full) or discarded (store error) — no other effect, slot released once', () => {
    for (const [answer, output] of [
      [{ type: 'LEASE_NOT_ACQUIRED', reason: 'held_elsewhere' }, { kind: 'skipped', reason: 'held_elsewhere' }],
      [{ type: 'LEASE_NOT_ACQUIRED', reason: 'finished' }, { kind: 'skipped', reason: 'finished' }],
      [{ type: 'LEASE_NOT_ACQUIRED', reason: 'not_yet' }, { kind: 'skipped', reason: 'not_yet' }],
      [{ type: 'TASK_SLOTS_FULL', retryInMs: 300 }, { kind: 'requeued', attempt: 1, delayMs: 300, reason: 'task_slots_full' }],
      [{ type: 'ACQUIRE_FAILED', error: 'down' }, { kind: 'discarded', reason: 'acquire_failed', leaseLostReason: null }],
    ] as const) {
      const jobId = `n-${answer.type}-${'reason' in answer ? answer.reason : ''}`;
      const { fx, state, received } = start({ job: testJob({ id: jobId }) });
      fx.answer('acquireLease', answer);
      expect(state().output, answer.type).toEqual(output);
      expect([fx.calls.runTask, fx.calls.commitResult, fx.calls.requeueJob, fx.aborts], answer.type).toEqual([[], [], [], []]);
      expect(received(), answer.type).toEqual(endEvents(jobId, output));
    }
  });

  it('rejects invalid input with a typed error naming the field', () => {
    const { logic } = controlledJobLogic();
    const badTimeout = createActor(logic, { input: { job: testJob(), timeoutMs: 0 } });
    expect(badTimeout.getSnapshot().status).toBe('error');
    expect(String(badTimeout.getSnapshot().error)).toMatch(/timeoutMs 0/);
    const badRetry = createActor(logic, { input: { job: testJob(), retry: { attempts: 0, backoff: { initialMs: 1, maxMs: 1, factor: 1 } } } });
    expect(String(badRetry.getSnapshot().error)).toMatch(/retry\.attempts 0/);
  });
});
