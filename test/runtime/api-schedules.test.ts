/**
 * The schedule half of the public API, on both stores: pause/resume (with `from`), coalescing of
 * missed fire times, and the misfire grace time.
 */
import { describe, expect, it } from 'vitest';
import {
  ConflictingIdError,
  cron,
  date,
  interval,
  ScheduleLookupError,
  type CoalescePolicy,
  type JobContext,
  type Runtime,
} from '../../src/index.js';
import { POLL_MS, STORE_KINDS, useCluster, type StoreKind } from './support/cluster.js';
import { sleep, waitUntil } from './support/wait.js';

const cluster = useCluster();

/** Fire times (ms) of the jobs a schedule has made so far (queued or not). */
async function firesOf(rt: Runtime, scheduleId: string): Promise<number[]> {
  const { jobs } = await rt.listJobs({ scheduleId, limit: 10_000 });
  return jobs.map((job) => job.scheduledFireTime?.getTime() ?? NaN).sort((a, b) => a - b);
}

/** A scheduler node (it runs no jobs, so its jobs stay queued: the record of what fired). */
async function schedulerNode(kind: StoreKind): Promise<Runtime> {
  const rt = await cluster.runtimeOn(cluster.freshStore(kind), { role: 'scheduler' });
  rt.task('tick', () => undefined);
  await rt.start();
  return rt;
}

