/** `npm start` runs this demo: it must run its scenarios to the end and exit by itself. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('demo node (npm start)', () => {
  it('runs schedules, a job outliving its lease, retries and a burst, then exits 0 by itself', async () => {
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'src/demo.ts'], { cwd: root, env: { ...process.env, DEMO_SECONDS: '7' }, timeout: 30_000 }, (error, out) =>
        resolve({ code: error ? 1 : 0, stdout: out }),
      );
    });
    expect(code).toBe(0);
    expect(stdout).toContain('burst of 20 at capacity 4: 20 succeeded');
    expect(stdout).toContain('long-export: success on attempt 1');
    expect(stdout).toContain('flaky-upload: uploaded after 3 runs');
    expect(stdout).toMatch(/JobReleased +task=heartbeat .*outcome=success/);
    expect(stdout).toMatch(/JobReleased +task=report .*outcome=success/);
    expect(stdout).toContain('demo node stopped');
  }, 40_000);
});
