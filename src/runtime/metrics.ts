/**
 * Prometheus metrics of one node (prom-client), and the loopback HTTP server that serves them.
 *
 * Per-job cost is a few counter increments and histogram observations on children cached per task
 * (prom-client hashes the label object on every `inc({ task })`; a cached child skips that). Labels
 * are `task` and `outcome` only: no job ids, no node ids (Prometheus adds `instance`). What is not
 * a per-job event — queue depth, leases held, worker slots — is read when Prometheus scrapes.
 *
 * The server is node:http on 127.0.0.1 by default (metrics name tasks and their failure rates:
 * exposing them beyond the host is the operator's choice, `listen: '0.0.0.0:9464'`). It is unref'd:
 * it never keeps a process alive on its own, and `rt.stop()` closes it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { InvalidOptionError } from '../errors.js';
import type { Outcome } from '../outcome.js';

/** Where `/metrics` is served by default (Prometheus's port for exporters of this kind). */
export const DEFAULT_METRICS_LISTEN = '127.0.0.1:9464';

/** `createRuntime({ metrics })` in full. */
export interface MetricsOptions {
  /** `'host:port'`, `':port'` (loopback) or a port; `false`: not served (scrape `rt.metrics.registry` yourself). @defaultValue '127.0.0.1:9464' */
  listen?: string | number | false;
  /** The registry to register in (e.g. prom-client's global `register`). @defaultValue a new one per runtime */
  registry?: Registry;
  /** Prefix of every metric name. @defaultValue 'jobchart_' */
  prefix?: string;
  /** Also collect prom-client's default process metrics (CPU, memory, event-loop lag). @defaultValue false */
  defaultMetrics?: boolean;
}

/** `true`: serve on 127.0.0.1:9464; a string or number: serve there; an object: see MetricsOptions. @defaultValue off */
export type MetricsOption = boolean | string | number | MetricsOptions;

/** What the runtime tells its metrics as jobs come and go (a no-op when metrics are off). */
export interface JobMetrics {
  /** A job was added by this node (addJob, runJob, a schedule's fire). */
  jobAdded(task: string): void;
  /** An attempt started here; `waitedMs` add→start and `fireLatenessMs` start − fire time, for first attempts. */
  jobStarted(task: string, waitedMs: number | null, fireLatenessMs: number | null): void;
  /** A job's result was committed here; `runMs` the final attempt's run time when it ran. */
  jobFinished(task: string, outcome: Outcome, runMs: number | null): void;
  /** An attempt failed and the job was requeued for another. */
  attemptRetried(task: string, runMs: number | null): void;
  /** A lease renewal (or fenced write) got no answer; it is retried until the lease's deadline. */
  renewalFailed(): void;
  /** A job lease was lost. */
  leaseLost(): void;
}

export const noMetrics: JobMetrics = {
  jobAdded: () => undefined,
  jobStarted: () => undefined,
  jobFinished: () => undefined,
  attemptRetried: () => undefined,
  renewalFailed: () => undefined,
  leaseLost: () => undefined,
};

/** Values read at scrape time. */
export interface MetricsSources {
  queueDepth(): Promise<number>;
  jobLeasesHeld(): number;
  slotsInUse(): number;
  slots(): number;
}

export interface ResolvedMetricsOptions {
  listen: { host: string; port: number } | null;
  registry: Registry | null;
  prefix: string;
  defaultMetrics: boolean;
}

/** Seconds buckets of job run time and waits: 5 ms … 10 min. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** A scrape does not wait longer than this for the queue depth (a store outage must not hang it). */
const SCRAPE_READ_TIMEOUT_MS = 2_000;

/** Normalises the `metrics` option (null = off); throws InvalidOptionError naming the bad value. */
export function resolveMetricsOption(option: MetricsOption | undefined): ResolvedMetricsOptions | null {
  if (option === undefined || option === false) return null;
  const opts: MetricsOptions = option === true ? {} : typeof option === 'object' ? option : { listen: option };
  const prefix = opts.prefix ?? 'jobchart_';
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) throw new InvalidOptionError('metrics.prefix', `${JSON.stringify(prefix)} is not a Prometheus metric name prefix (letters, digits, _ and :)`);
  return {
    listen: opts.listen === false ? null : parseListen(opts.listen ?? DEFAULT_METRICS_LISTEN),
    registry: opts.registry ?? null,
    prefix,
    defaultMetrics: opts.defaultMetrics ?? false,
  };
}

