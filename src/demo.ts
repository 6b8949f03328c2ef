/**
 * `npm start`: a demo node on the embedded in-memory store that tells what it does, one story per
 * line: two schedules firing (a cron every 5 s, an interval every 2 s), a burst of 20 jobs at a
 * capacity of 4 (shown as progress of the group: freed slots wake the worker), a flaky upload that
 * fails twice (each retry with its error) and succeeds on its third attempt, and a long export that
 * runs 5 s under a 1.5 s lease — each renewal of its lease shown as the job actor receives it (the
 * statechart's LEASE_RENEWED event, through the inspection API) with the task's progress. It ends
 * with a summary table built from `rt.listJobs()`, after DEMO_SECONDS (default 15) or on Ctrl-C.
 */
import type { InspectionEvent } from 'xstate';
import { columns } from './cli/job-view.js';
import { errorText } from './cli/event-format.js';
import { createRuntime } from './runtime/runtime.js';
import type { JobInfo } from './runtime/job-info.js';
import { silentLogger } from './runtime/logger.js';
import { cron, describeTrigger, interval, upcomingFireTimes } from './triggers/index.js';

const seconds = Number(process.env['DEMO_SECONDS'] ?? 15);
const CAPACITY = 4;
const BURST = 20;
const LONG_JOB_MS = 5_000;

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
const clock = (at: Date = new Date()): string => at.toISOString().slice(11, 23);
const say = (who: string, what: string, at?: Date): void => console.log(`${clock(at)}  ${who.padEnd(13)} ${what}`);

/** The long export's lease renewals, as its job actor receives them. */
let renewals = 0;
let longProgress = 0;
const watchRenewals = (event: InspectionEvent): void => {
  if (event.type !== '@xstate.event' || event.event.type !== 'LEASE_RENEWED') return;
  // Every job actor is named `job`; which job it runs is in its context.
  const context = (event.actorRef.getSnapshot() as { context?: { job?: { id?: string } } }).context;
  if (context?.job?.id !== 'long-export') return;
  renewals++;
  const { revision } = (event.event as unknown as { lease: { revision: number } }).lease;
  say('long-export', `lease renewed (#${renewals}, revision ${revision}), ${Math.round(longProgress * 100)}% done`);
};

const rt = await createRuntime({
  nodeId: 'demo-node',
  maxConcurrentJobs: CAPACITY,
  leaseDuration: '1500ms',
  pollInterval: '500ms',
  inspect: watchRenewals,
  logger: silentLogger, // the story is told below; a real node logs through pino (see README)
});

rt.task('report', (_args, ctx) => `report for ${ctx.scheduledFireTime?.toISOString() ?? 'now'}`);
rt.task('heartbeat', () => 'ok');
rt.task('long-export', async (_args, ctx) => {
  const started = Date.now();
  while (Date.now() - started < LONG_JOB_MS && !ctx.signal.aborted) {
    await sleep(250, ctx.signal);
    ctx.progress(Math.min(1, (Date.now() - started) / LONG_JOB_MS));
  }
  if (ctx.signal.aborted) throw new Error('aborted');
  return 'exported 5 s of work under a 1.5 s lease';
});
let flakyRuns = 0;
rt.task(
  'flaky-upload',
  (_args, ctx) => {
    flakyRuns++;
    ctx.log('uploading, attempt %d', ctx.attempt);
    if (flakyRuns < 3) throw new Error(`upstream hiccup #${flakyRuns}`);
    return 'uploaded';
  },
  { retry: { attempts: 3, backoff: { initial: '200ms', max: '1s', factor: 2 } } },
);
rt.task('resize-image', async ({ n }: { n: number }) => {
  await sleep(150 + (n % 5) * 50);
  return `image ${n} resized`;
});

// ---- the story, from the cluster's events ---------------------------------------------------

const burst = { ids: new Set<string>(), running: 0, done: 0, maxRunning: 0, startedAt: 0, lastLine: 0 };
const fireTimes = new Map<string, Date>();

function burstLine(force = false): void {
  const now = Date.now();
  if (!force && now - burst.lastLine < 400) return;
  burst.lastLine = now;
  const waiting = BURST - burst.done - burst.running;
  say('resize-image', `burst: ${burst.done}/${BURST} done, ${burst.running} running, ${waiting} waiting`);
}

