/**
 * `npm run chaos -- --seed N`: one chaos run (see harness.ts), its summary, and a last line
 * `N passed, M failed`; exit code 0 only when every check passed.
 *
 *   npm run chaos -- --seed 7                      30 s of faults on one nats-server
 *   npm run chaos -- --seed 7 --cluster            on three clustered nats-servers, replicas 3
 *   npm run chaos -- --seed 7 --duration 5m        a long run (units: ms, s, m)
 *   npm run chaos -- --seed 7 --workers 4 --lease 3s --keep   more workers, another lease, keep the side-effect log
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../../src/duration.js';
import { formatReport, runChaos } from './harness.js';

const USAGE =
  'usage: npm run chaos -- --seed <n> [--cluster] [--duration 30s] [--workers 3] [--schedulers 2] [--lease 2s] [--concurrency 50] [--keep]';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    cluster: { type: 'boolean', default: false },
    duration: { type: 'string', default: '30s' },
    workers: { type: 'string', default: '3' },
    schedulers: { type: 'string', default: '2' },
    lease: { type: 'string' },
    concurrency: { type: 'string', default: '50' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function integer(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

function duration(name: string, value: string): number {
  try {
    return parseDuration(value, name);
  } catch (error) {
    return fail(`--${name}: ${(error as Error).message}`);
  }
}

if (values.seed === undefined) fail('--seed is required (any integer: the same seed gives the same fault plan)');
const report = await runChaos({
  seed: integer('seed', values.seed, 0),
  cluster: values.cluster,
  durationMs: duration('duration', values.duration),
  workers: integer('workers', values.workers, 2),
  schedulers: integer('schedulers', values.schedulers, 1),
  ...(values.lease !== undefined ? { leaseMs: duration('lease', values.lease) } : {}),
  workerConcurrency: integer('concurrency', values.concurrency, 1),
  keepDir: values.keep,
});
console.log(formatReport(report));
if (values.keep) console.log(`side-effect log kept in ${report.workDir}`);
process.exit(report.failed === 0 ? 0 : 1);
