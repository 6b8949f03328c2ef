/**
 * A chaos run: real nats-server processes (one, or a three-server cluster with replicas 3), several
 * worker processes and two scheduler processes (chaos-node.ts), a 1 s interval schedule, and the
 * seeded fault plan of plan.ts carried out against them — bursts of jobs, SIGKILL with replacement,
 * SIGSTOP past the lease, server restarts or kills. Then every fault ends, the schedule is paused,
 * every job is waited for, and checker.ts judges what happened from the store, the events and the
 * tasks' own side-effect log. Bounded in time (fault phase + drain timeout); everything it started is
 * stopped by pid; loopback only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, interval, natsStore, type JobResult, type Runtime } from '../../src/index.js';
import { startNatsCluster, type NatsCluster } from '../../test/support/nats-cluster.js';
import { startNatsServer, type NatsServerHandle } from '../../test/support/nats-server.js';
import type { ChaosNodeConfig } from './chaos-node.js';
import { checkChaosRun, type ChaosFindings } from './checker.js';
import { describeAction, makePlan, type PlannedAction } from './plan.js';
import { ChaosProcesses, type ChaosNode } from './processes.js';
import { readRunLines } from './side-effect-log.js';

export interface ChaosOptions {
  seed: number;
  /** Length of the fault phase. @defaultValue 30 s */
  durationMs?: number;
  /** Three nats-servers with JetStream clustering and replicas 3, instead of one server. @defaultValue false */
  cluster?: boolean;
  /** Worker processes kept alive (a killed one is replaced). @defaultValue 3 */
  workers?: number;
  /** Scheduler processes. @defaultValue 2 */
  schedulers?: number;
  /** The nodes' lease duration. @defaultValue 2 s (single), 3 s (cluster) */
  leaseMs?: number;
  /** Jobs each worker runs at once. @defaultValue 50 */
  workerConcurrency?: number;
  /** How long the drain may take after the fault phase. @defaultValue max(30 s, 15 leases) */
  drainTimeoutMs?: number;
  /** Progress lines. @defaultValue console.log */
  log?: (line: string) => void;
  /** Keep the work dir (side-effect log) after the run. @defaultValue false */
  keepDir?: boolean;
}

export interface FaultRecord {
  /** ms since the fault phase began. */
  at: number;
  what: string;
  /** For server faults: ms until a write through the harness's client succeeded (after the kill; single: after the restart). */
  writesBackAfterMs?: number;
  /** Cluster: ms from the killed server's restart until it was current again (meta group, jobs bucket, dispatch stream). */
  caughtUpAfterMs?: number;
}

export interface ChaosReport {
  seed: number;
  mode: 'single' | 'cluster';
  plan: PlannedAction[];
  faults: FaultRecord[];
  findings: ChaosFindings;
  leaseLost: Record<string, number>;
  passed: number;
  failed: number;
  elapsedMs: number;
  /** Load average (1 min) at the start and at the end of the run. */
  load: [number, number];
  workDir: string;
}

