/**
 * Failover on a real three-server JetStream cluster, replicas 3: the one server that leads every
 * stream of the store (the four buckets, the dispatch stream and its consumer — stepped down until
 * they all sit on it) is SIGKILLed while 2,000 jobs run on 2 node processes and a 1 s interval
 * schedule fires. The store rides out the election (writes answered 503 "no responders" or not at
 * all are retried: renewals until the lease deadline, commits under the lease, fetches back off).
 * Afterwards every job has exactly one terminal result, none was committed twice (one JobReleased
 * per job, each result naming a run of its attempt that finished with its signal not aborted — the
 * tasks' own side-effect log), no run finished its work while a later run of its job ran, every
 * fire time of the schedule (until it is paused, once it fires again after the failover) made
 * exactly one job, and the killed server, restarted, catches up.
 *
 * The nodes are scripts/chaos/chaos-node.ts processes; the checks are the chaos harness's checker.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, interval, natsStore, type JobResult, type Runtime } from '../../src/index.js';
import { checkChaosRun } from '../../scripts/chaos/checker.js';
import { ChaosProcesses } from '../../scripts/chaos/processes.js';
import { readRunLines } from '../../scripts/chaos/side-effect-log.js';
import { Prng } from '../../scripts/chaos/prng.js';
import { startNatsCluster, type NatsCluster } from '../support/nats-cluster.js';

const PREFIX = 'failover';
const JOBS = 2_000;
/** Long enough for the leases to outlive the election (deadline 4/3 of it), short enough for a quick takeover if one does not. */
const LEASE_MS = 6_000;
const EVERY_MS = 1_000;
const STREAMS = [`KV_${PREFIX}_jobs`, `KV_${PREFIX}_leases`, `KV_${PREFIX}_schedules`, `KV_${PREFIX}_nodes`, `${PREFIX}_dispatch`];
const CONSUMER = { stream: `${PREFIX}_dispatch`, name: `${PREFIX}_workers` };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

