/**
 * Fire lateness of interval schedules (`npm run bench:schedules`, or `npm run bench -- --schedules`):
 * S schedules firing every second on one jobchart node (role both) on a private nats-server, for F
 * seconds; lateness is task start − scheduled fire time. Knobs: BENCH_SCHEDULES (1,000),
 * BENCH_FIRE_SECONDS (6), BENCH_POLL (1s).
 */
import { dirname } from 'node:path';
import { createRuntime, interval, natsStore, type Runtime } from '../../src/index.js';
import { startNatsServer } from '../../test/support/nats-server.js';
import { sleep, withTimeout } from '../support/clock.js';
import { ownDir, ownProcess, releaseDir, releaseProcess } from '../support/owned-processes.js';
import { percentile } from '../support/stats.js';

export interface ScheduleLatenessResult {
  scenario: 'schedule-lateness';
  system: 'jobchart-nats';
  schedules: number;
  fireSeconds: number;
  fires: number;
  expectedFires: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

export async function runScheduleLateness(
  schedules = Number(process.env['BENCH_SCHEDULES'] ?? 1_000),
  fireSeconds = Number(process.env['BENCH_FIRE_SECONDS'] ?? 6),
): Promise<ScheduleLatenessResult> {
  const server = await startNatsServer();
  const serverPid = server.pid ?? undefined;
  ownProcess(serverPid, 'nats-server');
  ownDir(dirname(server.storeDir));
  let rt: Runtime | null = null;
  try {
    const lateness: number[] = [];
    rt = await createRuntime({
      store: natsStore({ servers: server.url, prefix: 'benchfire', name: 'bench-scheduler' }),
      role: 'both',
      maxConcurrentJobs: 200,
      leaseDuration: '30s',
      pollInterval: process.env['BENCH_POLL'] ?? '1s',
    });
    rt.task('tick', (_args, ctx) => {
      if (ctx.scheduledFireTime) lateness.push(Date.now() - ctx.scheduledFireTime.getTime());
    });
    await rt.start();
    const node = rt;
    const start = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000);
    for (let i = 0; i < schedules; i += 100) {
      await withTimeout(
        Promise.all(
          Array.from({ length: Math.min(100, schedules - i) }, (_, k) => node.addSchedule({ id: `s${i + k}`, task: 'tick', trigger: interval('1s', { start }) })),
        ),
        60_000,
        `adding schedules ${i}..${i + 99}`,
      );
    }
    await sleep(Math.max(0, start.getTime() - Date.now()) + fireSeconds * 1000 + 500);
    return {
      scenario: 'schedule-lateness',
      system: 'jobchart-nats',
      schedules,
      fireSeconds,
      fires: lateness.length,
      // Fires at start, start + 1 s, …, start + F s: the wait ends half a second after the last.
      expectedFires: schedules * (fireSeconds + 1),
      p50: percentile(lateness, 50),
      p99: percentile(lateness, 99),
      max: lateness.length > 0 ? Math.max(...lateness) : null,
    };
  } finally {
    await withTimeout(rt?.stop({ drain: false }) ?? Promise.resolve(), 15_000, 'scheduler node: stop').catch(() => undefined);
    await server.dispose();
    releaseProcess(serverPid);
    releaseDir(dirname(server.storeDir));
  }
}

export function formatScheduleLateness(r: ScheduleLatenessResult): string {
  return (
    `${r.schedules} interval schedules @1s for ${r.fireSeconds}s: ${r.fires} fires (expected ~${r.expectedFires}); ` +
    `fire→start lateness p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms`
  );
}