const SCHEDULE_ID = 'chaos-tick';
const SCHEDULE_EVERY_MS = 1_000;
const PROBE_KEY = 'chaos.probe';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** The nats side of a run: one server or a cluster, behind the same few operations. */
interface Servers {
  urls: string[];
  replicas: 1 | 3;
  dispose(): Promise<void>;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const cluster = options.cluster ?? false;
  const opts = {
    seed: options.seed,
    durationMs: options.durationMs ?? 30_000,
    cluster,
    workers: options.workers ?? 3,
    schedulers: options.schedulers ?? 2,
    leaseMs: options.leaseMs ?? (cluster ? 3_000 : 2_000),
    workerConcurrency: options.workerConcurrency ?? 50,
    log: options.log ?? ((line: string) => console.log(line)),
  };
  const drainTimeoutMs = options.drainTimeoutMs ?? Math.max(30_000, 15 * opts.leaseMs);
  const started = Date.now();
  const load0 = loadavg()[0] ?? 0;
  const workDir = mkdtempSync(join(tmpdir(), 'jobchart-chaos-'));
  const logFile = join(workDir, 'side-effects.log');
  const prefix = `chaos${opts.seed}`;
  const plan = makePlan({ seed: opts.seed, durationMs: opts.durationMs, cluster, leaseMs: opts.leaseMs });
  const say = (line: string): void => opts.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}`);

  opts.log(`chaos run: seed ${opts.seed}, ${cluster ? 'three-server cluster, replicas 3' : 'one nats-server'}, ` +
    `${opts.workers} workers + ${opts.schedulers} schedulers, lease ${opts.leaseMs} ms, fault phase ${opts.durationMs / 1000} s`);
  opts.log(`plan:\n${plan.map((a) => `  ${describeAction(a)}`).join('\n')}`);

  const processes = new ChaosProcesses();
  let single: NatsServerHandle | null = null;
  let nats: NatsCluster | null = null;
  let admin: Runtime | null = null;
  try {
    let servers: Servers;
    if (cluster) {
      nats = await startNatsCluster();
      servers = { urls: nats.urls, replicas: 3, dispose: () => nats!.dispose() };
    } else {
      single = await startNatsServer();
      servers = { urls: [single.url], replicas: 1, dispose: () => single!.dispose() };
    }

    admin = await createRuntime({
      store: natsStore({ servers: servers.urls, prefix, reconnectTimeWaitMs: 100, replicas: servers.replicas }),
      leaseDuration: opts.leaseMs,
      nodeId: 'chaos-harness',
    });
    // Known here so that jobs can be added; this runtime is never started and runs nothing.
    admin.task('work', () => undefined);
    admin.task('tick', () => undefined);
    const released = new Map<string, string[]>();
    const leaseLost: Record<string, number> = {};
    admin.on('JobReleased', (e) => released.set(e.jobId, [...(released.get(e.jobId) ?? []), e.nodeId]));
    admin.on('LeaseLost', (e) => (leaseLost[e.reason] = (leaseLost[e.reason] ?? 0) + 1));

    const counter = { worker: 0, scheduler: 0 };
    /**
     * Starts a node, and starts it again (as a supervisor would) when it exits before it is ready —
     * a node started while the store is unreachable fails its first connection on purpose.
     */
    const spawnNode = async (role: 'worker' | 'scheduler'): Promise<ChaosNode> => {
      const nodeId = `${role === 'worker' ? 'w' : 's'}${++counter[role]}`;
      for (let attempt = 1; ; attempt++) {
        try {
          return await processes.spawn({
            servers: servers.urls,
            prefix,
            nodeId,
            role,
            replicas: servers.replicas,
            leaseMs: opts.leaseMs,
            pollMs: 250,
            maxConcurrentJobs: role === 'worker' ? opts.workerConcurrency : 0,
            logFile,
          });
        } catch (error) {
          if (attempt >= 20) throw error;
          say(`${nodeId} did not start (attempt ${attempt}: ${(error as Error).message.split('\n')[0]}); starting it again`);
          await sleep(500);
        }
      }
    };
    await Promise.all([
      ...Array.from({ length: opts.schedulers }, () => spawnNode('scheduler')),
      ...Array.from({ length: opts.workers }, () => spawnNode('worker')),
    ]);
    say(`started ${processes.all.map((n) => `${n.nodeId} (pid ${n.pid})`).join(', ')}`);

    const firstFireTime = Math.ceil(Date.now() / 1000) * 1000 + 2_000;
    await admin.addSchedule({ id: SCHEDULE_ID, task: 'tick', trigger: interval(SCHEDULE_EVERY_MS, { start: new Date(firstFireTime) }), coalesce: 'all' });

    // ---- the fault phase ----------------------------------------------------------------------
    const added: string[] = [];
    let jobCounter = 0;
    const killedAt = new Map<string, number>();
    const pauses: { node: string; from: number; to: number }[] = [];
    const faults: FaultRecord[] = [];
    const background: Promise<void>[] = [];
    /** A fault's second half (resume, restart, replacement); a failure there is reported, and the end of the phase restores what is missing. */
    const inBackground = (what: string, work: Promise<void>): void => {
      background.push(work.catch((error: unknown) => void say(`harness: ${what} failed: ${(error as Error).message.split('\n')[0]}`)));
    };
    const t0 = Date.now();
    const record = (what: string, extra: Partial<FaultRecord> = {}): FaultRecord => {
      const fault = { at: Date.now() - t0, what, ...extra };
      faults.push(fault);
      say(what);
      return fault;
    };
    /** Time until a write through the harness's own client lands again. */
    const probeWrites = async (from: number, fault: FaultRecord): Promise<void> => {
      const value = new Uint8Array([1]);
      while (Date.now() - from < 60_000) {
        try {
          await admin!.backend.buckets.jobs.put(PROBE_KEY, value);
          fault.writesBackAfterMs = Date.now() - from;
          return;
        } catch {
          await sleep(100);
        }
      }
    };
    const replace = (role: 'worker' | 'scheduler', afterMs: number): void => {
      inBackground(
        `the replacement of a ${role}`,
        sleep(afterMs).then(async () => {
          const node = await spawnNode(role);
          say(`replacement ${node.nodeId} (pid ${node.pid}) ready`);
        }),
      );
    };
    const pickLive = (role: ChaosNodeConfig['role'], target: number): ChaosNode | undefined => {
      const candidates = processes.live(role, 'running');
      return candidates[Math.floor(target * candidates.length)];
    };

    for (const action of plan) {
      await sleep(t0 + action.at - Date.now());
      switch (action.kind) {
        case 'burst': {
          // Ids chosen here, so that adding again after a failure (the store mid-election, or down)
          // is deduplicated by the queue instead of adding the jobs twice — what a producer should do.
          const jobs = action.durations.map((ms) => ({ id: `job-${++jobCounter}`, task: 'work', args: { ms } }));
          const from = Date.now();
          for (let attempt = 1; ; attempt++) {
            try {
              await admin.addJobs(jobs);
              break;
            } catch (error) {
              if (Date.now() - from > 60_000) throw error;
              if (attempt === 1) say(`adding a burst failed (${(error as Error).name}): adding it again until the store answers`);
              await sleep(200);
            }
          }
          added.push(...jobs.map((j) => j.id));
          record(`added ${jobs.length} jobs (${added.length} in all)${Date.now() - from > 1_000 ? ` after ${Date.now() - from} ms of retries` : ''}`);
          break;
        }
        case 'kill-worker':
        case 'kill-scheduler': {
          const role = action.kind === 'kill-worker' ? 'worker' : 'scheduler';
          const victim = pickLive(role, action.target);
          if (!victim) {
            record(`no running ${role} to kill: skipped`);
            break;
          }
          const at = Date.now();
          await processes.kill(victim);
          killedAt.set(victim.nodeId, at);
          record(`SIGKILL ${victim.nodeId} (pid ${victim.pid}); replacement in ${action.replaceAfterMs} ms`);
          replace(role, action.replaceAfterMs);
          break;
        }
        case 'pause-worker': {
          const victim = pickLive('worker', action.target);
          if (!victim || processes.live('worker', 'running').length < 2) {
            record('no worker to pause (one must keep running): skipped');
            break;
          }
          victim.signal('SIGSTOP');
          victim.state = 'paused';
          const from = Date.now();
          record(`SIGSTOP ${victim.nodeId} (pid ${victim.pid}) for ${action.pauseMs} ms`);
          inBackground(
            `the SIGCONT of ${victim.nodeId}`,
            sleep(action.pauseMs).then(() => {
              victim.signal('SIGCONT');
              if (victim.alive) victim.state = 'running';
              pauses.push({ node: victim.nodeId, from, to: Date.now() });
              say(`SIGCONT ${victim.nodeId} after ${Date.now() - from} ms`);
            }),
          );
          break;
        }
        case 'restart-server': {
          const server = single!;
          const from = Date.now();
          await server.stop();
          const fault = record(`nats-server stopped (pid gone); back in ${action.downMs} ms`);
          inBackground(
            'the restart of the nats-server',
            sleep(action.downMs - (Date.now() - from)).then(async () => {
              await server.restart();
              say(`nats-server restarted (pid ${server.pid}) after ${Date.now() - from} ms`);
              await probeWrites(Date.now(), fault);
            }),
          );
          break;
        }
        case 'kill-server': {
          const c = nats!;
          const leader = await c.streamLeader(`KV_${prefix}_jobs`).catch(() => null);
          const up = c.servers.filter((s) => s.pid !== null);
          const victim = action.leader && leader ? c.server(leader) : up[Math.floor(action.target * up.length)];
          if (!victim || up.length < 3) {
            record('a server is already down: skipped');
            break;
          }
          const from = Date.now();
          const pid = victim.pid;
          await victim.kill('SIGKILL');
          const fault = record(
            `SIGKILL nats-server ${victim.name} (pid ${pid}${victim.name === leader ? ', leader of the jobs bucket' : ''}); restart in ${action.downMs} ms`,
          );
          inBackground(
            `the restart of ${victim.name}`,
            (async () => {
              await probeWrites(from, fault);
              say(`writes land again ${fault.writesBackAfterMs ?? '∞'} ms after the kill of ${victim.name}`);
              await sleep(action.downMs - (Date.now() - from));
              const restartAt = Date.now();
              await victim.restart();
              await c.waitCurrent({ streams: [`KV_${prefix}_jobs`, `${prefix}_dispatch`], timeoutMs: 60_000 });
              fault.caughtUpAfterMs = Date.now() - restartAt;
              say(`${victim.name} restarted (pid ${victim.pid}) and current ${fault.caughtUpAfterMs} ms after its restart`);
            })(),
          );
          break;
        }
      }
    }
    await sleep(t0 + opts.durationMs - Date.now());
    say('fault phase over: waiting for the faults in progress to end');
    await Promise.all(background);
    // Back to full strength for the drain: every server up (and current), every node replaced.
    if (single && single.pid === null) await single.restart();
    if (nats) {
      for (const server of nats.servers) if (server.pid === null) await server.restart();
      await nats.waitCurrent({ streams: [`KV_${prefix}_jobs`, `${prefix}_dispatch`], timeoutMs: 60_000 });
    }
    const missing = (role: 'worker' | 'scheduler', want: number) => Math.max(0, want - processes.live(role).length);
    await Promise.all([
      ...Array.from({ length: missing('worker', opts.workers) }, () => spawnNode('worker')),
      ...Array.from({ length: missing('scheduler', opts.schedulers) }, () => spawnNode('scheduler')),
    ]);
    await admin.pauseSchedule(SCHEDULE_ID);
    const pausedAt = Date.now();
    say(`schedule paused; draining ${added.length} added jobs and the schedule's`);

    // ---- drain ----------------------------------------------------------------------------------
    const listScheduleJobs = async (): Promise<{ id: string; fireTime: number }[]> => {
      const out: { id: string; fireTime: number }[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<Runtime['listJobs']>> = await admin!.listJobs({ scheduleId: SCHEDULE_ID, limit: 10_000, cursor });
        for (const job of page.jobs) out.push({ id: job.id, fireTime: job.scheduledFireTime?.getTime() ?? NaN });
        cursor = page.nextCursor;
      } while (cursor);
      return out;
    };
    const results = new Map<string, JobResult | null>();
    const drainDeadline = Date.now() + drainTimeoutMs;
    let scheduleJobs: { id: string; fireTime: number }[] = [];
    for (;;) {
      scheduleJobs = await listScheduleJobs().catch(() => scheduleJobs);
      const ids = [...new Set([...added, ...scheduleJobs.map((j) => j.id)])];
      const pending = ids.filter((id) => !results.get(id));
      for (let i = 0; i < pending.length; i += 200) {
        const chunk = pending.slice(i, i + 200);
        const got = await Promise.all(chunk.map((id) => admin!.getJobResult(id).catch(() => null)));
        chunk.forEach((id, k) => results.set(id, got[k] ?? null));
      }
      const left = ids.filter((id) => !results.get(id)).length;
      if (left === 0 || Date.now() > drainDeadline) {
        say(left === 0 ? `all ${ids.length} jobs ended` : `drain timed out with ${left} of ${ids.length} jobs without a result`);
        break;
      }
      await sleep(1_000);
    }
    // Late writes of refused runners, late events, the last end lines of woken nodes.
    await sleep(Math.max(2_000, 3 * opts.leaseMs));
    scheduleJobs = await listScheduleJobs().catch(() => scheduleJobs);
    const collectedAt = Date.now();
    const jobIds = [...new Set([...added, ...scheduleJobs.map((j) => j.id)])];
    for (const id of jobIds) if (!results.get(id)) results.set(id, await admin.getJobResult(id).catch(() => null));

    const findings = checkChaosRun({
      jobIds,
      results,
      lines: readRunLines(logFile),
      released,
      killedAt,
      pauses,
      collectedAt,
      schedule: { firstFireTime, everyMs: SCHEDULE_EVERY_MS, pausedAt, fireTimes: scheduleJobs.map((j) => j.fireTime) },
    });
    const failed = findings.checks.filter((c) => !c.passed).length;
    return {
      seed: opts.seed,
      mode: cluster ? 'cluster' : 'single',
      plan,
      faults,
      findings,
      leaseLost,
      passed: findings.checks.length - failed,
      failed,
      elapsedMs: Date.now() - started,
      load: [load0, loadavg()[0] ?? 0],
      workDir,
    };
  } finally {
    await admin?.stop({ drain: false }).catch(() => undefined);
    await processes.stopAll();
    await single?.dispose().catch(() => undefined);
    await nats?.dispose().catch(() => undefined);
    if (!options.keepDir) rmSync(workDir, { recursive: true, force: true });
  }
}