describe('SIGKILL of the server leading every stream, under 2,000 jobs on 2 node processes (R3)', () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let admin: Runtime;
  const processes = new ChaosProcesses();
  const workDir = mkdtempSync(join(tmpdir(), 'jobchart-failover-'));
  const logFile = join(workDir, 'side-effects.log');

  beforeAll(async () => {
    cluster = await startNatsCluster();
    nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    jsm = await jetstreamManager(nc);
  }, 60_000);
  afterAll(async () => {
    await admin?.stop({ drain: false }).catch(() => undefined);
    await processes.stopAll();
    await nc?.close().catch(() => undefined);
    await cluster?.dispose();
    rmSync(workDir, { recursive: true, force: true });
  });

  const consumerLeader = async (): Promise<string | undefined> => (await jsm.consumers.info(CONSUMER.stream, CONSUMER.name)).cluster?.leader;

  /** Steps leaders down until `server` leads every stream and the consumer (2.9 has no targeted step-down). */
  async function leadEverything(server: string): Promise<boolean> {
    for (let round = 0; round < 40; round++) {
      let moved = false;
      for (const stream of STREAMS) {
        if ((await cluster.streamLeader(stream)) !== server) {
          await cluster.stepDownStream(stream).catch(() => undefined);
          moved = true;
        }
      }
      if ((await consumerLeader().catch(() => undefined)) !== server) {
        await nc.request(`$JS.API.CONSUMER.LEADER.STEPDOWN.${CONSUMER.stream}.${CONSUMER.name}`, '', { timeout: 5_000 }).catch(() => undefined);
        await sleep(300);
        moved = true;
      }
      if (!moved) return true;
    }
    return false;
  }

  it('every job ends once, nothing is committed twice, every fire time fires once, and the killed server catches up', async () => {
    const loadBefore = loadavg()[0] ?? 0;
    admin = await createRuntime({ store: natsStore({ servers: cluster.urls, prefix: PREFIX, replicas: 3, reconnectTimeWaitMs: 100 }), leaseDuration: LEASE_MS, nodeId: 'test-client' });
    admin.task('work', () => undefined);
    admin.task('tick', () => undefined);
    const released = new Map<string, string[]>();
    admin.on('JobReleased', (e) => released.set(e.jobId, [...(released.get(e.jobId) ?? []), e.nodeId]));
    const lostLeases: string[] = [];
    admin.on('LeaseLost', (e) => lostLeases.push(e.reason));

    await Promise.all(
      ['n1', 'n2'].map((nodeId) =>
        processes.spawn({ servers: cluster.urls, prefix: PREFIX, nodeId, role: 'both', replicas: 3, leaseMs: LEASE_MS, pollMs: 250, maxConcurrentJobs: 100, logFile }),
      ),
    );
    await cluster.waitCurrent({ streams: STREAMS });
    const victimName = await cluster.streamLeader(`KV_${PREFIX}_jobs`);
    const aligned = await leadEverything(victimName);
    const victim = cluster.server(victimName);

    const firstFireTime = Math.ceil(Date.now() / 1000) * 1000 + 1_000;
    await admin.addSchedule({ id: 'tick', task: 'tick', trigger: interval(EVERY_MS, { start: new Date(firstFireTime) }), coalesce: 'all' });
    const prng = new Prng(10);
    const ids: string[] = [];
    for (let i = 0; i < JOBS; i += 200) {
      ids.push(...(await admin.addJobs(Array.from({ length: 200 }, () => ({ task: 'work', args: { ms: prng.int(20, 400) } })))));
    }
    // Kill when about a quarter of the jobs are done and the rest are running or queued.
    await until('a quarter of the jobs done', 60_000, () => readRunLines(logFile).filter((l) => l.e === 'end' && l.task === 'work').length >= JOBS / 4);
    const leaderOf = Object.fromEntries(await Promise.all(STREAMS.map(async (s) => [s, await cluster.streamLeader(s)] as const)));
    const killedAt = Date.now();
    const victimPid = victim.pid;
    await victim.kill('SIGKILL');

    // Failover as a client sees it: the first write through the test's own client that lands.
    let writesBackMs = NaN;
    for (;;) {
      try {
        await admin.backend.buckets.jobs.put('failover.probe', new Uint8Array([1]));
        writesBackMs = Date.now() - killedAt;
        break;
      } catch {
        if (Date.now() - killedAt > 60_000) throw new Error('no write landed within 60 s of the kill');
        await sleep(50);
      }
    }
    const firstEndAfter = await until('a job to finish after the kill', 60_000, () =>
      readRunLines(logFile).find((l) => l.e === 'end' && !l.aborted && l.t > killedAt + 500),
    );
    const newLeaders = Object.fromEntries(await Promise.all(STREAMS.map(async (s) => [s, await cluster.streamLeader(s)] as const)));

    // The killed server comes back after the election, and catches up with what happened meanwhile.
    await sleep(killedAt + 8_000 - Date.now());
    const restartedAt = Date.now();
    await victim.restart();
    await cluster.waitCurrent({ streams: STREAMS, timeoutMs: 60_000 });
    const jobsStream = await cluster.streamInfo(`KV_${PREFIX}_jobs`);
    const replica = await cluster.waitReplicaState(victimName, `KV_${PREFIX}_jobs`, jobsStream.state.last_seq, 60_000);
    const caughtUpMs = Date.now() - restartedAt;
    expect(replica.last_seq).toBeGreaterThanOrEqual(jobsStream.state.last_seq);

    // Every job ends; then the schedule stops and its jobs end too.
    const results = new Map<string, JobResult | null>();
    await until('every job to end', 120_000, async () => {
      const pending = ids.filter((id) => !results.get(id));
      for (let i = 0; i < pending.length; i += 200) {
        const chunk = pending.slice(i, i + 200);
        const got = await Promise.all(chunk.map((id) => admin.getJobResult(id).catch(() => null)));
        chunk.forEach((id, k) => results.set(id, got[k] ?? null));
      }
      return ids.every((id) => results.get(id));
    });
    const listTicks = async () => (await admin.listJobs({ scheduleId: 'tick', limit: 10_000 })).jobs;
    // The schedule fires again after the failover before it is paused. A partition whose holder could
    // not prove its lease through the election is taken over once its lease runs out in the store;
    // the new holder then publishes every fire time missed meanwhile (coalesce 'all'). A pause before
    // that would end the schedule with those fire times never fired (a paused schedule fires nothing),
    // which is the pause's doing, not the failover's. A schedule silent for good fails this wait.
    const jobsEndedAt = Date.now();
    await until('the schedule to fire after the failover', 30_000, async () =>
      (await listTicks()).some((t) => (t.scheduledFireTime?.getTime() ?? 0) >= jobsEndedAt),
    );
    await admin.pauseSchedule('tick');
    const pausedAt = Date.now();
    await until('every fire to end', 60_000, async () => {
      const ticks = await listTicks();
      for (const t of ticks) if (!results.get(t.id)) results.set(t.id, await admin.getJobResult(t.id));
      return ticks.every((t) => results.get(t.id));
    });
    await sleep(2 * LEASE_MS / 3); // late events and end lines
    const ticks = await listTicks();

    const findings = checkChaosRun({
      jobIds: [...ids, ...ticks.map((t) => t.id)],
      results,
      lines: readRunLines(logFile),
      released,
      killedAt: new Map(),
      pauses: [],
      collectedAt: Date.now(),
      schedule: { firstFireTime, everyMs: EVERY_MS, pausedAt, fireTimes: ticks.map((t) => t.scheduledFireTime?.getTime() ?? NaN) },
    });
    const retried = [...results.values()].filter((r) => r && r.attempt > 1).length;
    console.log(
      '[cluster failover]',
      JSON.stringify({
        victim: `${victimName} (pid ${victimPid})`,
        ledEverything: aligned,
        leadersBefore: leaderOf,
        leadersAfter: newLeaders,
        writesBackMs,
        firstJobFinishedAfterMs: firstEndAfter.t - killedAt,
        caughtUpMs,
        jobs: findings.stats.jobs,
        outcomes: findings.stats.outcomes,
        retried,
        leaseLost: lostLeases.length,
        overlaps: findings.stats.overlaps,
        fires: ticks.length,
        tickRuns: new Set(readRunLines(logFile).filter((l) => l.task === 'tick' && l.e === 'start').map((l) => l.job)).size,
        load: [loadBefore, loadavg()[0]].map((l) => l?.toFixed(2)),
      }),
    );
    for (const check of findings.checks) expect(check.passed, `${check.name}: ${check.detail}`).toBe(true);
    expect(findings.stats.outcomes).toEqual({ success: JOBS + ticks.length });
    expect(ticks.length).toBeGreaterThanOrEqual(Math.floor((pausedAt - firstFireTime) / EVERY_MS));
    // The kill happened under load: jobs were still queued and running.
    expect(readRunLines(logFile).filter((l) => l.e === 'start' && l.task === 'work' && l.t > killedAt).length).toBeGreaterThan(100);
  }, 240_000);
});
