/** `jobchart status`: the live nodes of a NATS store, their role, capacity, tasks and the leases they hold. */
import { Command, Option } from 'commander';
import { decodeRecord } from '../codec/index.js';
import { withAdminRuntime } from './admin-runtime.js';
import { printResult, type CliContext } from './cli-context.js';
import { ExitCode } from './cli-error.js';
import { addStoreOptions, resolveStoreTarget, type StoreFlags } from './store-flags.js';

export function statusCommand(ctx: CliContext): Command {
  const cmd = new Command('status')
    .description('show the live nodes: role, running jobs and capacity, leases held, tasks')
    .addOption(new Option('--json', 'print one JSON line instead of text (default: off)'));
  addStoreOptions(cmd, 'admin');
  return cmd.action(async (flags: StoreFlags & { json?: boolean }) => {
    const target = resolveStoreTarget(flags, ctx.env, 'admin');
    const status = await withAdminRuntime(target, async (rt) => {
      const nodes = await rt.backend.nodes.listNodes();
      const leases: { key: string; nodeId: string; acquiredAt: Date }[] = [];
      for (const entry of await rt.backend.buckets.leases.entries()) {
        try {
          const lease = decodeRecord('lease', entry.value);
          leases.push({ key: entry.key, nodeId: lease.nodeId, acquiredAt: lease.acquiredAt });
        } catch {
          leases.push({ key: entry.key, nodeId: '?', acquiredAt: new Date(0) });
        }
      }
      return { nodes, leases };
    });
    const lines = [`nodes (${status.nodes.length}):`];
    for (const n of status.nodes) {
      const held = status.leases.filter((l) => l.nodeId === n.nodeId);
      const count = (prefix: string): number => held.filter((l) => l.key.startsWith(prefix)).length;
      lines.push(
        `  ${n.nodeId}\t${n.role}\trunning ${n.runningJobs ?? 0}/${n.maxConcurrentJobs ?? '?'}\tleases: ${count('job.')} jobs, ${count('schedule.')} schedules, ${count('slot.')} slots\ttasks: ${(n.tasks ?? []).join(',')}`,
      );
    }
    lines.push(`leases held: ${status.leases.length}`);
    printResult(ctx, flags.json, lines.join('\n'), status);
    ctx.exitCode = ExitCode.ok;
  });
}
