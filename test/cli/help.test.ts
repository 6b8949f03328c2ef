/**
 * `--help` on every command and subcommand: exit 0, usage on stdout, every flag listed with its
 * default (or marked required). The tree is walked from the program itself, so a command added later
 * is covered without touching this test.
 */
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { jobchartBin, runChild, runInProcess } from './support/run-jobchart.js';

function commandPaths(command: Command, prefix: string[] = []): { path: string[]; command: Command }[] {
  const here = prefix.length ? [{ path: prefix, command }] : [];
  return [...here, ...command.commands.flatMap((sub) => commandPaths(sub, [...prefix, sub.name()]))];
}

const program = buildProgram({ stdout: () => undefined, stderr: () => undefined, env: {}, exitCode: 0 });
const commands = commandPaths(program);

describe('jobchart --help', () => {
  it('covers node, schedule add/list/pause/resume/rm, job add/list/show/result/cancel, status', () => {
    expect(commands.map((c) => c.path.join(' '))).toEqual([
      'node',
      'schedule',
      'schedule add',
      'schedule list',
      'schedule pause',
      'schedule resume',
      'schedule rm',
      'job',
      'job add',
      'job list',
      'job show',
      'job result',
      'job cancel',
      'status',
    ]);
  });

  it('the top level lists the commands, the environment variables and the exit codes', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const run = await runInProcess(args);
      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stdout).toMatch(/^Usage: jobchart /);
      for (const word of ['node', 'schedule', 'job', 'status', 'JOBCHART_NATS', 'NATS_URL', 'JOBCHART_NATS_CREDS', 'Exit codes:', '3  no result yet']) {
        expect(run.stdout).toContain(word);
      }
    }
  });

  it.each(commands.map((c) => [c.path.join(' '), c] as const))('jobchart %s --help: exit 0, every flag with its default', async (name, { path, command }) => {
    // `help` is a subcommand of each command group: `jobchart schedule help add`.
    for (const args of [[...path, '--help'], [...path.slice(0, -1), 'help', ...path.slice(-1)]]) {
      const run = await runInProcess(args);
      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toMatch(new RegExp(`^Usage: jobchart ${name} `));
      for (const option of command.options) {
        expect(run.stdout).toContain(option.long as string);
        // Each flag says what happens without it: its default, or that it is required / one of a set.
        expect(option.description, `${name} ${option.long}`).toMatch(/\((?:default: [^)]+|required|one of [^)]+)\)|default: /);
      }
    }
  });

  it('help never needs a store, flags or arguments: even with required ones missing', async () => {
    for (const args of [['schedule', 'add', '--help'], ['job', 'result', '--help'], ['status', '--help'], ['schedule', '--help']]) {
      const run = await runInProcess(args, { JOBCHART_NATS: 'nats://127.0.0.1:1' });
      expect(run.code, args.join(' ')).toBe(0);
    }
  });

  it('a command group without its subcommand (or no command at all) prints the help to stderr and exits 2', async () => {
    for (const args of [[], ['schedule'], ['job']]) {
      const run = await runInProcess(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^Usage: jobchart /);
    }
  });

  it('--version prints the package version', async () => {
    const run = await runInProcess(['--version']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('through bin/jobchart.js as a child process: help exits 0 for a command and a subcommand', async () => {
    expect(jobchartBin).toMatch(/bin\/jobchart\.js$/);
    const [node, add] = await Promise.all([runChild(['node', '--help']), runChild(['schedule', 'add', '--help'])]);
    expect(node.code).toBe(0);
    expect(node.stdout).toContain('--inspect [ws-url]');
    expect(add.code).toBe(0);
    expect(add.stdout).toContain('--replace');
  }, 60_000);
});