/** The summary a run prints, ending with the `N passed, M failed` line. */
export function formatReport(report: ChaosReport): string {
  const { stats, checks } = report.findings;
  const lines = [
    '',
    `chaos summary — seed ${report.seed}, ${report.mode}, ${(report.elapsedMs / 1000).toFixed(1)} s, load average ${report.load[0].toFixed(2)} → ${report.load[1].toFixed(2)}`,
    `  jobs ${stats.jobs}: ${Object.entries(stats.outcomes).map(([o, n]) => `${o} ${n}`).join(', ')}`,
    `  runs ${stats.runs} (runs per job: ${Object.entries(stats.runsPerJob).map(([k, n]) => `${k}: ${n}`).join(', ')}); aborted ${stats.abortedRuns}, killed ${stats.killedRuns}`,
    `  overlapping runs of a job: ${stats.overlaps.aborted} with the earlier run aborted, ${stats.overlaps.killed} with it killed, ${stats.overlaps.completed} with it finishing its work`,
    `  jobs whose work was done twice (a run finished, its result did not stand, the job ran again): ${stats.workDoneTwice.killedBeforeCommit + stats.workDoneTwice.pausedBeforeCommit + stats.workDoneTwice.other} — node killed before the commit ${stats.workDoneTwice.killedBeforeCommit}, node paused ${stats.workDoneTwice.pausedBeforeCommit}, other (a store outage past the lease deadline) ${stats.workDoneTwice.other}`,
    `  JobReleased events ${stats.releasedEvents}; LeaseLost events ${Object.entries(report.leaseLost).map(([r, n]) => `${r} ${n}`).join(', ') || 'none'}`,
    `  faults carried out: ${faultCounts(report)}`,
    `  server faults: ${serverRecovery(report)}`,
    '',
    ...checks.map((c) => `  ${c.passed ? 'PASS' : 'FAIL'} ${c.name} — ${c.detail}`),
    '',
    `${report.passed} passed, ${report.failed} failed`,
  ];
  return lines.join('\n');
}

