/** `jobchart node`: runs a runtime node until SIGINT/SIGTERM, then drains and exits. */
import { Command, Option } from 'commander';
import { DEFAULT_INSPECTOR_URL } from '../actors/inspector.js';
import { formatDuration } from '../duration.js';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../runtime/logger.js';
import { DEFAULT_METRICS_LISTEN } from '../runtime/metrics.js';
import { createRuntime } from '../runtime/runtime.js';
import { defaultNodeId, type NodeRole } from '../runtime/runtime-options.js';
import { memoryStore, natsStore } from '../store/index.js';
import type { CliContext } from './cli-context.js';
import { CliUsageError, ExitCode } from './cli-error.js';
import { formatEvent } from './event-format.js';
import { durationValue, integerValue, listenAddressValue, nonEmptyValue, webSocketUrlValue } from './flag-values.js';
import { addStoreOptions, describeServers, resolveStoreTarget, type StoreFlags } from './store-flags.js';
import { probeStore } from './store-probe.js';
import { importTasksModule, registerTasks } from './tasks-module.js';

const ROLES = ['both', 'worker', 'scheduler'] as const satisfies readonly NodeRole[];

interface NodeFlags extends StoreFlags {
  role?: NodeRole;
  tasks?: string;
  concurrency?: number;
  lease?: number;
  poll?: number;
  nodeId?: string;
  inspect?: true | string;
  quiet?: boolean;
  json?: boolean;
  metrics?: true | string;
  logLevel?: LogLevel;
  logFormat?: LogFormat;
}

/** The lease duration to open the store with: the flag's, which must match the store's, else the store's. */
function leaseFor(flags: NodeFlags, storeLeaseMs: number | null): number | undefined {
  if (flags.lease === undefined) return storeLeaseMs ?? undefined;
  if (storeLeaseMs !== null && storeLeaseMs !== flags.lease) {
    throw new CliUsageError(
      `--lease ${formatDuration(flags.lease)}: the nodes of this store use ${formatDuration(storeLeaseMs)} leases, and every node of a store must use the same; drop --lease or give --lease ${formatDuration(storeLeaseMs)}`,
    );
  }
  return flags.lease;
}

function waitForStopSignal(ctx: CliContext): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      ctx.stderr(`\n${signal}: draining running jobs (send again to stop at once)\n`);
      process.once(signal, () => process.exit(130));
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}

/** `jobchart node` */
export function nodeCommand(ctx: CliContext): Command {
  const cmd = new Command('node')
    .description('run a node: a worker and/or scheduler until Ctrl-C or SIGTERM, which drain running jobs first')
    .addOption(new Option('--role <role>', 'what this node does (default: both)').choices(ROLES))
    .addOption(new Option('--tasks <module>', 'module whose tasks this node runs: .js, .mjs, .cjs, or .ts with tsx installed (default: none)'))
    .addOption(new Option('--concurrency <n>', 'jobs this node runs at once (default: 100)').argParser(integerValue('--concurrency', 1)))
    .addOption(new Option('--lease <duration>', "lease TTL of jobs and schedules, renewed every third of it; the same on every node of a store (default: the store's, else 30s)").argParser(durationValue('--lease')))
    .addOption(new Option('--poll <duration>', 'fallback poll of the queue when notifications are lost (default: 1s)').argParser(durationValue('--poll')))
    .addOption(new Option('--node-id <id>', 'stable identity of this node (default: host-pid-random)').argParser(nonEmptyValue('--node-id')))
    .addOption(new Option('--inspect [ws-url]', `send the node's statecharts to a WebSocket inspector server (default: off; without a URL ${DEFAULT_INSPECTOR_URL})`).argParser(webSocketUrlValue('--inspect')))
    .addOption(new Option('--quiet', 'do not print runtime events (default: off)'))
    .addOption(new Option('--json', 'print runtime events as JSON lines (default: off)'))
    .addOption(
      new Option('--metrics [host:port]', `serve Prometheus metrics at http://host:port/metrics (default: off; without an address ${DEFAULT_METRICS_LISTEN})`).argParser(
        listenAddressValue('--metrics'),
      ),
    )
    .addOption(new Option('--log-level <level>', 'log lines at this level and above go to stderr (default: info)').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'log lines as JSON objects or as pretty text (default: pretty on a terminal, else json)').choices(LOG_FORMATS));
  addStoreOptions(cmd, 'node');
  return cmd.action(async (flags: NodeFlags) => {
    const target = resolveStoreTarget(flags, ctx.env, 'node');
    // Import before connecting: a typo in the module costs no connection.
    const tasksModule = flags.tasks !== undefined ? await importTasksModule(flags.tasks) : null;
    const storeLeaseMs = target.kind === 'nats' ? (await probeStore(target)).leaseDurationMs : null;
    const lease = leaseFor(flags, storeLeaseMs);
    const role = flags.role ?? 'both';
    const inspect = flags.inspect === true ? DEFAULT_INSPECTOR_URL : flags.inspect;
    const metrics = flags.metrics === true ? DEFAULT_METRICS_LISTEN : flags.metrics;
    const nodeId = flags.nodeId ?? defaultNodeId();
    // Logs go to stderr (through the CLI's context), events to stdout: the two can be piped apart.
    const logger = await createLogger({
      level: flags.logLevel ?? 'info',
      format: flags.logFormat ?? (process.stderr.isTTY ? 'pretty' : 'json'),
      colorize: process.stderr.isTTY === true,
      base: { nodeId },
      destination: { write: (text: string) => ctx.stderr(text) },
    });
    const rt = await createRuntime({
      store: target.kind === 'nats' ? natsStore(target.options) : memoryStore(),
      role,
      ...(flags.concurrency !== undefined ? { maxConcurrentJobs: flags.concurrency } : {}),
      ...(lease !== undefined ? { leaseDuration: lease } : {}),
      ...(flags.poll !== undefined ? { pollInterval: flags.poll } : {}),
      nodeId,
      ...(inspect !== undefined ? { inspect } : {}),
      ...(metrics !== undefined ? { metrics } : {}),
      logger,
    });
    if (!flags.quiet) {
      rt.on('*', (event) => ctx.stdout(flags.json ? `${JSON.stringify(event)}\n` : `${formatEvent(event)}\n`));
    }
    let loaded: string[];
    try {
      loaded = tasksModule ? await registerTasks(tasksModule, rt) : [];
    } catch (error) {
      await rt.stop({ drain: false });
      throw error;
    }
    // Listen before starting and before saying "Ctrl-C to stop": a signal that comes early still drains.
    const stopRequested = waitForStopSignal(ctx);
    await rt.start();
    const store = target.kind === 'nats' ? describeServers(target) : 'the in-memory store (no --nats, JOBCHART_NATS or NATS_URL)';
    ctx.stderr(
      `jobchart node ${rt.nodeId} (${role}) on ${store}; tasks: ${loaded.join(', ') || '(none)'}` +
        `${inspect ? `; inspector: ${inspect}` : ''}${rt.metrics?.url ? `; metrics: ${rt.metrics.url}` : ''}; Ctrl-C to stop\n`,
    );
    await stopRequested;
    await rt.stop({ drain: true });
    ctx.exitCode = ExitCode.ok;
  });
}
