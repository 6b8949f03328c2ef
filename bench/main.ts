/**
 * `npm run bench`: jobchart and BullMQ side by side (see bench/side-by-side.ts; knobs in
 * bench/support/settings.ts). `npm run bench -- --schedules` (or `npm run bench:schedules`): fire
 * lateness of interval schedules. Every server and worker process is started here, on loopback, and
 * stopped by its pid; the bench exits 0 with a report even when a run fails.
 */
import { formatScheduleLateness, runScheduleLateness } from './scenarios/schedule-lateness.js';
import { installCleanup, killOwned } from './support/owned-processes.js';
import { readSettings } from './support/settings.js';
import { runSideBySide } from './side-by-side.js';

installCleanup();
let exitCode = 0;
try {
  if (process.argv.includes('--schedules')) {
    const result = await runScheduleLateness();
    console.log(formatScheduleLateness(result));
    console.log(JSON.stringify(result));
  } else {
    await runSideBySide(readSettings());
  }
} catch (error) {
  console.error('bench failed:', error);
  exitCode = 1;
} finally {
  killOwned();
}
// Lingering handles (a client still reconnecting) must not keep the bench alive.
process.exit(exitCode);