function faultCounts(report: ChaosReport): string {
  const count = (prefix: string): number => report.faults.filter((f) => f.what.startsWith(prefix)).length;
  const pauses = report.plan.filter((a) => a.kind === 'pause-worker');
  const parts = [
    `${count('added')} bursts`,
    `${report.faults.filter((f) => /^SIGKILL w/.test(f.what)).length} worker kills`,
    `${report.faults.filter((f) => /^SIGKILL s/.test(f.what)).length} scheduler kills`,
    `${count('SIGSTOP')} pauses (${pauses.filter((p) => p.long).length} planned past the ack wait, ${pauses.filter((p) => !p.long).length} under the deadline)`,
    report.mode === 'single' ? `${count('nats-server stopped')} server restarts` : `${count('SIGKILL nats-server')} server kills`,
  ];
  const skipped = report.faults.filter((f) => f.what.includes('skipped')).length;
  return parts.join(', ') + (skipped > 0 ? `; ${skipped} skipped (no target)` : '');
}

/** How long after each server fault writes through the harness's own client landed again. */
function serverRecovery(report: ChaosReport): string {
  const range = (ms: number[]): string => {
    const sorted = [...ms].sort((a, b) => a - b);
    return `${sorted[0]}–${sorted[sorted.length - 1]} ms (median ${sorted[Math.floor(sorted.length / 2)]})`;
  };
  const faults = report.faults.filter((f) => f.writesBackAfterMs !== undefined);
  if (faults.length === 0) return 'none';
  let landed: string;
  if (report.mode === 'single') {
    landed = `writes through the harness's client landed again ${range(faults.map((f) => f.writesBackAfterMs!))} after the server was started again`;
  } else {
    const leader = faults.filter((f) => f.what.includes('leader of the jobs bucket')).map((f) => f.writesBackAfterMs!);
    const other = faults.filter((f) => !f.what.includes('leader of the jobs bucket')).map((f) => f.writesBackAfterMs!);
    landed = [
      leader.length > 0 ? `writes through the harness's client landed again ${range(leader)} after a kill of the jobs bucket's leader` : '',
      other.length > 0 ? `${range(other)} after a kill of another server` : '',
    ]
      .filter(Boolean)
      .join(', ');
  }
  const caughtUp = report.faults.flatMap((f) => (f.caughtUpAfterMs === undefined ? [] : [f.caughtUpAfterMs])).sort((a, b) => a - b);
  const catchUp = caughtUp.length === 0 ? '' : `; the restarted server current again ${caughtUp[0]}–${caughtUp[caughtUp.length - 1]} ms after its restart`;
  return `${faults.length}; ${landed}${catchUp}`;
}
