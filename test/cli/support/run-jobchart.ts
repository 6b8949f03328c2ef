/**
 * Runs `jobchart` for the CLI tests: in this process through `runCli` (fast: help and input checks),
 * or as a child process through bin/jobchart.js, as a user runs it (exit codes, tasks modules, nodes).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../../src/cli/program.js';

export const jobchartBin = fileURLToPath(new URL('../../../bin/jobchart.js', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `jobchart <args>` in this process, with `env` as its whole environment. */
export async function runInProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env });
  return { code, stdout, stderr };
}

/** Variables that would point a child's CLI at a store the test did not choose. */
const STORE_VARIABLES = /^(JOBCHART_|NATS_URL$)/;

/** `node bin/jobchart.js <args>` as a child process; the parent's JOBCHART_* and NATS_URL are not passed on. */
export function runChild(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !STORE_VARIABLES.test(name)));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [jobchartBin, ...args],
      { timeout: opts.timeoutMs ?? 30_000, env: { ...inherited, ...opts.env }, cwd: opts.cwd ?? process.cwd() },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number | string }).code ?? 1) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

/** The child's environment without store variables, plus `extra`. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !STORE_VARIABLES.test(name))), ...extra };
}
