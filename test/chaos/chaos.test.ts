/**
 * The short chaos profile in `npm test`: `npm run chaos` (scripts/chaos/main.ts) as a child process,
 * 20 s of faults on one nats-server — bursts, a worker and a scheduler SIGKILLed and replaced, a
 * worker SIGSTOPped, the server restarted — then the drain and the checks. The run must end with
 * every check passed, exit code 0. CHAOS_SEED picks another plan (default 1). Longer runs and the
 * cluster: `npm run chaos -- --seed N --duration 5m [--cluster]`.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SEED = process.env['CHAOS_SEED'] ?? '1';

describe('npm run chaos (short profile)', () => {
  it(`seed ${SEED}, 20 s of faults on one nats-server: every check passes`, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'chaos', 'main.ts'), '--seed', SEED, '--duration', '20s', '--lease', '1500'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    console.log(output.slice(output.indexOf('chaos summary')));
    const last = output.trim().split('\n').at(-1);
    expect(last, output).toMatch(/^\d+ passed, 0 failed$/);
    expect(code, output).toBe(0);
  }, 120_000);
});
