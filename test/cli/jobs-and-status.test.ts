/**
 * `jobchart job list`, `job show ID` and `status` against a real nats-server, with a worker node in
 * this process: jobs that succeeded, failed after retries (with log lines and progress), wait for a
 * task no node runs, and run now. Text for people (one readable line per error, every attempt with
 * its stack and log lines) and one JSON line with --json; pages with --limit/--cursor; bad flags
 * exit 2 before connecting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, natsStore, type JobContext, type Runtime } from '../../src/index.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { runInProcess } from './support/run-jobchart.js';

const PREFIX = 'clijobs';

describe('jobchart job list / job show / status', () => {
  let server: NatsServerHandle;
  let worker: Runtime;
  let release!: () => void;
  const ids: Record<string, string> = {};
  const nats = (): string[] => ['--nats', server.url, '--prefix', PREFIX];
  const run = (args: string[]): ReturnType<typeof runInProcess> => runInProcess([...args, ...nats()]);

  beforeAll(async () => {
    server = await startNatsServer();
    worker = await createRuntime({ store: natsStore({ servers: server.url, prefix: PREFIX }), nodeId: 'cli-worker', leaseDuration: '1s', pollInterval: '200ms' });
    const blocked = new Promise<void>((r) => (release = r));
    worker.task('greet', (args: { name: string }) => `hello ${args.name}`);
    worker.task(
      'upload',
      (args: { file: string }, ctx: JobContext) => {
        ctx.log('uploading %s, attempt %d', args.file, ctx.attempt);
        ctx.progress({ sent: ctx.attempt * 10 });
        throw new RangeError(`upstream refused ${args.file} (#${ctx.attempt})`);
      },
      { retry: { attempts: 2, backoff: '20ms' } },
    );
    worker.task('hold', async (_: null, ctx: JobContext) => {
      ctx.progress(0.5);
      await blocked;
      return 'held';
    });
    await worker.start();
    ids['greet'] = await worker.addJob({ task: 'greet', args: { name: 'cli' } });
    ids['upload'] = await worker.addJob({ task: 'upload', args: { file: 'report.pdf' } });
    await worker.getJobResult(ids['greet'], { wait: true, timeout: '10s' });
    await worker.getJobResult(ids['upload'], { wait: true, timeout: '10s' });
    ids['later'] = await worker.addJob({ task: 'nobody-runs-this', args: { n: 1 } });
    ids['hold'] = await worker.addJob({ task: 'hold', args: null });
    const deadline = Date.now() + 10_000;
    while ((await worker.getJob(ids['hold'])).progress === undefined) {
      if (Date.now() > deadline) throw new Error('the held job did not report progress');
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 60_000);

  afterAll(async () => {
    release?.();
    await worker?.stop({ drain: false });
    await server?.dispose();
  });

  it('job list: a table newest first, filters by state (succeeded, failed, queued, running), task and schedule', async () => {
    const all = await run(['job', 'list']);
    expect(all.code, all.stderr).toBe(0);
    const lines = all.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +TASK +STATE +ATTEMPT +CREATED +DETAIL$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([ids['hold'], ids['later'], ids['upload'], ids['greet']]);
    expect(all.stdout).toMatch(new RegExp(`${ids['greet']}\\s+greet\\s+success\\s+1\\s+\\S+ \\S+\\s+→ "hello cli"`));
    expect(all.stdout).toMatch(new RegExp(`${ids['upload']}\\s+upload\\s+error\\s+2\\s+.*RangeError: upstream refused report\\.pdf \\(#2\\)$`, 'm'));
    expect(all.stdout).toMatch(new RegExp(`${ids['hold']}\\s+hold\\s+running\\s+1\\s+.*on cli-worker for .*progress 0\\.5`));
    expect(all.stdout).toMatch(new RegExp(`${ids['later']}\\s+nobody-runs-this\\s+queued\\s+1`));

    const firstColumn = (stdout: string): string[] => stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/\s+/)[0] ?? '');
    expect(firstColumn((await run(['job', 'list', '--state', 'failed'])).stdout)).toEqual([ids['upload']]);
    expect(firstColumn((await run(['job', 'list', '--state', 'succeeded'])).stdout)).toEqual([ids['greet']]);
    expect(firstColumn((await run(['job', 'list', '--state', 'queued'])).stdout)).toEqual([ids['later']]);
    expect(firstColumn((await run(['job', 'list', '--state', 'running'])).stdout)).toEqual([ids['hold']]);
    expect(firstColumn((await run(['job', 'list', '--task', 'greet'])).stdout)).toEqual([ids['greet']]);
    expect((await run(['job', 'list', '--schedule', 'none'])).stdout).toBe('(no jobs)\n');
  });

  it('job list --json prints { jobs, nextCursor }; --limit pages and says how to get the next page', async () => {
    const json = await run(['job', 'list', '--json', '--state', 'done']);
    const parsed = JSON.parse(json.stdout) as { jobs: { id: string; attempts: { outcome: string }[] }[]; nextCursor: string | null };
    expect(parsed.nextCursor).toBeNull();
    expect(parsed.jobs.map((j) => [j.id, j.attempts.map((a) => a.outcome)])).toEqual([
      [ids['upload'], ['error', 'error']],
      [ids['greet'], ['success']],
    ]);

    const first = await run(['job', 'list', '--limit', '3']);
    expect(first.stdout.trimEnd().split('\n')).toHaveLength(4);
    const next = /--cursor (\S+)\n$/.exec(first.stderr)?.[1];
    expect(first.stderr).toMatch(/^jobchart: more jobs: jobchart job list --limit 3 --cursor \S+\n$/);
    const second = await run(['job', 'list', '--limit', '3', '--cursor', next!]);
    expect(second.stdout.trimEnd().split('\n').slice(1).map((l) => l.split(/\s+/)[0])).toEqual([ids['greet']]);
    expect(second.stderr).toBe('');
  });

  it('job show: the record, the result as one line, every attempt with node, times, error and stack, log lines and progress', async () => {
    const shown = await run(['job', 'show', ids['upload']!]);
    expect(shown.code, shown.stderr).toBe(0);
    const text = shown.stdout;
    expect(text).toMatch(new RegExp(`^job ${ids['upload']}\n  task +upload\n  state +done: error\n`));
    expect(text).toMatch(/^ {2}result +error: RangeError: upstream refused report\.pdf \(#2\)$/m);
    expect(text).toContain('attempts (2):');
    expect(text).toMatch(/^ {2}#1 {2}error {2}on cli-worker {2}\S+ \S+ → \S+ \S+ \(\d+ms\)$/m);
    expect(text).toMatch(/^ {6}next attempt not before \S+ \S+$/m);
    expect(text).toMatch(/^ {6}RangeError: upstream refused report\.pdf \(#1\)$/m);
    expect(text).toMatch(/^ {8}at .*cli[\\/]jobs-and-status\.test\.ts/m); // the stack's frames
    expect(text).toMatch(/^ {6}progress \{"sent":10\}$/m);
    expect(text).toMatch(/^ {2}#2 {2}error {2}on cli-worker/m);
    expect(text).toMatch(/^ {6}log \d\d:\d\d:\d\d\.\d{3} {2}uploading report\.pdf, attempt 1$/m);
    expect(text).toMatch(/^ {6}log \d\d:\d\d:\d\d\.\d{3} {2}uploading report\.pdf, attempt 2$/m);

    const running = await run(['job', 'show', ids['hold']!]);
    expect(running.stdout).toMatch(/^ {2}state +running \(attempt 1\)$/m);
    expect(running.stdout).toMatch(/^ {2}#1 {2}running {2}on cli-worker/m);
    expect(running.stdout).toMatch(/^ {2}progress +0\.5$/m);
    const queued = await run(['job', 'show', ids['later']!]);
    expect(queued.stdout).toMatch(/^ {2}args +\{"n":1\}$/m);
    expect(queued.stdout).toContain('attempts: none yet');

    const json = await run(['job', 'show', ids['upload']!, '--json']);
    const record = JSON.parse(json.stdout) as { id: string; state: string; attempts: { error: { stack: string } }[] };
    expect(record).toMatchObject({ id: ids['upload'], state: 'done' });
    expect(record.attempts[0]?.error.stack).toMatch(/^RangeError: upstream refused report\.pdf \(#1\)\n\s+at /);

    const missing = await run(['job', 'show', 'never-added']);
    expect(missing).toMatchObject({ code: 2, stdout: '', stderr: 'jobchart: no job with id "never-added" (never added, or its result expired after its --result-ttl)\n' });
  });

  it('status: nodes, the queue per task, running jobs with node and since, failures of the last interval, internal leases apart', async () => {
    const status = await run(['status']);
    expect(status.code, status.stderr).toBe(0);
    const text = status.stdout;
    expect(text).toMatch(/^nodes \(1\):\n {2}cli-worker +both +running 1\/100 +leases: \d+ schedule partitions, 0 task slots +tasks: greet,upload,hold$/m);
    expect(text).toMatch(/^queue: 1 waiting \(nobody-runs-this 1\); \d+ in the dispatch queue$/m);
    expect(text).toMatch(new RegExp(`^running \\(1\\):\\n {2}${ids['hold']} +hold +attempt 1 +on cli-worker +since \\S+ \\(.+\\) +progress 0\\.5$`, 'm'));
    expect(text).toMatch(/^failures in the last 1h: 1 job failed \(error 1\); 1 attempt failed and retried$/m);
    expect(text).toMatch(new RegExp(`^ {2}${ids['upload']} {2}upload {2}error {2}RangeError: upstream refused report\\.pdf \\(#2\\) {2}at `, 'm'));
    expect(text).toMatch(/^leases: \d+ schedule partitions, 0 task slots; internal: (none|maintenance\.result-sweep \(.+\))$/m);

    const json = JSON.parse((await run(['status', '--json', '--since', '1s'])).stdout) as {
      nodes: { nodeId: string }[];
      queue: { waiting: number; byTask: Record<string, number>; depth: number };
      running: { id: string; nodeId: string; startedAt: string }[];
      failures: { jobs: number; retriedAttempts: number };
      leases: { key: string }[];
      internalLeases: { key: string }[];
    };
    expect(json.nodes.map((n) => n.nodeId)).toEqual(['cli-worker']);
    expect(json.queue).toMatchObject({ waiting: 1, byTask: { 'nobody-runs-this': 1 } });
    expect(json.queue.depth).toBeGreaterThanOrEqual(1);
    expect(json.running).toMatchObject([{ id: ids['hold'], nodeId: 'cli-worker' }]);
    expect(json.leases.every((l) => !l.key.startsWith('maintenance.'))).toBe(true);
    expect(json.internalLeases.every((l) => l.key.startsWith('maintenance.'))).toBe(true);
    // A window that ended before the failures: none counted.
    await new Promise((r) => setTimeout(r, 1100));
    const later = JSON.parse((await run(['status', '--json', '--since', '1s'])).stdout) as typeof json;
    expect(later.failures).toMatchObject({ jobs: 0, retriedAttempts: 0 });
  });
});

describe('bad flags of job list / job show / status exit 2 before connecting', () => {
  it.each([
    [['job', 'list', '--state', 'bogus'], /^option '--state <state>' argument 'bogus' is invalid\. Allowed choices are queued, running, done, succeeded, failed, success, error/],
    [['job', 'list', '--limit', '0'], /^--limit must be a whole number >= 1, got "0"$/],
    [['job', 'show'], /^missing required argument 'id' \(see: jobchart job show --help\)$/],
    [['job', 'show', 'a', 'b'], /^too many arguments for 'show'/],
    [['status', '--since', 'soon'], /^--since "soon" is not a duration/],
  ])('jobchart %j', async (args, message) => {
    const dead = `nats://127.0.0.1:${await freePort()}`;
    const run = await runInProcess([...args, '--nats', dead]);
    expect(run.code).toBe(2);
    expect(run.stderr.replace(/^jobchart: /, '').trimEnd()).toMatch(message);
  });
});