describe.each(STORE_KINDS)('schedules API on the %s store', (kind) => {
  it('add with onConflict keep/replace/error, get, list, remove; ScheduleLookupError for unknown ids', async () => {
    const rt = await schedulerNode(kind);
    const id = await rt.addSchedule({ id: 'daily', task: 'tick', trigger: cron('0 6 * * *'), args: { v: 1 } });
    expect(id).toBe('daily');
    expect(await rt.addSchedule({ id: 'daily', task: 'tick', trigger: cron('0 7 * * *'), args: { v: 2 } })).toBe('daily'); // keep
    expect((await rt.getSchedule('daily')).args).toEqual({ v: 1 });
    await expect(rt.addSchedule({ id: 'daily', task: 'tick', trigger: cron('0 7 * * *'), onConflict: 'error' })).rejects.toBeInstanceOf(
      ConflictingIdError,
    );
    await rt.addSchedule({ id: 'daily', task: 'tick', trigger: cron('0 7 * * *'), args: { v: 3 }, onConflict: 'replace' });
    const replaced = await rt.getSchedule('daily');
    expect(replaced.args).toEqual({ v: 3 });
    expect(replaced.nextFireTime?.getUTCHours()).toBe(7);
    const generated = await rt.addSchedule({ task: 'tick', trigger: interval('1h') });
    expect((await rt.listSchedules()).map((s) => s.id)).toEqual(['daily', generated].sort());
    expect(await rt.removeSchedule('daily')).toBe(true);
    expect(await rt.removeSchedule('daily')).toBe(false);
    await expect(rt.getSchedule('daily')).rejects.toBeInstanceOf(ScheduleLookupError);
    await expect(rt.pauseSchedule('nope')).rejects.toBeInstanceOf(ScheduleLookupError);
    expect((await rt.listSchedules()).map((s) => s.id)).toEqual([generated]);
  });

  it("maxJitter delays each scheduled start by less than maxJitter; scheduled results are kept for the runtime's defaultResultTtl", async () => {
    const rt = await cluster.runtimeOn(cluster.freshStore(kind), { defaultResultTtl: '5m' });
    const runs: { fireTime: number; lateness: number }[] = [];
    const jobIds: string[] = [];
    rt.task('jittered', (_: unknown, ctx: JobContext) => {
      const fireTime = ctx.scheduledFireTime?.getTime() ?? NaN;
      runs.push({ fireTime, lateness: Date.now() - fireTime });
      jobIds.push(ctx.jobId);
    });
    await rt.start();
    await rt.addSchedule({ id: 'j', task: 'jittered', trigger: interval(400), maxJitter: 300 });
    // Fire times before the node had loaded the schedule's partition (a node just started loads its
    // 64 partitions a few at a time; on a busy machine that took ~1 s) are late for that reason alone.
    await waitUntil('the schedule hosted', () => rt.status.schedules === 1, { timeoutMs: 10_000 });
    const hostedAt = Date.now();
    const counted = () => runs.filter((run) => run.fireTime >= hostedAt);
    await waitUntil('four runs', () => counted().length >= 4, { timeoutMs: 10_000 });
    await rt.pauseSchedule('j');
    const lateness = counted().map((run) => run.lateness);
    for (const ms of lateness) {
      expect(ms).toBeGreaterThanOrEqual(0);
      // Jitter bound + the poll: a job not due yet goes back to the queue with a delay, and an
      // idle worker sees it again on its next poll.
      expect(ms).toBeLessThan(300 + POLL_MS + 200);
    }
    expect(Math.max(...lateness)).toBeGreaterThan(20); // the jitter really delays (p(all < 20 ms) ≈ 5e-5)
    const stored = await rt.backend.jobs.get(jobIds[0]!);
    const done = stored?.state.phase === 'done' ? stored.state : null;
    const keptMs = (done?.expiresAt?.getTime() ?? 0) - (done?.result.finishedAt.getTime() ?? 0);
    expect(Math.abs(keptMs - 5 * 60_000)).toBeLessThan(2_000);
  });


  it('pause stops the fires and resume starts them again; resume skips what was missed by default', async () => {
    const rt = await schedulerNode(kind);
    await rt.addSchedule({ id: 'beat', task: 'tick', trigger: interval(200) });
    await waitUntil('a few fires', async () => (await firesOf(rt, 'beat')).length >= 3, { timeoutMs: 5_000 });
    const paused = await rt.pauseSchedule('beat');
    expect(paused.paused).toBe(true);
    expect((await rt.getSchedule('beat')).paused).toBe(true);
    const atPause = (await firesOf(rt, 'beat')).length;
    await sleep(700);
    const whilePaused = await firesOf(rt, 'beat');
    // At most the one fire that raced the pause.
    expect(whilePaused.length - atPause).toBeLessThanOrEqual(1);
    const resumedAt = Date.now();
    const resumed = await rt.resumeSchedule('beat');
    expect(resumed.paused).toBe(false);
    expect(resumed.nextFireTime?.getTime()).toBeGreaterThanOrEqual(resumedAt - 5);
    await waitUntil('fires after the resume', async () => (await firesOf(rt, 'beat')).length >= whilePaused.length + 2, { timeoutMs: 5_000 });
    const after = (await firesOf(rt, 'beat')).filter((t) => !whilePaused.includes(t));
    // The fire times of the pause were skipped, not made up.
    expect(after.every((t) => t >= resumedAt - 5)).toBe(true);
  });

  it.each<[CoalescePolicy, (fireTimes: number[]) => number[]]>([
    ['all', (ts) => ts],
    ['earliest', (ts) => ts.slice(0, 1)],
    ['latest', (ts) => ts.slice(-1)],
  ])('resume from a past Date makes up the missed fire times under coalesce %s', async (coalesce, expected) => {
    const rt = await schedulerNode(kind);
    const base = Math.floor(Date.now() / 1000) * 1000 - 10_000;
    // Fire times base, base+1s, … base+9s, all in the past; the trigger ends there.
    const trigger = interval('1s', { start: new Date(base), end: new Date(base + 9_000) });
    await rt.addSchedule({ id: 'late', task: 'tick', trigger, paused: true, coalesce });
    await sleep(300);
    expect(await firesOf(rt, 'late')).toEqual([]);

    await rt.resumeSchedule('late', { from: new Date(base + 4_500) });
    const missed = [5, 6, 7, 8, 9].map((k) => base + k * 1_000);
    await waitUntil('the schedule to use up its trigger', async () => (await rt.getSchedule('late')).nextFireTime === null, { timeoutMs: 5_000 });
    await sleep(200);
    expect(await firesOf(rt, 'late')).toEqual(expected(missed));
    expect((await rt.getSchedule('late')).lastFireTime?.getTime()).toBe(base + 9_000);
  });

  it('misfireGraceTime: a scheduled job that cannot start by fire time + grace ends missed_start_deadline without running', async () => {
    const store = cluster.freshStore(kind);
    // The scheduler does not know the task: the task's own grace must still apply (on the worker).
    await (await cluster.runtimeOn(store, { role: 'scheduler' })).start();
    const rt = await cluster.runtimeOn(store, { role: 'worker', maxConcurrentJobs: 1 });
    const ran: string[] = [];
    rt.task('blocker', async () => {
      await sleep(1_200);
      return 'unblocked';
    });
    rt.task(
      'punctual',
      (_: unknown, ctx: JobContext) => {
        ran.push(`${ctx.scheduleId}@${ctx.scheduledFireTime?.toISOString()}`);
      },
      { misfireGraceTime: 200 }, // the task's default grace…
    );
    await rt.start();
    const blocker = await rt.addJob({ task: 'blocker' });
    // The only slot must be taken before the fire time comes (a fixed sleep was not enough under load).
    await waitUntil('the blocker running', () => rt.status.running === 1);
    const at = new Date(Date.now() + 300);
    await rt.addSchedule({ id: 'from-task', task: 'punctual', trigger: date(at) });
    await rt.addSchedule({ id: 'own-grace', task: 'punctual', trigger: date(at), misfireGraceTime: 150 }); // …or the schedule's own
    await rt.addSchedule({ id: 'patient', task: 'punctual', trigger: date(at), misfireGraceTime: '10s' });
    const jobOf = async (scheduleId: string): Promise<string> =>
      waitUntil(`the job of ${scheduleId}`, async () => (await rt.listJobs({ scheduleId })).jobs[0]?.id);

    for (const scheduleId of ['from-task', 'own-grace']) {
      const result = await rt.getJobResult(await jobOf(scheduleId), { wait: true, timeout: 5_000 });
      expect(result).toMatchObject({ outcome: 'missed_start_deadline', attempt: 1 });
    }
    const patient = await rt.getJobResult(await jobOf('patient'), { wait: true, timeout: 5_000 });
    expect(patient?.outcome).toBe('success');
    expect(await rt.getJobResult(blocker)).toMatchObject({ outcome: 'success' });
    expect(ran).toEqual([`patient@${at.toISOString()}`]);
  });
});
