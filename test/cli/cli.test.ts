/**
 * The `jobchart` command line, as a user runs it: a node as a child process on a real nats-server
 * with a tasks module, and admin commands (schedule add/list/pause/rm, job add/result, status)
 * against the same store.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';

const bin = fileURLToPath(new URL('../../bin/jobchart.js', import.meta.url));
const tasksModule = fileURLToPath(new URL('../fixtures/cli-tasks.mjs', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function jobchart(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? ((error as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

describe('jobchart CLI', () => {
  let server: NatsServerHandle;
  let node: ChildProcess;
  let nodeOut = '';
  const nats = (): string[] => ['--nats', server.url, '--prefix', 'clitest'];

  beforeAll(async () => {
    server = await startNatsServer();
    node = spawn(process.execPath, [bin, 'node', ...nats(), '--tasks', tasksModule, '--lease', '1s', '--poll', '300ms', '--node-id', 'cli-node'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    node.stdout?.on('data', (chunk: Buffer) => (nodeOut += chunk.toString()));
    node.stderr?.on('data', (chunk: Buffer) => (nodeOut += chunk.toString()));
    // Generous: the machine has two cores shared with other suites.
    const deadline = Date.now() + 45_000;
    while (!nodeOut.includes('NodeStarted')) {
      if (Date.now() > deadline) throw new Error(`node did not start:\n${nodeOut}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 90_000);

  afterAll(async () => {
    if (node && node.exitCode === null) {
      node.kill('SIGKILL');
      await new Promise((r) => node.once('exit', r));
    }
    await server?.dispose();
  });

  it('schedule add/list: the node runs the schedule from its tasks module', async () => {
    const added = await jobchart(['schedule', 'add', ...nats(), '--task', 'greet', '--interval', '1s', '--id', 'greeter', '--args', '{"name":"cli"}']);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^added greeter\tgreet\tevery 1s/);
    const list = await jobchart(['schedule', 'list', ...nats(), '--json']);
    expect(list.code).toBe(0);
    const schedules = JSON.parse(list.stdout) as { id: string; task: string; paused: boolean }[];
    expect(schedules).toMatchObject([{ id: 'greeter', task: 'greet', paused: false }]);
    const deadline = Date.now() + 30_000;
    while ((nodeOut.match(/JobReleased .*scheduleId=greeter .*outcome=success/g) ?? []).length < 2) {
      if (Date.now() > deadline) throw new Error(`schedule did not fire twice:\n${nodeOut}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const paused = await jobchart(['schedule', 'pause', 'greeter', ...nats(), '--json']);
    expect(paused.code).toBe(0);
    expect(JSON.parse(paused.stdout)).toMatchObject({ id: 'greeter', paused: true });
    const removed = await jobchart(['schedule', 'rm', 'greeter', ...nats()]);
    expect(removed).toMatchObject({ code: 0, stdout: 'removed greeter\n' });
  }, 90_000);

  it('job add --wait and job result print the outcome; status lists the node and its tasks', async () => {
    const job = await jobchart(['job', 'add', ...nats(), '--task', 'greet', '--args', '{"name":"x"}', '--wait', '--timeout', '10s', '--json']);
    expect(job.code).toBe(0);
    const { jobId, result } = JSON.parse(job.stdout) as { jobId: string; result: { outcome: string; returnValue: unknown } };
    expect(result).toMatchObject({ outcome: 'success', returnValue: 'hello x' });
    const again = await jobchart(['job', 'result', jobId, ...nats()]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`${jobId}\tsuccess\t"hello x"\n`);
    const status = await jobchart(['status', ...nats(), '--json']);
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as { nodes: { nodeId: string; role: string; tasks: string[] }[] };
    expect(parsed.nodes).toMatchObject([{ nodeId: 'cli-node', role: 'both', tasks: ['greet', 'slow'] }]);
  }, 90_000);

  it('usage errors exit 2 with one line; a job for a task no node registers is queued with a note', async () => {
    const bogus = await jobchart(['bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toBe('jobchart: unknown command "bogus" (try: jobchart help)\n');
    const noNats = await jobchart(['schedule', 'list']);
    expect(noNats.code).toBe(2);
    expect(noNats.stderr).toMatch(/^jobchart: admin commands need --nats/);
    const noTrigger = await jobchart(['schedule', 'add', ...nats(), '--task', 'greet']);
    expect(noTrigger).toMatchObject({ code: 2, stderr: 'jobchart: give exactly one of --cron, --interval, --date\n' });
    const unknown = await jobchart(['job', 'add', ...nats(), '--task', 'nope']);
    expect(unknown.code).toBe(0);
    expect(unknown.stderr).toMatch(/^jobchart: no live worker registers task "nope" yet; job \S+ waits in the queue until one does/);
  }, 90_000);

  it('SIGTERM drains the node and it exits 0', async () => {
    const exited = new Promise<number | null>((r) => node.once('exit', (code) => r(code)));
    node.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(nodeOut).toMatch(/NodeStopped +reason=drain/);
  }, 90_000);
});
