/**
 * The exit codes `jobchart` documents, and the error that carries one. Every failure the CLI
 * reports is one line on stderr; `describeCliError` (cli-error-messages.ts) is the one place that
 * turns the runtime's typed errors into that line and its code.
 */

/** What `jobchart` exits with. */
export const ExitCode = {
  /** Done. */
  ok: 0,
  /** A runtime failure: connection, server, a job that ended other than success, a task module that threw. */
  failure: 1,
  /** A usage error or invalid input: unknown command or flag, a bad value, an unknown id. Nothing was written. */
  usage: 2,
  /** `job result` (or `job add --wait --timeout`): the job has no result yet. */
  pending: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A usage or input error on the command line: printed as one line, exit code 2. */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}

/** A runtime failure already phrased for the command line (no error class name shown): exit code 1. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}
