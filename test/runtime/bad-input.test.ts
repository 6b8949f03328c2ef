/**
 * Bad input gets a typed error or a *DeserializationFailed event, the node keeps running and
 * nothing else is lost — on both stores. Corrupt records are planted as raw bytes in the buckets.
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidOptionError,
  cron,
  interval,
  InvalidTriggerError,
  PayloadTooLargeError,
  SerializationError,
  type Runtime,
  type RuntimeEvent,
  type RuntimeEventMap,
  type Trigger,
} from '../../src/index.js';
import { encodeKeyToken } from '../../src/store/index.js';
import { LEASE_MS, STORE_KINDS, useCluster } from './support/cluster.js';
import { sleep, waitUntil } from './support/wait.js';

const cluster = useCluster();

/** Over nats.conf's max_payload (1MB) and the memory store's matching default. */
const TOO_BIG = 'x'.repeat(1_100_000);
const GARBAGE = new Uint8Array([0xc1, 0xff, 0x00, 0x13, 0x37]);

async function startedNode(kind: (typeof STORE_KINDS)[number]): Promise<{ rt: Runtime; events: RuntimeEvent[] }> {
  const rt = await cluster.runtimeOn(cluster.freshStore(kind));
  rt.task('echo', (args: unknown) => args);
  rt.task('returns', (what: string) => {
    if (what === 'function') return () => 1;
    if (what === 'map') return new Map([[1, 2]]);
    if (what === 'too-big') return TOO_BIG;
    return 'fine';
  });
  const events: RuntimeEvent[] = [];
  rt.on('*', (event) => events.push(event));
  await rt.start();
  return { rt, events };
}

/** The node still runs jobs after whatever the test threw at it. */
async function expectStillWorking(rt: Runtime): Promise<void> {
  expect(rt.status.lifecycle).toBe('running');
  await expect(rt.runJob('echo', { still: 'alive' })).resolves.toEqual({ still: 'alive' });
}

