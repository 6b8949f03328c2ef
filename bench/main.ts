/**
 * `npm run bench`: jobchart and BullMQ side by side (see bench/side-by-side.ts; knobs in
 * bench/support/settings.ts). `npm run bench -- --schedules` (or `npm run bench:schedules`):
 * jobchart schedules and BullMQ job schedulers side by side (bench/schedules-side-by-side.ts; knobs
 * in bench/support/schedule-settings.ts). Every server and worker process is started here, on
 * loopback, and stopped by its pid; the bench exits 0 with a report even when a run fails.
 */
import { buildDistUnlessFromSource } from './support/build-dist.js';
import { installCleanup, killOwned } from './support/owned-processes.js';
import { readScheduleSettings } from './support/schedule-settings.js';
import { readSettings } from './support/settings.js';

installCleanup();
let exitCode = 0;
try {
  // jobchart is measured as it ships: dist/, built from the sources here, before any module that
  // loads it (bench/support/jobchart-lib.ts) is imported.
  buildDistUnlessFromSource();
  if (process.argv.includes('--schedules')) {
    const { runSchedulesSideBySide } = await import('./schedules-side-by-side.js');
    await runSchedulesSideBySide(readScheduleSettings());
  } else {
    const { runSideBySide } = await import('./side-by-side.js');
    await runSideBySide(readSettings());
  }
} catch (error) {
  console.error('bench failed:', error);
  exitCode = 1;
} finally {
  killOwned();
}
// A piped stdout is written asynchronously: let the report and its long JSON line out before exiting.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
// Lingering handles (a client still reconnecting) must not keep the bench alive.
process.exit(exitCode);
