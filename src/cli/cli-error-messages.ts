/**
 * The one place that turns an error into what `jobchart` prints and exits with. The runtime's typed
 * errors speak the API's words (`onConflict: 'replace'`, `rt.task(...)`, `leaseDuration`); here they
 * are said again in the command line's words (flags and commands), with the documented exit code.
 */
import { CommanderError } from 'commander';
import { InvalidDurationError } from '../duration.js';
import {
  ConflictingIdError,
  InvalidOptionError,
  JobLookupError,
  PayloadTooLargeError,
  ScheduleLookupError,
  SerializationError,
  UnknownTaskError,
} from '../errors.js';
import { InvalidStoreKeyError, RecordTooLargeError } from '../store/index.js';
import { InvalidTriggerError } from '../triggers/index.js';
import { CliFailure, CliUsageError, ExitCode } from './cli-error.js';

/** API option names → the flag that sets them. */
const FLAG_OF_OPTION: Readonly<Record<string, string>> = {
  maxConcurrentJobs: '--concurrency',
  leaseDuration: '--lease',
  pollInterval: '--poll',
  nodeId: '--node-id',
  role: '--role',
  coalesce: '--coalesce',
  misfireGraceTime: '--misfire-grace',
  maxJitter: '--max-jitter',
  resultTtl: '--result-ttl',
  timeout: '--timeout',
  args: '--args',
  id: '--id',
  task: '--task',
  from: '--from',
  metrics: '--metrics',
};

/** Trigger fields → the flag that sets them (`schedule add`). */
const FLAG_OF_TRIGGER_FIELD: Readonly<Record<string, string>> = {
  expression: '--cron',
  timezone: '--tz',
  every: '--interval',
  at: '--date',
  start: '--start',
  end: '--end',
};

export interface CliErrorReport {
  code: ExitCode;
  /** One line, without the leading `jobchart: `. */
  message: string;
}

const flagOf = (option: string): string => FLAG_OF_OPTION[option] ?? option;

/** What to print for `error` and which code to exit with. */
export function describeCliError(error: unknown): CliErrorReport {
  const usage = (message: string): CliErrorReport => ({ code: ExitCode.usage, message });
  const failure = (message: string): CliErrorReport => ({ code: ExitCode.failure, message });

  if (error instanceof CliUsageError) return usage(error.message);
  if (error instanceof CliFailure) return failure(error.message);
  if (error instanceof CommanderError) return usage(error.message.replace(/^error: /, ''));
  if (error instanceof InvalidTriggerError) {
    const flag = FLAG_OF_TRIGGER_FIELD[error.field.split('.').pop() ?? ''] ?? error.field;
    return usage(`${flag}: ${error.reason}`);
  }
  if (error instanceof InvalidDurationError) return usage(`${flagOf(error.field)}: ${error.detail}`);
  if (error instanceof InvalidOptionError) {
    const detail = error.message.replace(`invalid option ${error.option}: `, '');
    return usage(`${flagOf(error.option)}: ${detail}`);
  }
  if (error instanceof ScheduleLookupError) {
    return usage(`no schedule with id "${error.scheduleId}"; list them with \`jobchart schedule list\``);
  }
  if (error instanceof JobLookupError) {
    return usage(`no job with id "${error.jobId}" (never added, or its result expired after its --result-ttl)`);
  }
  if (error instanceof ConflictingIdError) {
    return usage(
      error.kind === 'schedule'
        ? `schedule "${error.id}" already exists; use --replace to replace it, or choose another --id`
        : `job id "${error.id}" already exists; job ids are single-use: choose another --id or leave it out`,
    );
  }
  if (error instanceof SerializationError || error instanceof PayloadTooLargeError || error instanceof RecordTooLargeError) {
    return usage(`--args: ${error.message}`);
  }
  if (error instanceof InvalidStoreKeyError) return usage(error.message);
  if (error instanceof UnknownTaskError) {
    // A state of the cluster rather than bad input: a worker that registers it may be on its way.
    return failure(
      `unknown task "${error.task}": no live node registers it; start one with \`jobchart node --tasks <module>\` whose module exports it`,
    );
  }
  const e = error as { name?: unknown; message?: unknown } | null;
  const name = typeof e?.name === 'string' && e.name !== 'Error' ? `${e.name}: ` : '';
  const message = typeof e?.message === 'string' ? e.message : String(error);
  return failure(`${name}${message}`.split('\n')[0] ?? '');
}