describe.each(STORE_KINDS)('bad input on the %s store', (kind) => {
  it('a task no node has registered yet: the job is accepted and waits queued, and runs once a node registers the task', async () => {
    const { rt } = await startedNode(kind);
    const id = await rt.addJob({ task: 'later', args: 5 });
    await sleep(300);
    expect((await rt.listJobs({ task: 'later' })).jobs.map((j) => [j.id, j.state])).toEqual([[id, 'queued']]);
    rt.task('later', (n: number) => n + 1);
    expect(await rt.getJobResult(id, { wait: true, timeout: 10_000 })).toMatchObject({ outcome: 'success', returnValue: 6 });
    // Only the shape of a task name is checked up front.
    await expect(rt.addJob({ task: '' })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(rt.addSchedule({ task: '', trigger: interval('1h') })).rejects.toBeInstanceOf(InvalidOptionError);
    await expectStillWorking(rt);
  });

  it('an invalid trigger: InvalidTriggerError at construction, and from addSchedule for a malformed trigger object', async () => {
    const { rt } = await startedNode(kind);
    expect(() => cron('61 * * * *')).toThrow(InvalidTriggerError);
    expect(() => interval(0)).toThrow(InvalidTriggerError);
    expect(() => cron('* * * * *', { timezone: 'Mars/Olympus' })).toThrow(/timezone/);
    const forged = { kind: 'cron', expression: 'not a cron', timezone: 'UTC' } as unknown as Trigger;
    await expect(rt.addSchedule({ task: 'echo', trigger: forged })).rejects.toBeInstanceOf(InvalidTriggerError);
    await expect(rt.addSchedule({ task: 'echo', trigger: 'every minute' as unknown as Trigger })).rejects.toBeInstanceOf(InvalidTriggerError);
    expect(await rt.listSchedules()).toEqual([]);
    await expectStillWorking(rt);
  });

  it('unserialisable args: SerializationError naming the path; an unserialisable return value ends the job as an error', async () => {
    const { rt } = await startedNode(kind);
    class Point {
      x = 1;
    }
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    const cases: [unknown, RegExp][] = [
      [{ callback: () => 1 }, /args\.callback.*function/],
      [[1, Symbol('s')], /args\[1\].*symbol/],
      [{ n: 10n }, /args\.n.*bigint/],
      [{ m: new Map() }, /args\.m.*Map/],
      [new Point(), /Point instance/],
      [cyclic, /cycle/],
    ];
    for (const [args, message] of cases) {
      const error = await rt.addJob({ task: 'echo', args }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SerializationError);
      expect((error as Error).message).toMatch(message);
    }
    await expect(rt.addSchedule({ task: 'echo', trigger: interval('1h'), args: { f: () => 1 } })).rejects.toBeInstanceOf(SerializationError);
    for (const what of ['function', 'map']) {
      const id = await rt.addJob({ task: 'returns', args: what });
      const result = await rt.getJobResult(id, { wait: true, timeout: 5_000 });
      expect(result).toMatchObject({ outcome: 'error', error: { name: 'SerializationError' } });
      expect(result?.error?.message).toMatch(/return value/);
      expect(result).not.toHaveProperty('returnValue');
    }
    await expectStillWorking(rt);
  });

  it('a corrupt job message planted in the queue: JobDeserializationFailed, a deserialization_failed result, other jobs complete', async () => {
    const { rt, events } = await startedNode(kind);
    const others = await Promise.all([1, 2, 3].map((n) => rt.addJob({ task: 'echo', args: n })));
    await rt.backend.queue.publish([{ jobId: 'corrupt-job', data: GARBAGE }]);
    const more = await Promise.all([4, 5, 6].map((n) => rt.addJob({ task: 'echo', args: n })));

    const result = await rt.getJobResult('corrupt-job', { wait: true, timeout: 5_000 });
    expect(result).toMatchObject({ jobId: 'corrupt-job', outcome: 'deserialization_failed' });
    await waitUntil('the JobDeserializationFailed event', () =>
      events.find((e): e is RuntimeEventMap['JobDeserializationFailed'] => e.type === 'JobDeserializationFailed' && e.jobId === 'corrupt-job'),
    );
    const values = await Promise.all([...others, ...more].map((id) => rt.getJobResult(id, { wait: true, timeout: 5_000 })));
    expect(values.map((r) => [r?.outcome, r?.returnValue])).toEqual([1, 2, 3, 4, 5, 6].map((n) => ['success', n]));
    await expectStillWorking(rt);
  });

  it('a corrupt job state planted on a job key: the job ends deserialization_failed (fenced on that state), other jobs complete', async () => {
    const { rt, events } = await startedNode(kind);
    // Not running yet: the node's capacity is 0 while the key is planted.
    rt.setMaxConcurrentJobs(0);
    const id = await rt.addJob({ task: 'echo', args: 'never' });
    await rt.backend.buckets.jobs.put(encodeKeyToken(id), GARBAGE);
    rt.setMaxConcurrentJobs(10);
    const result = await rt.getJobResult(id, { wait: true, timeout: 5_000 }).catch((error: unknown) => error);
    expect(result).toMatchObject({ jobId: id, outcome: 'deserialization_failed' });
    await waitUntil('the JobDeserializationFailed event', () => events.find((e) => e.type === 'JobDeserializationFailed' && e.jobId === id));
    await expectStillWorking(rt);
  });

  it('a corrupt schedule record: one ScheduleDeserializationFailed (not one per claim round), listing skips it, good schedules fire', async () => {
    const { rt, events } = await startedNode(kind);
    const fired: string[] = [];
    rt.on('JobAdded', (event) => event.scheduleId && fired.push(event.scheduleId));
    await rt.addSchedule({ id: 'good', task: 'echo', trigger: interval(300), args: 'tick' });
    await rt.backend.buckets.schedules.put(rt.backend.schedules.keyOf('bad'), GARBAGE);
    // Several claim rounds (every leaseDuration/3) meet the corrupt record.
    await sleep(2 * LEASE_MS);
    const failures = events.filter((e) => e.type === 'ScheduleDeserializationFailed');
    expect(failures.map((e) => e.type === 'ScheduleDeserializationFailed' && e.scheduleId)).toEqual(['bad']);
    expect(fired.filter((id) => id === 'good').length).toBeGreaterThanOrEqual(3);
    expect((await rt.listSchedules()).map((s) => s.id)).toEqual(['good']);
    await expect(rt.getSchedule('bad')).rejects.toThrow(/"bad".*corrupt/);
    // Rewriting the record over the garbage heals it.
    await rt.removeSchedule('bad');
    await rt.addSchedule({ id: 'bad', task: 'echo', trigger: interval('1h') });
    expect((await rt.getSchedule('bad')).task).toBe('echo');
    await expectStillWorking(rt);
  });

  it('a payload over the max (1MB): PayloadTooLargeError for args, an error outcome for a return value, nothing else disturbed', async () => {
    const { rt } = await startedNode(kind);
    const error = await rt.addJob({ id: 'huge', task: 'echo', args: TOO_BIG }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect((error as PayloadTooLargeError).bytes).toBeGreaterThan((error as PayloadTooLargeError).maxBytes);
    expect((error as Error).message).toMatch(/job "huge"/);
    await expect(rt.getJobResult('huge')).rejects.toThrow(/no job with id "huge"/); // nothing half-written
    await expect(rt.addSchedule({ task: 'echo', trigger: interval('1h'), args: TOO_BIG })).rejects.toBeInstanceOf(PayloadTooLargeError);

    const id = await rt.addJob({ task: 'returns', args: 'too-big' });
    const result = await rt.getJobResult(id, { wait: true, timeout: 5_000 });
    expect(result).toMatchObject({ outcome: 'error', attempt: 1, error: { name: 'PayloadTooLargeError' } });
    // Just under the limit still works.
    await expect(rt.runJob('echo', 'y'.repeat(900_000))).resolves.toHaveLength(900_000);
    await expectStillWorking(rt);
  });
});
