/**
 * Small helpers over node:util parseArgs shared by the `jobchart` sub-commands.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliUsageError } from './cli-error.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Options every command accepts. */
export const COMMON_OPTIONS = {
  nats: { type: 'string' },
  prefix: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies OptionSpec;

export interface ParsedCommand {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

/** Parses argv strictly; unknown options become a CliUsageError naming the option. */
export function parseCommand(argv: string[], options: OptionSpec): ParsedCommand {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as ParsedCommand['values'], positionals };
  } catch (error) {
    throw new CliUsageError((error as Error).message);
  }
}

export function stringOption(parsed: ParsedCommand, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function requireOption(parsed: ParsedCommand, name: string, hint: string): string {
  const value = stringOption(parsed, name);
  if (value === undefined || value === '') throw new CliUsageError(`missing --${name} (${hint})`);
  return value;
}

export function requirePositional(parsed: ParsedCommand, index: number, what: string): string {
  const value = parsed.positionals[index];
  if (value === undefined || value === '') throw new CliUsageError(`missing ${what}`);
  return value;
}

export function intOption(parsed: ParsedCommand, name: string): number | undefined {
  const raw = stringOption(parsed, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new CliUsageError(`--${name} must be a positive integer, got "${raw}"`);
  return n;
}

/** Parses a `--args` JSON value; the message shows what was wrong. */
export function jsonOption(parsed: ParsedCommand, name: string): unknown {
  const raw = stringOption(parsed, name);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch (error) {
    throw new CliUsageError(`--${name} must be JSON (e.g. '{"to":"a@b.c"}' or '[1,2]'): ${(error as Error).message}`);
  }
}
