/**
 * `jobchart status`: how a NATS store is doing — the live nodes (role, running jobs and capacity,
 * leases, tasks), the queue (waiting jobs per task), the running jobs (id, node, since when), the
 * failures of the last interval, and the leases, users' apart from the runtime's internal ones.
 * It reads every job key and the queued messages (up to 10,000): a tool's view, not a hot path.
 */
import { Command, Option } from 'commander';
import { decodeRecord } from '../codec/index.js';
import { formatDuration } from '../duration.js';
import { INTERNAL_LEASE_KEYS } from '../store/index.js';
import { withAdminRuntime } from './admin-runtime.js';
import { printResult, type CliContext } from './cli-context.js';
import { ExitCode } from './cli-error.js';
import { durationValue } from './flag-values.js';
import { statusReport, statusText, type LeaseInfo } from './status-report.js';
import { addStoreOptions, resolveStoreTarget, type StoreFlags } from './store-flags.js';

const DEFAULT_WINDOW_MS = 3_600_000;

export function statusCommand(ctx: CliContext): Command {
  const cmd = new Command('status')
    .description('show the live nodes, the queue per task, the running jobs, the failures of the last hour (--since), and the leases')
    .addOption(new Option('--since <duration>', 'count failures this far back (default: 1h)').argParser(durationValue('--since')))
    .addOption(new Option('--json', 'print one JSON line instead of text (default: off)'));
  addStoreOptions(cmd, 'admin');
  return cmd.action(async (flags: StoreFlags & { json?: boolean; since?: number }) => {
    const target = resolveStoreTarget(flags, ctx.env, 'admin');
    const windowMs = flags.since ?? DEFAULT_WINDOW_MS;
    const report = await withAdminRuntime(target, async (rt) => {
      const [nodes, queueDepth, entries, listing] = await Promise.all([
        rt.backend.nodes.listNodes(),
        rt.backend.jobs.queueDepth(),
        rt.backend.buckets.leases.entries(),
        rt.listJobs({ limit: Number.MAX_SAFE_INTEGER }),
      ]);
      const leases: LeaseInfo[] = entries.map((entry) => {
        try {
          const lease = decodeRecord('lease', entry.value);
          return { key: entry.key, nodeId: lease.nodeId, acquiredAt: lease.acquiredAt };
        } catch {
          return { key: entry.key, nodeId: '?', acquiredAt: new Date(0) };
        }
      });
      const now = rt.backend.clock.now();
      return statusReport({ nodes, jobs: listing.jobs, queueDepth, leases, internalLeaseKeys: INTERNAL_LEASE_KEYS, since: new Date(now - windowMs) });
    });
    printResult(ctx, flags.json, statusText(report, new Date(), formatDuration(windowMs)), report);
    ctx.exitCode = ExitCode.ok;
  });
}