rt.on('*', (event) => {
  switch (event.type) {
    case 'JobAdded':
      if (event.scheduledFireTime) fireTimes.set(event.jobId, event.scheduledFireTime);
      return;
    case 'JobAcquired':
      if (burst.ids.has(event.jobId)) {
        burst.running++;
        burst.maxRunning = Math.max(burst.maxRunning, burst.running);
      }
      if (event.task === 'long-export') say('long-export', `started on ${event.nodeId} under a 1.5 s lease, renewed every 0.5 s`, event.timestamp);
      return;
    case 'JobRetryScheduled': {
      const wait = event.nextAttemptAt.getTime() - event.timestamp.getTime();
      say(event.task, `attempt ${event.attempt} failed: ${errorText(event.error)} → attempt ${event.nextAttempt} in ${Math.max(0, wait)} ms`, event.timestamp);
      return;
    }
    case 'JobProgress':
      if (event.task === 'long-export') longProgress = Number(event.progress);
      return;
    case 'JobReleased': {
      if (burst.ids.has(event.jobId)) {
        burst.running--;
        burst.done++;
        if (burst.done === BURST) {
          say('resize-image', `burst: ${BURST}/${BURST} done in ${((Date.now() - burst.startedAt) / 1000).toFixed(1)} s, at most ${burst.maxRunning} at once`);
        } else burstLine();
        return;
      }
      const fired = fireTimes.get(event.jobId);
      const how = event.error ? `${event.outcome}: ${errorText(event.error)}` : event.outcome;
      if (fired) say(event.task, `fire of ${clock(fired)} → ${how}`, event.timestamp);
      else if (event.task === 'long-export') say('long-export', `${how} on attempt ${event.attempt}, lease renewed ${renewals} times, run once`, event.timestamp);
      else say(event.task, `attempt ${event.attempt} → ${how}`, event.timestamp);
      return;
    }
    case 'LeaseLost':
      say('lease', `LOST ${event.key} (${event.reason})`, event.timestamp);
      return;
    default:
      return;
  }
});

// ---- the scenario ---------------------------------------------------------------------------

const everyFive = cron('*/5 * * * * *');
const everyTwo = interval('2s');
console.log(`jobchart demo: one node, in-memory store, capacity ${CAPACITY}, lease 1.5 s, ${seconds} s\n`);
for (const [id, trigger] of [['report-every-5s', everyFive], ['heartbeat-every-2s', everyTwo]] as const) {
  const next = upcomingFireTimes(trigger, new Date(), 3).map((d) => d.toISOString().slice(11, 19));
  console.log(`  schedule ${id.padEnd(19)} ${describeTrigger(trigger).padEnd(24)} next ${next.join(', ')}`);
}
console.log('');

await rt.start();
say('node', `${rt.nodeId} started: tasks ${rt.taskNames.join(', ')}`);
await rt.addSchedule({ id: 'report-every-5s', task: 'report', trigger: everyFive });
await rt.addSchedule({ id: 'heartbeat-every-2s', task: 'heartbeat', trigger: everyTwo });
const longJob = await rt.addJob({ id: 'long-export', task: 'long-export' });
const flaky = rt.runJob('flaky-upload');
burst.startedAt = Date.now();
const burstIds = await rt.addJobs(Array.from({ length: BURST }, (_, n) => ({ task: 'resize-image', args: { n } })));
for (const id of burstIds) burst.ids.add(id);
say('resize-image', `burst: ${BURST} jobs added at once, ${CAPACITY} slots: a freed slot starts the next (SLOT_RELEASED)`);

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());
await sleep(seconds * 1000, stop.signal);

// ---- the summary ----------------------------------------------------------------------------

const { jobs } = await rt.listJobs({ limit: 10_000 });
const byTask = new Map<string, JobInfo[]>();
for (const job of jobs) byTask.set(job.task, [...(byTask.get(job.task) ?? []), job]);
const rows = [['TASK', 'JOBS', 'SUCCEEDED', 'FAILED', 'UNFINISHED', 'ATTEMPTS', 'AVG RUN']];
for (const task of rt.taskNames) {
  const mine = byTask.get(task) ?? [];
  const finished = mine.filter((j) => j.state === 'done');
  const runs = mine.flatMap((j) => j.attempts).filter((a) => a.startedAt && a.endedAt);
  const avg = runs.length ? runs.reduce((sum, a) => sum + (a.endedAt!.getTime() - a.startedAt!.getTime()), 0) / runs.length : null;
  rows.push([
    task,
    String(mine.length),
    String(finished.filter((j) => j.result?.outcome === 'success').length),
    String(finished.filter((j) => j.result?.outcome !== 'success').length),
    String(mine.length - finished.length),
    String(mine.reduce((sum, j) => sum + j.attempts.filter((a) => a.outcome !== 'running').length, 0)),
    avg === null ? '-' : avg < 1000 ? `${Math.round(avg)} ms` : `${(avg / 1000).toFixed(1)} s`,
  ]);
}
console.log('\nsummary');
for (const line of columns(rows)) console.log(`  ${line}`);

const long = await rt.getJobResult(longJob);
const flakyOutcome = await Promise.race([flaky.then((v) => `${String(v)} after ${flakyRuns} runs`, (e: Error) => e.message), sleep(0).then(() => 'pending')]);
console.log('');
console.log(`  burst of ${BURST} at capacity ${CAPACITY}: ${burst.done} succeeded, at most ${burst.maxRunning} at once (beside the long export)`);
console.log(`  long-export: ${long ? `${long.outcome} on attempt ${long.attempt}, lease renewed ${renewals} times: ${String(long.returnValue)}` : 'still running'}`);
console.log(`  flaky-upload: ${flakyOutcome}`);
await rt.stop({ drain: false });
console.log('demo node stopped');
