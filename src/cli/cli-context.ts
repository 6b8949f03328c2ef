/** What every `jobchart` command gets: where to write, the environment, and the exit code it sets. */
import type { ExitCode } from './cli-error.js';

export interface CliContext {
  /** Writes to standard output (results). */
  stdout(text: string): void;
  /** Writes to standard error (notes, progress, errors). */
  stderr(text: string): void;
  /** Environment variables (JOBCHART_NATS, NATS_URL, …). */
  readonly env: NodeJS.ProcessEnv;
  /** Set by the command that ran. */
  exitCode: ExitCode;
}

/** Prints `human` as a line, or `data` as one JSON line with `--json`. */
export function printResult(ctx: CliContext, json: boolean | undefined, human: string, data: unknown): void {
  ctx.stdout(json ? `${JSON.stringify(data)}\n` : `${human}\n`);
}
