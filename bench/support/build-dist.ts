/**
 * Builds dist/ from src/ before a bench loads jobchart, unless BENCH_FROM_SOURCE=1 (then the bench
 * measures src/ through tsx). Call it before importing any module that loads jobchart.
 */
import { spawnSync } from 'node:child_process';

/** Whether the bench measures jobchart's sources (BENCH_FROM_SOURCE=1) rather than dist/. */
export const fromSource = process.env['BENCH_FROM_SOURCE'] === '1';

export function buildDistUnlessFromSource(): void {
  if (fromSource) return;
  console.error('bench: building dist/ (npm run build; BENCH_FROM_SOURCE=1 measures src/ through tsx instead)');
  const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error(`npm run build exited with ${build.status ?? build.signal}`);
}
