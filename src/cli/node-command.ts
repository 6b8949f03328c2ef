/** `jobchart node`: runs a runtime node until SIGINT/SIGTERM, then drains and exits. */
import { createRuntime } from '../runtime/runtime.js';
import type { NodeRole } from '../runtime/runtime-options.js';
import { memoryStore, natsStore } from '../store/index.js';
import { intOption, parseCommand, stringOption } from './cli-args.js';
import { CliUsageError } from './cli-error.js';
import { formatEvent } from './event-format.js';
import { loadTasksModule } from './tasks-module.js';

export const NODE_USAGE = `usage: jobchart node [--nats <url>] [--prefix jobchart] [--role both|worker|scheduler]
                     [--tasks ./tasks.js] [--concurrency N] [--lease 30s] [--poll 1s]
                     [--node-id ID] [--inspect [ws-url]] [--quiet] [--json]
  Without --nats the node runs on the embedded in-memory store.`;

/** `--inspect` takes an optional URL: rewrite `--inspect ws://…` to `--inspect-url=ws://…`. */
export function normaliseInspectArg(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    if (arg === '--inspect' && next !== undefined && /^wss?:\/\//.test(next)) {
      out.push(`--inspect-url=${next}`);
      i++;
    } else if (arg.startsWith('--inspect=')) out.push(`--inspect-url=${arg.slice('--inspect='.length)}`);
    else out.push(arg);
  }
  return out;
}

export async function nodeCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(normaliseInspectArg(argv), {
    role: { type: 'string' },
    tasks: { type: 'string' },
    concurrency: { type: 'string' },
    lease: { type: 'string' },
    poll: { type: 'string' },
    'node-id': { type: 'string' },
    inspect: { type: 'boolean' },
    'inspect-url': { type: 'string' },
    quiet: { type: 'boolean' },
  });
  if (parsed.values['help']) {
    process.stdout.write(`${NODE_USAGE}\n`);
    return 0;
  }
  const role = (stringOption(parsed, 'role') ?? 'both') as NodeRole;
  if (!['both', 'worker', 'scheduler'].includes(role)) throw new CliUsageError(`--role must be both, worker or scheduler, got "${role}"`);
  const nats = stringOption(parsed, 'nats');
  const prefix = stringOption(parsed, 'prefix');
  const inspectUrl = stringOption(parsed, 'inspect-url');
  const concurrency = intOption(parsed, 'concurrency');
  const lease = stringOption(parsed, 'lease');
  const poll = stringOption(parsed, 'poll');
  const nodeId = stringOption(parsed, 'node-id');
  const rt = await createRuntime({
    store: nats ? natsStore({ servers: nats.split(','), ...(prefix ? { prefix } : {}) }) : memoryStore(),
    role,
    ...(concurrency !== undefined ? { maxConcurrentJobs: concurrency } : {}),
    ...(lease ? { leaseDuration: lease } : {}),
    ...(poll ? { pollInterval: poll } : {}),
    ...(nodeId ? { nodeId } : {}),
    ...(inspectUrl ? { inspect: inspectUrl } : parsed.values['inspect'] ? { inspect: true } : {}),
  });
  const json = parsed.values['json'] === true;
  const tasksPath = stringOption(parsed, 'tasks');
  const loaded = tasksPath ? await loadTasksModule(tasksPath, rt) : [];
  if (!parsed.values['quiet']) {
    rt.on('*', (event) => process.stdout.write(json ? `${JSON.stringify(event)}\n` : `${formatEvent(event)}\n`));
  }
  await rt.start();
  process.stderr.write(
    `jobchart node ${rt.nodeId} (${role}) on ${nats ?? 'the in-memory store'}; tasks: ${loaded.join(', ') || '(none)'}; Ctrl-C to stop\n`,
  );
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.stderr.write(`\n${signal}: draining running jobs (send again to stop at once)\n`);
      process.once(signal, () => process.exit(130));
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  await rt.stop({ drain: true });
  return 0;
}
