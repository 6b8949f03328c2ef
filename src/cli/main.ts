/** `jobchart` command line: `node` runs a node; `schedule`, `job` and `status` administer a NATS store. */
import { ADMIN_USAGE, jobCommand, scheduleCommand, statusCommand } from './admin-commands.js';
import { CliUsageError } from './cli-error.js';
import { NODE_USAGE, nodeCommand } from './node-command.js';

const USAGE = `usage: jobchart <command> [options]

${NODE_USAGE}

${ADMIN_USAGE}

  jobchart help | version
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    case 'version':
    case '--version':
      process.stdout.write('jobchart 0.1.0\n');
      return 0;
    case 'node':
      return nodeCommand(rest);
    case 'schedule':
      return scheduleCommand(rest);
    case 'job':
      return jobCommand(rest);
    case 'status':
      return statusCommand(rest);
    default:
      throw new CliUsageError(`unknown command "${command}" (try: jobchart help)`);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof CliUsageError) {
    process.stderr.write(`jobchart: ${error.message}\n`);
    process.exitCode = 2;
  } else {
    const e = error as Error;
    process.stderr.write(`jobchart: ${e.name ?? 'Error'}: ${e.message}\n`);
    process.exitCode = 1;
  }
}
