/**
 * `npm start`: a demo node on the embedded in-memory store. It registers a few tasks, adds a cron
 * schedule, an interval schedule, a long job that outlives its lease several times (renewed, never
 * run twice), a flaky job that succeeds on its third attempt, and a burst of jobs above the node's
 * capacity (freed slots wake the worker), and prints the cluster events as they happen. It stops by
 * itself after DEMO_SECONDS (default 15) or on Ctrl-C.
 */
import { formatEvent } from './cli/event-format.js';
import { createRuntime } from './runtime/runtime.js';
import { cron, describeTrigger, interval, upcomingFireTimes } from './triggers/index.js';

const seconds = Number(process.env['DEMO_SECONDS'] ?? 15);
const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

const rt = await createRuntime({ nodeId: 'demo-node', maxConcurrentJobs: 4, leaseDuration: '1500ms', pollInterval: '500ms' });

rt.task('report', (_args, ctx) => `report for ${ctx.scheduledFireTime?.toISOString() ?? 'now'}`);
rt.task('heartbeat', () => 'ok');
rt.task('long-export', async (_args, ctx) => {
  await sleep(5_000, ctx.signal);
  if (ctx.signal.aborted) throw new Error('aborted');
  return 'exported 5 s of work under a 1.5 s lease';
});
let flakyRuns = 0;
rt.task(
  'flaky-upload',
  () => {
    flakyRuns++;
    if (flakyRuns < 3) throw new Error(`upstream hiccup #${flakyRuns}`);
    return 'uploaded';
  },
  { retry: { attempts: 3, backoff: { initial: '200ms', max: '1s', factor: 2 } } },
);
rt.task('resize-image', async ({ n }: { n: number }) => {
  await sleep(150 + (n % 5) * 50);
  return `image ${n} resized`;
});

const quiet = new Set(['JobAcquired']);
rt.on('*', (event) => {
  if (!quiet.has(event.type)) console.log(formatEvent(event));
});

const everyFive = cron('*/5 * * * * *');
const everyTwo = interval('2s');
console.log('jobchart demo: one node, in-memory store, capacity 4, lease 1.5 s\n');
for (const trigger of [everyFive, everyTwo]) {
  const next = upcomingFireTimes(trigger, new Date(), 3).map((d) => d.toISOString().slice(11, 19));
  console.log(`schedule ${describeTrigger(trigger)} → next ${next.join(', ')}`);
}
console.log('');

await rt.start();
await rt.addSchedule({ id: 'report-every-5s', task: 'report', trigger: everyFive });
await rt.addSchedule({ id: 'heartbeat-every-2s', task: 'heartbeat', trigger: everyTwo });
const longJob = await rt.addJob({ id: 'long-export', task: 'long-export' });
const flaky = rt.runJob('flaky-upload');
const burst = await Promise.all(Array.from({ length: 20 }, (_, n) => rt.addJob({ task: 'resize-image', args: { n } })));

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());
await sleep(seconds * 1000, stop.signal);

const results = await Promise.all(burst.map((id) => rt.getJobResult(id)));
const long = await rt.getJobResult(longJob);
console.log('\nsummary:');
console.log(`  burst of 20 at capacity 4: ${results.filter((r) => r?.outcome === 'success').length} succeeded`);
console.log(`  long-export: ${long ? `${long.outcome} on attempt ${long.attempt}: ${String(long.returnValue)}` : 'still running'}`);
console.log(`  flaky-upload: ${await Promise.race([flaky.then((v) => `${String(v)} after ${flakyRuns} runs`, (e: Error) => e.message), sleep(0).then(() => 'pending')])}`);
await rt.stop({ drain: false });
console.log('demo node stopped');
