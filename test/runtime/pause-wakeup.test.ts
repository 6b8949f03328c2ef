/**
 * A worker process paused with a real SIGSTOP past its lease deadline, while its 40 tasks wait on
 * timers that fall due during the pause. When it wakes, Node runs every due timer in order of its
 * due time, before the SIGCONT handler or any I/O: a task timer due before the lease keeper's next
 * tick runs first. The keeper's tick declares the lease lost (and aborts the signal) for the tasks
 * whose timers are due later, and `ctx.signal.aborted` is checked against the lease deadline when
 * a task reads it, so a task that looks at its signal before its side effect sees it aborted even
 * when its timer ran first. Each loss on wake is the holder's own deadline, and is announced as a
 * LeaseLost event (reason store_unreachable). Another node has meanwhile run every interrupted job.
 */
import { describe, expect, it } from 'vitest';
import type { RuntimeEvent, RuntimeEventMap } from '../../src/index.js';
import { readSideChannel } from './support/child-node.js';
import { LEASE_MS, useCluster } from './support/cluster.js';
import { sleep, waitUntil } from './support/wait.js';

const cluster = useCluster();

const JOBS = 40;
/** Each job's timer: WORK_MS + i × SPREAD_MS after it started, so some fall just after the pause begins. */
const WORK_MS = 1_500;
const SPREAD_MS = 10;
/** Past the deadline (4/3 lease) and the queue's ack wait (2 leases), so the rescuer takes over meanwhile. */
const PAUSE_MS = 3_500;

describe('a worker woken from SIGSTOP with task timers due during the pause', () => {
  it('sees its lease lost before the overdue timers can finish the work: no task that checks its signal writes its side effect', async () => {
    const prefix = cluster.newPrefix();
    const logFile = cluster.logFile('pause-wakeup.log');
    const tasks = [{ name: 'checked', kind: 'checked' as const, options: { retry: { attempts: 2, backoff: 100 } } }];
    const victim = await cluster.spawn(prefix, { nodeId: 'paused', role: 'worker', logFile, tasks, maxConcurrentJobs: JOBS });
    // Capacity 0 until the pause: the victim is certainly the one holding every job.
    const rescuer = await cluster.spawn(prefix, { nodeId: 'rescuer', role: 'worker', logFile, tasks, maxConcurrentJobs: 0 });
    const client = await cluster.runtime(prefix);
    const events: RuntimeEvent[] = [];
    client.on('*', (event) => events.push(event));

    const ids = await Promise.all(Array.from({ length: JOBS }, (_, i) => client.addJob({ task: 'checked', args: { ms: WORK_MS + i * SPREAD_MS, quickFromAttempt: 2 } })));
    const starts = await waitUntil('the victim to start every job', () => {
      const lines = readSideChannel(logFile).filter((l) => l.e === 'start' && l.node === 'paused');
      return lines.length === JOBS ? lines : null;
    });
    const startOf = new Map(starts.map((l) => [l.job, l.t]));
    // Pause when the first few timers have fired: the next ones fall due within the first tenth of a
    // second of the pause, which is where the keeper's next tick (every 100 ms at a 1 s lease) lies.
    const pauseAt = Math.min(...ids.slice(4).map((id, i) => startOf.get(id)! + WORK_MS + (i + 4) * SPREAD_MS)) - 5;
    await sleep(pauseAt - Date.now());
    const stoppedAt = Date.now();
    victim.signal('SIGSTOP');
    rescuer.process.stdin?.write(`capacity ${JOBS}\n`);
    await sleep(PAUSE_MS);
    const resumedAt = Date.now();
    victim.signal('SIGCONT');

    const results = await Promise.all(ids.map((id) => client.getJobResult(id, { wait: true, timeout: 20_000 })));
    for (const [i, result] of results.entries()) expect(result?.outcome, `job ${ids[i]}`).toBe('success');
    await waitUntil('the victim to end every job it started', () => {
      const ended = readSideChannel(logFile).filter((l) => l.node === 'paused' && (l.e === 'end' || l.e === 'aborted'));
      return ended.length === JOBS;
    });
    const lines = readSideChannel(logFile).filter((l) => l.node === 'paused');
    const afterWake = lines.filter((l) => l.t >= resumedAt && l.e !== 'start');
    const summary = {
      pausedMs: resumedAt - stoppedAt,
      endedBeforePause: lines.filter((l) => l.e === 'end' && l.t < stoppedAt).length,
      afterWake: afterWake.map((l) => `${l.e}+${l.t - resumedAt}ms`),
    };
    console.log('[pause-wakeup]', JSON.stringify(summary));

    // The pause caught work in progress, with task timers falling due within the keeper's first tick
    // period (100 ms) after the pause began — the case the check on read is for (a test process
    // more than ~300 ms late could not set this up) ...
    const dueSoonAfterStop = ids.filter((id, i) => {
      const due = startOf.get(id)! + WORK_MS + i * SPREAD_MS;
      return due > stoppedAt && due <= stoppedAt + 100;
    });
    expect(dueSoonAfterStop.length).toBeGreaterThanOrEqual(3);
    expect(afterWake.length).toBeGreaterThanOrEqual(dueSoonAfterStop.length);
    // ... and none of it wrote its side effect after the wake: every task saw its signal aborted.
    expect(afterWake.filter((l) => l.e === 'end').map((l) => l.job)).toEqual([]);
    // Every loss on wake was the holder's own deadline, announced as LeaseLost.
    const lostOf = () => events.filter((e): e is RuntimeEventMap['LeaseLost'] => e.type === 'LeaseLost' && e.nodeId === 'paused');
    await waitUntil('a LeaseLost event for every job interrupted by the pause', () => afterWake.every((l) => lostOf().some((e) => e.jobId === l.job)));
    const lost = lostOf();
    for (const line of afterWake) {
      expect(lost.find((e) => e.jobId === line.job)?.reason, `LeaseLost for ${line.job}`).toBe('store_unreachable');
    }
    // The interrupted jobs were run by the rescuer, and every job was released once.
    for (const line of afterWake) {
      expect(results[ids.indexOf(line.job)]).toMatchObject({ nodeId: 'rescuer', attempt: 2 });
    }
    for (const id of ids) expect(events.filter((e) => e.type === 'JobReleased' && e.jobId === id), `JobReleased of ${id}`).toHaveLength(1);
    expect(LEASE_MS).toBe(1_000);
  }, 60_000);
});
