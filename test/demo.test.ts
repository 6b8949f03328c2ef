/**
 * `npm start` runs this demo: it must tell its story — the burst as one group (not 20 job ids), each
 * retry with its error text, the long job's lease renewals as they happen, a closing summary table —
 * and exit by itself, without a warning on stderr.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('demo node (npm start)', () => {
  it('runs schedules, a job outliving its lease, retries and a burst, prints a summary, then exits 0 by itself', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'src/demo.ts'], { cwd: root, env: { ...process.env, DEMO_SECONDS: '7' }, timeout: 30_000 }, (error, out, err) =>
        resolve({ code: error ? 1 : 0, stdout: out, stderr: err }),
      );
    });
    expect(code, stderr).toBe(0);
    expect(stderr).toBe('');
    // The burst: one line when added, progress of the group, one line when done — no job ids.
    expect(stdout).toMatch(/resize-image +burst: 20 jobs added at once, 4 slots/);
    expect(stdout).toMatch(/resize-image +burst: \d+\/20 done, \d running, \d+ waiting/);
    expect(stdout).toMatch(/resize-image +burst: 20\/20 done in [\d.]+ s, at most [1-4] at once/);
    expect(stdout.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g) ?? []).toEqual([]);
    // Retries with their error text, then the success.
    expect(stdout).toMatch(/flaky-upload +attempt 1 failed: upstream hiccup #1 → attempt 2 in \d+ ms/);
    expect(stdout).toMatch(/flaky-upload +attempt 2 failed: upstream hiccup #2 → attempt 3 in \d+ ms/);
    expect(stdout).toMatch(/flaky-upload +attempt 3 → success/);
    // The long job: its lease renewed while it runs (a 5 s job, a 1.5 s lease renewed every 0.5 s), run once.
    expect((stdout.match(/long-export +lease renewed \(#\d+, revision \d+\), \d+% done/g) ?? []).length).toBeGreaterThanOrEqual(5);
    expect(stdout).toMatch(/long-export +success on attempt 1, lease renewed \d+ times, run once/);
    expect(stdout).toMatch(/heartbeat +fire of \S+ → success/);
    expect(stdout).toMatch(/report +fire of \S+ → success/);
    // The summary table, from rt.listJobs().
    expect(stdout).toMatch(/^summary\n {2}TASK +JOBS +SUCCEEDED +FAILED +UNFINISHED +ATTEMPTS +AVG RUN$/m);
    expect(stdout).toMatch(/^ {2}resize-image +20 +20 +0 +0 +20 +\d+ ms$/m);
    expect(stdout).toMatch(/^ {2}flaky-upload +1 +1 +0 +0 +3 +/m);
    expect(stdout).toMatch(/^ {2}long-export +1 +1 +0 +0 +1 +[\d.]+ s$/m);
    expect(stdout).toContain('burst of 20 at capacity 4: 20 succeeded');
    expect(stdout).toContain('long-export: success on attempt 1');
    expect(stdout).toContain('flaky-upload: uploaded after 3 runs');
    expect(stdout).toContain('demo node stopped');
  }, 40_000);
});
