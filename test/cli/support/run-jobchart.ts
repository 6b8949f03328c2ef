/**
 * Runs `jobchart` for the CLI tests: in this process through `runCli` (fast: help and input checks),
 * or as a child process through bin/jobchart.js, as a user runs it (exit codes, tasks modules, nodes).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
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

/** A `jobchart node` child process, started (its start line printed). */
export interface RunningNode {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<number | null>;
}

/** Starts `jobchart node <args>` in `cwd` with `env` (no inherited store variables); SIGTERM on stop. */
export async function startNode(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<RunningNode> {
  const child = spawn(process.execPath, [jobchartBin, 'node', ...args], { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  while (!output.includes('Ctrl-C to stop')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`node did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
