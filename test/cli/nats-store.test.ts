/**
 * The CLI against real nats-servers, as child processes: a node that finds its store through
 * JOBCHART_NATS (no --nats) and admin commands through NATS_URL; `schedule add` on an existing id
 * (kept, and said so; --replace); `schedule rm` of a missing id (exit 2, nothing announced);
 * `job result` while pending (exit 3); a failed job as one line (exit 1); bad input that writes
 * nothing; token and user/password auth from flags and variables; --replicas refused by a lone server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNatsServerBinary, freePort, startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { spawnNatsServer, stopNatsProcess } from '../support/nats-process.js';
import { runChild, startNode, type RunningNode } from './support/run-jobchart.js';

const TASKS = `export const tasks = {
  greet: (args) => 'hello ' + (args?.name ?? 'world'),
  slow: (args, ctx) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve('slept'), args?.ms ?? 0);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new Error('aborted'));
      });
    }),
  fail: () => { throw new TypeError('boom'); },
};
`;

describe('jobchart against a NATS store found through the environment', () => {
  let server: NatsServerHandle;
  let dir: string;
  let node: RunningNode;
  let env: NodeJS.ProcessEnv;
  const admin = (args: string[]): ReturnType<typeof runChild> => runChild(args, { env, cwd: dir });

  beforeAll(async () => {
    server = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'jobchart-cli-nats-'));
    writeFileSync(join(dir, 'tasks.mjs'), TASKS);
    // The node gets its store only from JOBCHART_NATS (+ JOBCHART_PREFIX); admin commands from NATS_URL.
    node = await startNode(['--tasks', './tasks.mjs', '--lease', '1s', '--poll', '200ms', '--node-id', 'env-node'], { JOBCHART_NATS: server.url, JOBCHART_PREFIX: 'clienv' }, dir);
    env = { NATS_URL: server.url, JOBCHART_PREFIX: 'clienv' };
  }, 60_000);

  afterAll(async () => {
    if (node) {
      node.child.kill('SIGKILL');
      await node.stop();
    }
    await server?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('node uses JOBCHART_NATS (it used to run on the memory store without --nats) and says where the URL came from', async () => {
    expect(node.output()).toContain(`jobchart node env-node (both) on ${server.url} (from JOBCHART_NATS); tasks: greet, slow, fail`);
    const status = await admin(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ nodes: [{ nodeId: 'env-node', role: 'both', tasks: ['greet', 'slow', 'fail'] }] });
  }, 60_000);

  it('schedule add on an existing id keeps it, prints it, and says how to replace it; --replace replaces it', async () => {
    const added = await admin(['schedule', 'add', '--id', 'nightly', '--task', 'greet', '--cron', '0 2 * * *']);
    expect(added).toMatchObject({ code: 0, stderr: '' });
    expect(added.stdout).toMatch(/^added nightly\tgreet\tcron "0 2 \* \* \*" in UTC\tnext: /);
    const again = await admin(['schedule', 'add', '--id', 'nightly', '--task', 'greet', '--cron', '0 3 * * *']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^kept nightly\tgreet\tcron "0 2 \* \* \*" in UTC\tnext: /);
    expect(again.stderr).toBe('jobchart: schedule "nightly" already exists and was kept as it is; use --replace to replace it\n');
    const replaced = await admin(['schedule', 'add', '--id', 'nightly', '--task', 'greet', '--cron', '0 3 * * *', '--replace', '--json']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(JSON.parse(replaced.stdout)).toMatchObject({ action: 'replaced', schedule: { id: 'nightly', trigger: { kind: 'cron', expression: '0 3 * * *' } } });
    const list = await admin(['schedule', 'list']);
    expect(list.stdout).toMatch(/^nightly\tgreet\tcron "0 3 \* \* \*" in UTC\tnext: /);
    const removed = await admin(['schedule', 'rm', 'nightly']);
    expect(removed).toMatchObject({ code: 0, stdout: 'removed nightly\n' });
  }, 90_000);

  it('schedule rm / pause / resume of a missing id exit 2 with one message, and no node hears ScheduleRemoved', async () => {
    for (const sub of ['rm', 'pause', 'resume']) {
      const run = await admin(['schedule', sub, 'never-existed']);
      expect(run, sub).toMatchObject({ code: 2, stdout: '', stderr: 'jobchart: no schedule with id "never-existed"; list them with `jobchart schedule list`\n' });
    }
    // Events reach the node within milliseconds; give a lost one time to show up.
    await new Promise((r) => setTimeout(r, 500));
    expect(node.output()).not.toContain('scheduleId=never-existed');
  }, 60_000);

  it('job result exits 3 while the job runs and 1 once it was cancelled; a success prints its value; a failure is one line, exit 1', async () => {
    // Long enough to outlast the slowest CLI start on a loaded machine; it ends by job cancel.
    const added = await admin(['job', 'add', '--task', 'slow', '--args', '{"ms":120000}']);
    expect(added.code, added.stderr).toBe(0);
    const id = added.stdout.trim();
    const pending = await admin(['job', 'result', id]);
    expect(pending).toMatchObject({ code: 3, stdout: `${id}\tpending\n` });
    expect(pending.stderr).toBe(`jobchart: job ${id} has no result yet; ask again with \`jobchart job result ${id} --wait\`\n`);
    const waitedTooLittle = await admin(['job', 'result', id, '--wait', '--timeout', '200ms']);
    expect(waitedTooLittle.code).toBe(3);
    expect(waitedTooLittle.stderr).toContain('no result yet after waiting 200ms');
    const cancelled = await admin(['job', 'cancel', id]);
    expect(cancelled).toMatchObject({ code: 0, stdout: `cancelled ${id}\n` });
    const ended = await admin(['job', 'result', id]);
    expect(ended.code).toBe(1);
    expect(ended.stdout).toMatch(new RegExp(`^${id}\tcancelled\t`));
    const cancelledAgain = await admin(['job', 'cancel', id]);
    expect(cancelledAgain).toMatchObject({ code: 1, stdout: `${id} had already ended; nothing to cancel\n` });

    const quick = await admin(['job', 'add', '--task', 'slow', '--args', '{"ms":10}', '--wait', '--timeout', '30s']);
    expect(quick.code, quick.stderr).toBe(0);
    expect(quick.stdout).toMatch(/^[0-9a-f-]{36}\tsuccess\t"slept"\n$/);
    const failed = await admin(['job', 'add', '--task', 'fail', '--wait', '--timeout', '30s']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^[0-9a-f-]{36}\terror\tTypeError: boom\n$/);
  }, 120_000);

  it('a bad flag value stops job add before the job is written (it used to be added and run)', async () => {
    const before = (node.output().match(/JobAdded/g) ?? []).length;
    const run = await admin(['job', 'add', '--task', 'greet', '--timeout', '1x', '--wait']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^jobchart: --timeout "1x" is not a duration/);
    const check = await admin(['job', 'add', '--task', 'greet', '--wait', '--timeout', '20s']);
    expect(check.code).toBe(0);
    // Only the job of the well-formed command was added.
    const deadline = Date.now() + 5_000;
    while ((node.output().match(/JobAdded/g) ?? []).length < before + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect((node.output().match(/JobAdded/g) ?? []).length).toBe(before + 1);
  }, 60_000);

  it('node --replicas 3 on a server outside a JetStream cluster exits 1 with the refusal in one line; a bad count exits 2', async () => {
    const refused = await runChild(['node', '--nats', server.url, '--prefix', 'clir3', '--replicas', '3'], { cwd: dir });
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/replicas 3/);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    const bad = await runChild(['node', '--nats', server.url, '--prefix', 'clir3'], { cwd: dir, env: { JOBCHART_NATS_REPLICAS: '2' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('jobchart: JOBCHART_NATS_REPLICAS "2": use 1, or 3 or 5 on a JetStream cluster of at least as many servers\n');
  }, 60_000);

  it('SIGTERM drains the node and it exits 0', async () => {
    expect(await node.stop()).toBe(0);
    expect(node.output()).toMatch(/NodeStopped +reason=drain/);
  }, 30_000);
});

describe('jobchart with NATS auth', () => {
  const servers: { url: string; stop: () => Promise<void> }[] = [];
  let dir: string;

  async function authServer(args: string[]): Promise<string> {
    const bin = findNatsServerBinary();
    if (!bin) throw new Error('nats-server not found');
    const port = await freePort();
    const storeDir = mkdtempSync(join(tmpdir(), 'jobchart-cli-auth-'));
    const proc = await spawnNatsServer(bin, ['-js', '-sd', storeDir, '-p', String(port), '-a', '127.0.0.1', ...args], 10_000);
    servers.push({
      url: `nats://127.0.0.1:${port}`,
      stop: async () => {
        await stopNatsProcess(proc);
        rmSync(storeDir, { recursive: true, force: true });
      },
    });
    return `nats://127.0.0.1:${port}`;
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'jobchart-cli-auth-tasks-'));
    writeFileSync(join(dir, 'tasks.mjs'), TASKS);
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('--token / JOBCHART_NATS_TOKEN; without it the refusal names the URL and the flags to check', async () => {
    const url = await authServer(['--auth', 's3cret']);
    const refused = await runChild(['status', '--nats', url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`jobchart: cannot connect to ${url}: authorization violation (check --user/--password, --token or --creds)\n`);
    const byFlag = await runChild(['status', '--nats', url, '--token', 's3cret']);
    expect(byFlag.code, byFlag.stderr).toBe(0);
    const node = await startNode(['--quiet', '--tasks', './tasks.mjs'], { JOBCHART_NATS: url, JOBCHART_NATS_TOKEN: 's3cret' }, dir);
    try {
      const status = await runChild(['status', '--json'], { env: { JOBCHART_NATS: url, JOBCHART_NATS_TOKEN: 's3cret' } });
      expect(status.code, status.stderr).toBe(0);
      expect((JSON.parse(status.stdout) as { nodes: unknown[] }).nodes).toHaveLength(1);
    } finally {
      expect(await node.stop()).toBe(0);
    }
  }, 90_000);

  it('--user/--password and JOBCHART_NATS_USER/_PASSWORD', async () => {
    const url = await authServer(['--user', 'ops', '--pass', 'pw']);
    const wrong = await runChild(['schedule', 'list', '--nats', url, '--user', 'ops', '--password', 'nope']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^jobchart: cannot connect to nats:\/\/127\.0\.0\.1:\d+: authorization violation/);
    const byFlags = await runChild(['schedule', 'list', '--nats', url, '--user', 'ops', '--password', 'pw']);
    expect(byFlags).toMatchObject({ code: 0, stdout: '(no schedules)\n' });
    const byEnv = await runChild(['schedule', 'list'], { env: { NATS_URL: url, JOBCHART_NATS_USER: 'ops', JOBCHART_NATS_PASSWORD: 'pw' } });
    expect(byEnv).toMatchObject({ code: 0, stdout: '(no schedules)\n' });
  }, 60_000);
});
