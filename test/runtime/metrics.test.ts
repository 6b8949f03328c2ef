/**
 * Prometheus metrics (`createRuntime({ metrics })`): /metrics served on loopback, scraped over HTTP
 * and parsed as Prometheus text — jobs added, started, finished by task and outcome, retries, the
 * run-time, add→start and fire-lateness histograms, queue depth, job leases held and worker slots
 * read at scrape time; a registry without a server; bad addresses refused.
 */
import { createServer } from 'node:net';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createRuntime, interval, InvalidOptionError, memoryStore, type JobContext } from '../../src/index.js';
import { parseListen } from '../../src/runtime/metrics.js';
import { parsePrometheusText, type ParsedMetrics } from '../support/prometheus-text.js';
import { STORE_KINDS, useCluster } from './support/cluster.js';
import { waitUntil } from './support/wait.js';

const cluster = useCluster();

async function scrape(url: string | null | undefined): Promise<ParsedMetrics> {
  if (!url) throw new Error('metrics are not served');
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
}

describe.each(STORE_KINDS)('metrics on the %s store', (kind) => {
  it('serves /metrics on loopback: per-task counters, histograms and the values read at scrape', async () => {
    const rt = await cluster.runtimeOn(cluster.freshStore(kind), { metrics: '127.0.0.1:0', maxConcurrentJobs: 7 });
    expect(rt.metrics?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    rt.task('ok', () => 'fine');
    rt.task('boom', () => {
      throw new Error('boom');
    });
    rt.task('flaky', (_: null, ctx: JobContext) => {
      if (ctx.attempt === 1) throw new Error('once');
      return 'second time';
    }, { retry: { attempts: 2, backoff: '10ms' } });
    rt.task('hold', () => blocked);
    rt.task('tick', () => 'tick');
    await rt.start();
    for (let i = 0; i < 3; i++) await rt.runJob('ok', null);
    await rt.runJob('boom', null).catch(() => undefined);
    await rt.runJob('flaky', null);
    await rt.addJobs([{ task: 'nobody', args: 1 }, { task: 'nobody', args: 2 }]); // queued: no worker for them
    const holding = await rt.addJob({ task: 'hold', args: null });
    await rt.addSchedule({ id: 'ticker', task: 'tick', trigger: interval('200ms') });
    await waitUntil('a scheduled job', async () => (await rt.listJobs({ scheduleId: 'ticker', state: 'success' })).jobs.length > 0);
    await waitUntil('the held job running', async () => (await rt.getJob(holding)).state === 'running');
    // No tick may run while the gauges are read (under load one could, holding a second slot).
    await rt.pauseSchedule('ticker');
    await waitUntil('only the held job running', () => rt.status.running === 1);

    const m = await scrape(rt.metrics?.url);
    expect(m.types.get('jobchart_jobs_added_total')).toBe('counter');
    expect(m.types.get('jobchart_job_run_seconds')).toBe('histogram');
    expect(m.types.get('jobchart_queue_depth')).toBe('gauge');
    expect(m.value('jobchart_jobs_added_total', { task: 'ok' })).toBe(3);
    expect(m.value('jobchart_jobs_added_total', { task: 'nobody' })).toBe(2);
    expect(m.value('jobchart_jobs_added_total', { task: 'tick' })).toBeGreaterThanOrEqual(1);
    expect(m.value('jobchart_jobs_started_total', { task: 'ok' })).toBe(3);
    expect(m.value('jobchart_jobs_started_total', { task: 'flaky' })).toBe(2);
    expect(m.value('jobchart_jobs_finished_total', { task: 'ok', outcome: 'success' })).toBe(3);
    expect(m.value('jobchart_jobs_finished_total', { task: 'boom', outcome: 'error' })).toBe(1);
    expect(m.value('jobchart_jobs_finished_total', { task: 'flaky', outcome: 'success' })).toBe(1);
    expect(m.value('jobchart_job_retries_total', { task: 'flaky' })).toBe(1);
    // Run time: the 3 ok attempts, and both flaky ones (the retried attempt counts too).
    expect(m.value('jobchart_job_run_seconds_count', { task: 'ok' })).toBe(3);
    expect(m.value('jobchart_job_run_seconds_count', { task: 'flaky' })).toBe(2);
    expect(m.value('jobchart_job_run_seconds_bucket', { task: 'ok', le: '+Inf' })).toBe(3);
    expect(m.value('jobchart_job_wait_seconds_count', { task: 'ok' })).toBe(3); // first attempts only
    expect(m.value('jobchart_job_wait_seconds_count', { task: 'flaky' })).toBe(1);
    expect(m.value('jobchart_schedule_fire_lateness_seconds_count', { task: 'tick' })).toBeGreaterThanOrEqual(1);
    expect(m.value('jobchart_schedule_fire_lateness_seconds_count', { task: 'ok' })).toBeUndefined(); // not scheduled
    expect(m.value('jobchart_queue_depth')).toBeGreaterThanOrEqual(2);
    expect(m.value('jobchart_job_leases_held')).toBe(1);
    expect(m.value('jobchart_worker_slots_in_use')).toBe(1);
    expect(m.value('jobchart_worker_slots')).toBe(7);
    // The gauges read rt.status: the worker's state is its name, not JSON of it ("\"idle\"" before).
    expect(rt.status).toMatchObject({ running: 1, capacity: 7 });
    expect(rt.status.worker).toMatch(/^[a-z]+$/);
    expect(m.value('jobchart_lease_renewals_failed_total')).toBe(0);
    expect(m.value('jobchart_leases_lost_total')).toBe(0);
    // No per-job labels anywhere.
    expect(m.samples.every((s) => Object.keys(s.labels).every((l) => ['task', 'outcome', 'le'].includes(l)))).toBe(true);

    release();
    await rt.getJobResult(holding, { wait: true, timeout: '5s' });
    await waitUntil('slots free again', async () => (await scrape(rt.metrics?.url)).value('jobchart_worker_slots_in_use') === 0);
    expect((await fetch(rt.metrics!.url!.replace('/metrics', '/other'))).status).toBe(404);
    const url = rt.metrics!.url!;
    await rt.stop();
    await expect(fetch(url)).rejects.toThrow(); // closed with the node
  });
});

describe('metrics options', () => {
  it('metrics: { listen: false, registry } registers in the given registry without a server; off by default', async () => {
    const registry = new Registry();
    const rt = await createRuntime({ store: memoryStore(), metrics: { listen: false, registry, prefix: 'myapp_' } });
    try {
      rt.task('x', () => 1);
      await rt.start();
      await rt.runJob('x', null);
      expect(rt.metrics?.url).toBeNull();
      // The result reaches runJob's waiter as it is committed; the node counts it right after.
      await waitUntil('the finished job counted', async () => parsePrometheusText(await registry.metrics()).value('myapp_jobs_finished_total', { task: 'x', outcome: 'success' }) === 1);
      expect(parsePrometheusText(await rt.metrics!.text()).value('myapp_worker_slots')).toBe(100);
    } finally {
      await rt.stop();
    }
    const plain = await createRuntime({ store: memoryStore() });
    expect(plain.metrics).toBeNull();
    await plain.stop();
  });

  it('listen addresses: host:port, [::1]:port, :port and a bare port; anything else is refused with the option named', () => {
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen(':9100')).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(parseListen(9100)).toEqual({ host: '127.0.0.1', port: 9100 });
    for (const bad of ['localhost', '1.2.3.4:99999', 'http://x:1', '']) {
      expect(() => parseListen(bad), bad).toThrow(InvalidOptionError);
    }
  });

  it('a port in use fails createRuntime with InvalidOptionError, and nothing is left open', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as { port: number };
    try {
      await expect(createRuntime({ store: memoryStore(), metrics: `127.0.0.1:${port}` })).rejects.toThrow(
        new RegExp(`metrics: cannot serve metrics on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`),
      );
    } finally {
      blocker.close();
    }
  });
});