/** `'host:port'`, `'[::1]:port'`, `':port'` or a port number → host and port (host defaults to 127.0.0.1). */
export function parseListen(listen: string | number): { host: string; port: number } {
  const raw = String(listen).trim();
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(raw) ?? /^()()(\d+)$/.exec(raw);
  const port = match ? Number(match[3]) : NaN;
  if (!match || !(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw new InvalidOptionError('metrics', `${JSON.stringify(raw)} is not an address to listen on; use host:port, e.g. 127.0.0.1:9464 (port 0: any free port)`);
  }
  return { host: match[1] || match[2] || '127.0.0.1', port };
}

/** A node's metrics: the registry, the per-job recorder, and (optionally) the HTTP server. */
export class RuntimeMetrics {
  readonly registry: Registry;
  readonly recorder: JobMetrics;
  #server: Server | null = null;
  #url: string | null = null;

  constructor(
    private readonly opts: ResolvedMetricsOptions,
    sources: MetricsSources,
    onScrapeError: (error: unknown) => void,
  ) {
    this.registry = opts.registry ?? new Registry();
    const registers = [this.registry];
    const p = opts.prefix;
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: p });

    const added = new Counter({ name: `${p}jobs_added_total`, help: 'Jobs added by this node (addJob, runJob, schedule fires), by task', labelNames: ['task'], registers });
    const started = new Counter({ name: `${p}jobs_started_total`, help: 'Attempts started on this node, by task', labelNames: ['task'], registers });
    const finished = new Counter({ name: `${p}jobs_finished_total`, help: 'Jobs whose result this node committed, by task and outcome', labelNames: ['task', 'outcome'], registers });
    const retried = new Counter({ name: `${p}job_retries_total`, help: 'Failed attempts requeued for a retry, by task', labelNames: ['task'], registers });
    const runTime = new Histogram({ name: `${p}job_run_seconds`, help: 'Run time of attempts on this node (start to result or retry), by task', labelNames: ['task'], buckets: DURATION_BUCKETS, registers });
    const wait = new Histogram({ name: `${p}job_wait_seconds`, help: 'Time from a job being added to its first attempt starting, by task', labelNames: ['task'], buckets: DURATION_BUCKETS, registers });
    const lateness = new Histogram({ name: `${p}schedule_fire_lateness_seconds`, help: "Scheduled jobs: first attempt's start minus the fire time, by task", labelNames: ['task'], buckets: DURATION_BUCKETS, registers });
    const renewalsFailed = new Counter({ name: `${p}lease_renewals_failed_total`, help: 'Job lease renewals or fenced writes that got no answer (retried until the lease deadline)', registers });
    const leasesLost = new Counter({ name: `${p}leases_lost_total`, help: 'Job leases this node lost (its attempt was aborted and its result refused)', registers });

    let lastDepth = 0;
    new Gauge({
      name: `${p}queue_depth`,
      help: 'Jobs waiting in the dispatch queue (delivered, unacked ones included), cluster-wide; read at scrape',
      registers,
      async collect() {
        try {
          lastDepth = await withTimeout(sources.queueDepth(), SCRAPE_READ_TIMEOUT_MS);
        } catch (error) {
          onScrapeError(error); // the last value stands
        }
        this.set(lastDepth);
      },
    });
    new Gauge({ name: `${p}job_leases_held`, help: 'Job leases this node holds now (jobs running here)', registers, collect() { this.set(sources.jobLeasesHeld()); } });
    new Gauge({ name: `${p}worker_slots_in_use`, help: "Worker slots in use (jobs this node's worker runs now)", registers, collect() { this.set(sources.slotsInUse()); } });
    new Gauge({ name: `${p}worker_slots`, help: "Worker slots (the node's maxConcurrentJobs)", registers, collect() { this.set(sources.slots()); } });

    // Children cached per label set: the hot path does a Map lookup and an add.
    const addedBy = childCache((task: string) => added.labels(task));
    const startedBy = childCache((task: string) => started.labels(task));
    const retriedBy = childCache((task: string) => retried.labels(task));
    const runTimeBy = childCache((task: string) => runTime.labels(task));
    const waitBy = childCache((task: string) => wait.labels(task));
    const latenessBy = childCache((task: string) => lateness.labels(task));
    const finishedBy = childCache((key: string) => {
      const [task = '', outcome = ''] = key.split('\u0000');
      return finished.labels(task, outcome);
    });
    this.recorder = {
      jobAdded: (task) => addedBy(task).inc(),
      jobStarted: (task, waitedMs, fireLatenessMs) => {
        startedBy(task).inc();
        if (waitedMs !== null) waitBy(task).observe(Math.max(0, waitedMs) / 1000);
        if (fireLatenessMs !== null) latenessBy(task).observe(Math.max(0, fireLatenessMs) / 1000);
      },
      jobFinished: (task, outcome, runMs) => {
        finishedBy(`${task}\u0000${outcome}`).inc();
        if (runMs !== null) runTimeBy(task).observe(Math.max(0, runMs) / 1000);
      },
      attemptRetried: (task, runMs) => {
        retriedBy(task).inc();
        if (runMs !== null) runTimeBy(task).observe(Math.max(0, runMs) / 1000);
      },
      renewalFailed: () => renewalsFailed.inc(),
      leaseLost: () => leasesLost.inc(),
    };
  }

  /** `http://host:port/metrics` while served, else null. */
  get url(): string | null {
    return this.#url;
  }

  /** The metrics in Prometheus's text format (what a scrape gets). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Starts serving `/metrics` where the options say (no-op without `listen`). */
  async serve(): Promise<void> {
    const { listen } = this.opts;
    if (listen === null || this.#server) return;
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at /metrics\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('use GET\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
        (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot collect metrics: ${(error as Error).message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(
          new InvalidOptionError(
            'metrics',
            `cannot serve metrics on ${listen.host}:${listen.port} (${error.code ?? error.message}); choose another address, e.g. port 0 for any free port`,
          ),
        );
      };
      server.once('error', onError);
      server.listen(listen.port, listen.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.unref();
    this.#server = server;
    const { address, port } = server.address() as AddressInfo;
    this.#url = `http://${address.includes(':') ? `[${address}]` : address}:${port}/metrics`;
  }

  /** Stops serving (idempotent); the registry stays readable. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    this.#url = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function childCache<C>(make: (key: string) => C): (key: string) => C {
  const children = new Map<string, C>();
  return (key) => {
    let child = children.get(key);
    if (child === undefined) children.set(key, (child = make(key)));
    return child;
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
