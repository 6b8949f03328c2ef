/** Options of `createRuntime`, with their defaults, and their normalisation. */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseDuration, type DurationLike } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import type { InspectOption } from '../actors/inspector.js';
import { memoryStore, type StoreFactory } from '../store/index.js';
import { defaultLogger, safeLogger, type Logger } from './logger.js';
import { resolveMetricsOption, type MetricsOption, type ResolvedMetricsOptions } from './metrics.js';

export type NodeRole = 'both' | 'scheduler' | 'worker';

export interface RuntimeOptions {
  /** Where schedules, jobs, results and leases live. @defaultValue memoryStore() */
  store?: StoreFactory;
  /** What this node does. @defaultValue 'both' */
  role?: NodeRole;
  /** Stable identity of this node. @defaultValue `<host>-<pid>-<random>` */
  nodeId?: string;
  /** Jobs this node runs at once; change live with `setMaxConcurrentJobs`. @defaultValue 100 */
  maxConcurrentJobs?: number;
  /** TTL of job and schedule leases, renewed every third of it. Same on every node of a store. @defaultValue '30s' */
  leaseDuration?: DurationLike;
  /** Fallback poll of the queue when notifications are lost. @defaultValue '1s' */
  pollInterval?: DurationLike;
  /** `true`/URL: WebSocket inspector (default ws://127.0.0.1:8080); a function: raw XState inspection events. @defaultValue off */
  inspect?: InspectOption;
  /** How long results are kept unless `addJob({ resultTtl })` says otherwise. @defaultValue '1d' */
  defaultResultTtl?: DurationLike;
  /**
   * Prometheus metrics: `true` serves `/metrics` on 127.0.0.1:9464, `'host:port'` there, or
   * `{ listen, registry, prefix, defaultMetrics }` (`listen: false`: registry only). @defaultValue off
   */
  metrics?: MetricsOption;
  /**
   * Where the node logs: pino, or any object with pino-like `error`/`warn`/`info`/`debug(fields, message)`.
   * @defaultValue pino at level 'warn', JSON lines on stderr
   */
  logger?: Logger;
}

export interface ResolvedRuntimeOptions {
  store: StoreFactory;
  role: NodeRole;
  nodeId: string;
  maxConcurrentJobs: number;
  leaseDurationMs: number;
  pollIntervalMs: number;
  inspect: InspectOption | undefined;
  defaultResultTtlMs: number;
  metrics: ResolvedMetricsOptions | null;
  logger: Logger;
}

const ROLES: readonly NodeRole[] = ['both', 'scheduler', 'worker'];

export function resolveRuntimeOptions(opts: RuntimeOptions = {}): ResolvedRuntimeOptions {
  const role = opts.role ?? 'both';
  if (!ROLES.includes(role)) throw new InvalidOptionError('role', `${JSON.stringify(role)} is not one of ${ROLES.join(', ')}`);
  const maxConcurrentJobs = opts.maxConcurrentJobs ?? 100;
  assertCapacity(maxConcurrentJobs, 'maxConcurrentJobs');
  const leaseDurationMs = parseDuration(opts.leaseDuration ?? '30s', 'leaseDuration');
  if (leaseDurationMs < 300) throw new InvalidOptionError('leaseDuration', `must be at least 300ms, got ${leaseDurationMs}ms`);
  const pollIntervalMs = parseDuration(opts.pollInterval ?? '1s', 'pollInterval');
  if (pollIntervalMs < 10) throw new InvalidOptionError('pollInterval', `must be at least 10ms, got ${pollIntervalMs}ms`);
  const nodeId = opts.nodeId ?? defaultNodeId();
  if (typeof nodeId !== 'string' || nodeId.length === 0 || nodeId.length > 200) {
    throw new InvalidOptionError('nodeId', 'must be a non-empty string of at most 200 characters');
  }
  return {
    store: opts.store ?? memoryStore(),
    role,
    nodeId,
    maxConcurrentJobs,
    leaseDurationMs,
    pollIntervalMs,
    inspect: opts.inspect,
    defaultResultTtlMs: parseDuration(opts.defaultResultTtl ?? '1d', 'defaultResultTtl'),
    metrics: resolveMetricsOption(opts.metrics),
    logger: opts.logger === undefined ? defaultLogger(nodeId) : safeLogger(checkedLogger(opts.logger)),
  };
}

function checkedLogger(logger: unknown): Logger {
  for (const level of ['error', 'warn', 'info', 'debug'] as const) {
    if (typeof (logger as Record<string, unknown> | null)?.[level] !== 'function') {
      throw new InvalidOptionError('logger', `must have pino-like level methods error, warn, info and debug; "${level}" is missing`);
    }
  }
  return logger as Logger;
}

/** `<host>-<pid>-<random>`: the node id when none is given. */
export function defaultNodeId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export function assertCapacity(n: number, option: string): void {
  if (!(Number.isInteger(n) && n >= 0)) throw new InvalidOptionError(option, `must be an integer >= 0, got ${n}`);
}
