/**
 * `jobchart node --metrics --log-level --log-format`, as a child process on the memory store with a
 * tasks module whose schedule fires a task that logs and fails once: /metrics is served at the
 * address the node prints and parses as Prometheus text; log lines on stderr are JSON objects at the
 * chosen level (or pino-pretty text), events stay on stdout; bad values exit 2.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../support/prometheus-text.js';
import { childEnv, jobchartBin, runInProcess } from './support/run-jobchart.js';

const tasksModule = fileURLToPath(new URL('../fixtures/cli-observed-tasks.mjs', import.meta.url));

interface NodeRun {
  stdout: () => string;
  stderr: () => string;
  waitFor(what: RegExp, on: 'stdout' | 'stderr', timeoutMs?: number): Promise<RegExpExecArray>;
  stop(): Promise<number | null>;
}

function startNode(args: string[]): NodeRun {
  const child = spawn(process.execPath, [jobchartBin, 'node', '--memory', '--tasks', tasksModule, '--lease', '1s', '--poll', '200ms', '--node-id', 'observed', ...args], {
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    async waitFor(what, on, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = what.exec(on === 'stdout' ? stdout : stderr);
        if (match) return match;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${what} on ${on}:\n${stdout}\n---\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('jobchart node: metrics and logs', () => {
  it('--metrics serves /metrics at the printed address; --log-format json --log-level debug writes parseable JSON lines to stderr', async () => {
    const node = startNode(['--metrics', '127.0.0.1:0', '--log-format', 'json', '--log-level', 'debug']);
    try {
      const [, url] = await node.waitFor(/; metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics);/, 'stderr');
      await node.waitFor(/JobReleased +task=wobbly .*outcome=success/, 'stdout');
      const response = await fetch(url!);
      expect(response.status).toBe(200);
      const metrics = parsePrometheusText(await response.text());
      expect(metrics.value('jobchart_jobs_added_total', { task: 'wobbly' })).toBeGreaterThanOrEqual(1);
      expect(metrics.value('jobchart_jobs_finished_total', { task: 'wobbly', outcome: 'success' })).toBeGreaterThanOrEqual(1);
      expect(metrics.value('jobchart_job_retries_total', { task: 'wobbly' })).toBeGreaterThanOrEqual(1);
      expect(metrics.value('jobchart_schedule_fire_lateness_seconds_count', { task: 'wobbly' })).toBeGreaterThanOrEqual(1);
      expect(metrics.value('jobchart_worker_slots')).toBe(100);
      // The retry is an event with its error, one readable line.
      expect(node.stdout()).toMatch(/JobRetryScheduled +task=wobbly .*attempt=1 outcome=error next=attempt 2 at \S+ error="RangeError: first try fails"/);
    } finally {
      expect(await node.stop()).toBe(0);
    }
    const logLines = node
      .stderr()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; msg: string; nodeId: string; [k: string]: unknown });
    expect(logLines.length).toBeGreaterThan(3);
    expect(logLines.every((l) => l.nodeId === 'observed' && typeof l.time === 'number')).toBe(true);
    expect(logLines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ level: 30, msg: expect.stringMatching(/^serving metrics on http:\/\/127\.0\.0\.1:\d+\/metrics$/) }),
        expect.objectContaining({ level: 30, msg: 'node observed started (both)', tasks: ['wobbly'] }),
        expect.objectContaining({ level: 20, msg: 'wobbly attempt 1', task: 'wobbly', attempt: 1 }),
        expect.objectContaining({ level: 20, outcome: 'error', nextAttempt: 2, error: { name: 'RangeError', message: 'first try fails' } }),
        expect.objectContaining({ level: 30, msg: 'node observed stopped', reason: 'drain' }),
      ]),
    );
    // Events stay on stdout, logs on stderr.
    expect(node.stdout()).not.toContain('"level"');
  }, 60_000);

  it('--log-level warn hides info and debug; --log-format pretty writes text', async () => {
    const quiet = startNode(['--log-level', 'warn', '--log-format', 'json']);
    await quiet.waitFor(/JobReleased +task=wobbly .*outcome=success/, 'stdout');
    expect(await quiet.stop()).toBe(0);
    expect(quiet.stderr().split('\n').filter((l) => l.startsWith('{'))).toEqual([]);

    const pretty = startNode(['--log-format', 'pretty']);
    await pretty.waitFor(/JobReleased +task=wobbly .*outcome=success/, 'stdout');
    expect(await pretty.stop()).toBe(0);
    expect(pretty.stderr()).toMatch(/INFO.*node observed started \(both\)/);
    expect(pretty.stderr()).not.toMatch(/^\{/m);
  }, 60_000);

  it.each([
    [['--metrics', 'localhost'], /^--metrics "localhost" is not an address to listen on; use host:port/],
    [['--log-level', 'loud'], /^option '--log-level <level>' argument 'loud' is invalid\. Allowed choices are fatal, error, warn, info, debug, trace, silent/],
    [['--log-format', 'xml'], /^option '--log-format <format>' argument 'xml' is invalid\. Allowed choices are json, pretty/],
  ])('jobchart node %j exits 2', async (args, message) => {
    const run = await runInProcess(['node', ...args]);
    expect(run.code).toBe(2);
    expect(run.stderr.replace(/^jobchart: /, '').trimEnd()).toMatch(message);
  });
});
