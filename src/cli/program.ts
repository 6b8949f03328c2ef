/**
 * The `jobchart` command tree on commander: `node` runs a node; `schedule`, `job` and `status`
 * administer a NATS store. `runCli` parses, runs, and turns every error into one line on stderr and
 * the documented exit code (see cli-error.ts).
 *
 * commander, because it gives every command and subcommand `--help` with each flag listed, strict
 * parsing (unknown flags, missing values, stray arguments are errors), choices, and per-flag value
 * parsers that run before the command does — the checks this CLI needs, without a parser of its own.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { describeCliError } from './cli-error-messages.js';
import type { CliContext } from './cli-context.js';
import { CliUsageError, ExitCode } from './cli-error.js';
import { jobCommand } from './job-commands.js';
import { nodeCommand } from './node-command.js';
import { scheduleCommand } from './schedule-commands.js';
import { statusCommand } from './status-command.js';
import { STORE_ENV } from './store-flags.js';

const ENVIRONMENT_AND_EXIT_CODES = `
Environment (read when the flag is absent):
  ${STORE_ENV.nats.join(', ')}  --nats (every command, node included)
  ${STORE_ENV.prefix.join(', ')}  --prefix
  ${[...STORE_ENV.creds, ...STORE_ENV.user, ...STORE_ENV.password, ...STORE_ENV.token].join(', ')}
      --creds, --user, --password, --token
  ${[...STORE_ENV.tlsCa, ...STORE_ENV.tlsCert, ...STORE_ENV.tlsKey].join(', ')}
      --tls-ca, --tls-cert, --tls-key

Exit codes:
  0  done
  1  runtime failure: cannot connect, a job that ended other than success, a task module that threw
  2  usage or invalid input: unknown command or flag, bad value, unknown id (nothing was written)
  3  no result yet: job result, job add --wait --timeout`;

function packageVersion(): string {
  // src/cli/ and dist/cli/ both sit two levels below the package root.
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return manifest.version ?? 'unknown';
}

/** A commander parse error, with the command it happened in (for the hint and the unknown-command wording). */
class CommandLineError extends CliUsageError {
  constructor(error: CommanderError, command: Command) {
    super(commandLineMessage(error, command), { cause: error });
  }
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function commandLineMessage(error: CommanderError, command: Command): string {
  const path = commandPath(command);
  const text = error.message.replace(/^error: /, '');
  if (error.code === 'commander.unknownCommand') {
    const name = /'([^']*)'/.exec(text)?.[1] ?? '';
    const suggestion = /Did you mean (.+?)\?/.exec(text)?.[1];
    const what = command.parent ? `unknown ${command.name()} command "${name}"` : `unknown command "${name}"`;
    return `${what}${suggestion ? `; did you mean ${suggestion}?` : ''} (try: ${command.parent ? `${path} --help` : `${path} help`})`;
  }
  return `${text.split('\n')[0]?.replace(/\.$/, '')} (see: ${path} --help)`;
}

/** Codes commander ends with after printing help or the version: not errors. */
const INFORMATIONAL = new Set(['commander.helpDisplayed', 'commander.version', 'commander.help']);

/** Every command: errors thrown (not process.exit), output through ctx, no stray arguments. */
function applyCliRules(command: Command, ctx: CliContext): void {
  command
    .exitOverride((error) => {
      if (INFORMATIONAL.has(error.code)) throw error;
      throw new CommandLineError(error, command);
    })
    .configureOutput({ writeOut: ctx.stdout, writeErr: ctx.stderr, outputError: () => undefined })
    .allowExcessArguments(false)
    .showSuggestionAfterError(true);
  for (const sub of command.commands) applyCliRules(sub, ctx);
}

/** The whole command tree, writing through `ctx`. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('jobchart')
    .description('jobchart: schedules fire jobs, workers run them, nodes share a NATS JetStream store')
    .version(packageVersion(), '-V, --version', 'print the version')
    .addCommand(nodeCommand(ctx))
    .addCommand(scheduleCommand(ctx))
    .addCommand(jobCommand(ctx))
    .addCommand(statusCommand(ctx))
    .addHelpText('after', ENVIRONMENT_AND_EXIT_CODES);
  applyCliRules(program, ctx);
  return program;
}

/** Runs `jobchart <argv>`; resolves to the exit code. Errors are printed as one line, never thrown. */
export async function runCli(argv: readonly string[], io: Omit<CliContext, 'exitCode'>): Promise<ExitCode> {
  const ctx: CliContext = { ...io, exitCode: ExitCode.ok };
  try {
    await buildProgram(ctx).parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (error) {
    if (error instanceof CommanderError && INFORMATIONAL.has(error.code)) {
      // `jobchart schedule` without a subcommand prints help to stderr with exit code 1: a usage error.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    const report = describeCliError(error);
    ctx.stderr(`jobchart: ${report.message}\n`);
    return report.code;
  }
}
