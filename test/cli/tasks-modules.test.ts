/**
 * `jobchart node --tasks <module>` as a user runs it (bin/jobchart.js from this checkout, a child
 * process, the in-memory store): ESM `.js` without a package.json, `.mjs`, `.cjs`, `.ts` (through tsx,
 * importing a sibling as './x.js'), `register(rt)`; a `.js` beside a `.ts` of the same name loads the
 * `.js`. A module that does not load names its file and line: syntax errors (also in a module it
 * imports), an error thrown while it runs, a missing import. The packed build is covered by
 * test/package/pack.test.ts.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, jobchartBin, runChild } from './support/run-jobchart.js';

let dir = '';

const files: Record<string, string> = {
  'esm.js': "export const tasks = { hello: (args) => `hi ${args?.name ?? ''}` };\n",
  'plain.mjs': 'export default { one: () => 1, two: { fn: () => 2, options: { timeout: "1m" } } };\n',
  'common.cjs': 'module.exports = { tasks: { fromCjs: () => "cjs" } };\n',
  'typed.ts': "import { greeting } from './greeting.js';\nexport const tasks = { greet: (args: { name: string }): string => greeting(args.name) };\n",
  'greeting.ts': 'export function greeting(name: string): string {\n  return `hello ${name}`;\n}\n',
  'registering.mjs': "export function register(rt) {\n  rt.task('registered', () => 'ok', { maxRunning: 1 });\n}\n",
  // A .js with a .ts of the same name beside it: the .js must load (tsx would resolve it to the .ts).
  'twin.js': 'export const tasks = { fromJs: () => "js" };\n',
  'twin.ts': 'export const tasks = { fromTs: (): string => "ts" };\n',
  'bad.js': 'export const tasks = {\n  hello: (a) => a,\n  oops: => 1,\n};\n',
  'bad.ts': 'export const tasks = {\n  hello: (a: number) => a,\n  oops: => 1,\n};\n',
  'imports-bad.mjs': "import './bad.js';\nexport const tasks = {};\n",
  'throws.mjs': 'export const tasks = {};\n\nundefinedFunction();\n',
  'imports-missing.mjs': "import './not-there.js';\nexport const tasks = {};\n",
  'no-tasks.mjs': 'export const something = 1;\n',
  'register-throws.mjs': "export function register() {\n  throw new Error('no database');\n}\n",
};

beforeAll(() => {
  // A folder without package.json: a .js with import/export is ESM only by Node's syntax detection.
  dir = mkdtempSync(join(tmpdir(), 'jobchart-tasks-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  mkdirSync(join(dir, 'commonjs'));
  writeFileSync(join(dir, 'commonjs', 'package.json'), '{ "type": "commonjs" }\n');
  writeFileSync(join(dir, 'commonjs', 'tasks.js'), 'export const tasks = {};\n');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts a memory-store node on `module`, waits for its ready line, stops it with SIGTERM: its tasks and exit code. */
async function nodeTasks(module: string): Promise<{ tasks: string; code: number | null; output: string }> {
  const child = spawn(process.execPath, [jobchartBin, 'node', '--quiet', '--tasks', module], { cwd: dir, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  while (!/; tasks: .*; Ctrl-C to stop/.test(output) && child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGTERM');
  const code = await exited;
  return { tasks: /; tasks: (.*?); Ctrl-C/.exec(output)?.[1] ?? '', code, output };
}

describe('jobchart node --tasks loads', () => {
  it.each([
    ['./esm.js', 'hello'],
    ['./plain.mjs', 'one, two'],
    ['./common.cjs', 'fromCjs'],
    ['./typed.ts', 'greet'],
    ['./registering.mjs', 'registered'],
    ['./twin.js', 'fromJs'],
    ['./twin.ts', 'fromTs'],
  ])('%s → tasks %s', async (module, tasks) => {
    const run = await nodeTasks(module);
    expect(run.tasks, run.output).toBe(tasks);
    expect(run.code, run.output).toBe(0);
  }, 60_000);
});

describe('a tasks module that does not load is named with its file and line', () => {
  it.each([
    ['syntax error in a .js', './bad.js', 2, () => `cannot load tasks module "./bad.js": SyntaxError at ${dir}/bad.js:3:9: Unexpected token '=>'`],
    ['syntax error in a module it imports', './imports-bad.mjs', 2, () => `cannot load tasks module "./imports-bad.mjs": SyntaxError at ${dir}/bad.js:3:9: Unexpected token '=>'`],
    ['syntax error in a .ts', './bad.ts', 2, () => `cannot load tasks module "./bad.ts": SyntaxError at ${dir}/bad.ts:3:9: Unexpected "=>"`],
    [
      'import/export in a .js of a commonjs package',
      './commonjs/tasks.js',
      2,
      () =>
        `cannot load tasks module "./commonjs/tasks.js": SyntaxError at ${dir}/commonjs/tasks.js:1:1: Unexpected token 'export' (a .js file with import/export needs "type": "module" in its package.json, or the .mjs extension)`,
    ],
    ['an error thrown while it runs', './throws.mjs', 1, () => `cannot load tasks module "./throws.mjs": ReferenceError: undefinedFunction is not defined (at ${dir}/throws.mjs:3:1)`],
    ['a missing import, named by the file that imports it', './imports-missing.mjs', 2, () => `cannot load tasks module "./imports-missing.mjs": Cannot find module '${dir}/not-there.js' imported from ${dir}/imports-missing.mjs`],
    ['a missing module, named as the user gave it', './nowhere/tasks.js', 2, () => `--tasks: cannot find "./nowhere/tasks.js" (looked for ${dir}/nowhere/tasks.js)`],
    ['no tasks exported', './no-tasks.mjs', 2, () => 'tasks module "./no-tasks.mjs" must export register(rt), or an object of tasks as "tasks" or default'],
    ['register(rt) that throws', './register-throws.mjs', 1, () => `register(rt) in tasks module "./register-throws.mjs" failed: no database (at ${dir}/register-throws.mjs:2:9)`],
  ])('%s', async (_what, module, code, message) => {
    const run = await runChild(['node', '--tasks', module], { cwd: dir, timeoutMs: 45_000 });
    const lines = run.stderr.split('\n').filter((line) => line.startsWith('jobchart: '));
    expect(lines, run.stderr).toEqual([`jobchart: ${message()}`]);
    expect(run.code).toBe(code);
    expect(run.stderr).not.toContain('src/cli/');
  }, 60_000);
});
