/**
 * `npm run bench`: jobchart and BullMQ side by side (see bench/side-by-side.ts; knobs in
 * bench/support/settings.ts). `npm run bench -- --schedules` (or `npm run bench:schedules`):
 * jobchart schedules and BullMQ job schedulers side by side (bench/schedules-side-by-side.ts; knobs
 * in bench/support/schedule-settings.ts). Every server and worker process is started here, on
 * loopback, and stopped by its pid; the bench exits 0 with a report even when a run fails.
 */
import { installCleanup, killOwned } from './support/owned-processes.js';
import { readScheduleSettings } from './support/schedule-settings.js';
import { readSettings } from './support/settings.js';
import { runSchedulesSideBySide } from './schedules-side-by-side.js';
import { runSideBySide } from './side-by-side.js';

installCleanup();
let exitCode = 0;
try {
  if (process.argv.includes('--schedules')) {
    await runSchedulesSideBySide(readScheduleSettings());
  } else {
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
