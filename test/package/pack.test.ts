/**
 * The package as a user gets it: `npm pack` (which builds first, through prepack), then
 * `npm install <tarball>` into an empty project, with production dependencies only (no tsx). The
 * installed `jobchart` must print its help and run a node on a plain JavaScript tasks module, refuse a
 * TypeScript one with a word about tsx, and an ESM script must import jobchart, run a job on the
 * memory store and print its result; the installed types must type-check a small program.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const tscBin = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');


interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, timeout = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, timeout, maxBuffer: 32 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } }, (error, stdout, stderr) => {
      const code = error ? ((error as { code?: number | string }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

describe('npm pack → npm install → jobchart', () => {
  let work: string;
  let app: string;
  let packedFiles: string[] = [];
  let installLog = '';

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'jobchart-pack-'));
    const packed = await run('npm', ['pack', '--pack-destination', work, '--json'], repoRoot);
    expect(packed.code, packed.stderr).toBe(0);
    // Lifecycle output (the build) may precede the JSON on stdout.
    const manifest = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[\n'))) as { filename: string; files: { path: string }[] }[];
    packedFiles = manifest[0]?.files.map((f) => f.path) ?? [];
    const tarball = join(work, manifest[0]?.filename ?? 'missing.tgz');
    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'jobchart-pack-test', private: true, type: 'module' }));
    const installed = await run('npm', ['install', tarball, '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=warn'], app);
    installLog = installed.stdout + installed.stderr;
    expect(installed.code, installLog).toBe(0);
  }, 180_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships dist (JS and declarations), bin, LICENSE, README; no demo, tests, sources or source maps', () => {
    expect(packedFiles).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'bin/jobchart.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js']));
    const unexpected = packedFiles.filter(
      (path) => !(path.startsWith('dist/') || ['LICENSE', 'README.md', 'package.json', 'bin/jobchart.js'].includes(path)),
    );
    expect(unexpected).toEqual([]);
    expect(packedFiles.filter((path) => /\.map$|(^|\/)demo\.|\.test\./.test(path))).toEqual([]);
  });

  it('installs without engine warnings (the @nats-io packages are pinned to ~3.3.1, whose tree supports Node 20), and without tsx', () => {
    // An EBADENGINE warning names the package: `npm warn EBADENGINE   package: '@nats-io/nuid@3.0.0',`.
    const warned = [...installLog.matchAll(/package: '([^']+)'/g)].map((m) => m[1]);
    expect(warned).toEqual([]);
    expect(installLog).not.toContain('EBADENGINE');
    expect(existsSync(join(app, 'node_modules', 'tsx'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'jobchart', 'src'))).toBe(false);
  });

  it('jobchart --help exits 0 from the installed bin', async () => {
    const help = await run(join(app, 'node_modules', '.bin', 'jobchart'), ['--help'], app, 30_000);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: jobchart /);
    expect(help.stdout).toContain('JOBCHART_NATS');
  });

  it('an ESM script imports jobchart, runs a job on the memory store and prints its result', async () => {
    writeFileSync(
      join(app, 'run.mjs'),
      [
        "import { createRuntime, memoryStore } from 'jobchart';",
        'const rt = await createRuntime({ store: memoryStore() });',
        "rt.task('add', ({ a, b }) => a + b);",
        'await rt.start();',
        "const value = await rt.runJob('add', { a: 2, b: 3 });",
        'await rt.stop();',
        'console.log(JSON.stringify({ value }));',
      ].join('\n'),
    );
    const script = await run(process.execPath, ['run.mjs'], app, 30_000);
    expect(script.code, script.stderr).toBe(0);
    expect(script.stdout.trim()).toBe('{"value":5}');
  });

  it('the installed declarations type-check a program that uses the API', async () => {
    writeFileSync(
      join(app, 'typed.ts'),
      [
        "import { createRuntime, memoryStore, cron, type JobResult } from 'jobchart';",
        'const rt = await createRuntime({ store: memoryStore(), maxConcurrentJobs: 2 });',
        "rt.task('t', (args: unknown) => args);",
        "const scheduleId: string = await rt.addSchedule({ task: 't', trigger: cron('0 2 * * *'), onConflict: 'replace' });",
        "const jobId: string = await rt.addJob({ task: 't', args: { scheduleId } });",
        "const result: JobResult | null = await rt.getJobResult(jobId, { wait: true, timeout: '1s' });",
        'export { result };',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
        files: ['typed.ts'],
      }),
    );
    const checked = await run(process.execPath, [tscBin, '-p', 'tsconfig.json'], app, 60_000);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
  }, 60_000);

  it('jobchart node runs a JavaScript tasks module with production dependencies only, and asks for tsx for a .ts one', async () => {
    writeFileSync(join(app, 'tasks.js'), "export const tasks = { hello: (args) => `hi ${args?.name ?? ''}` };\n");
    writeFileSync(join(app, 'tasks.ts'), "export const tasks = { hello: (args: { name?: string }): string => `hi ${args.name ?? ''}` };\n");
    const bin = join(app, 'node_modules', '.bin', 'jobchart');
    const node = spawn(bin, ['node', '--tasks', './tasks.js', '--quiet'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    node.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    node.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => node.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!out.includes('tasks: hello')) {
      if (Date.now() > deadline || node.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    node.kill('SIGTERM');
    expect(await exited, out).toBe(0);
    expect(out).toContain('on the in-memory store');
    expect(out).toContain('tasks: hello');

    const typescript = await run(bin, ['node', '--tasks', './tasks.ts'], app, 30_000);
    expect(typescript.code).toBe(2);
    expect(typescript.stderr).toMatch(/^jobchart: --tasks "\.\/tasks\.ts" is TypeScript, which needs tsx: install it/);
  }, 40_000);

  it('with tsx installed in the project, the built jobchart loads a .ts tasks module through it', async () => {
    // The version this repo develops with, so npm finds it in its cache.
    const tsxVersion = (JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'tsx', 'package.json'), 'utf8')) as { version: string }).version;
    const installed = await run('npm', ['install', `tsx@${tsxVersion}`, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app);
    expect(installed.code, installed.stderr).toBe(0);
    writeFileSync(join(app, 'typed.mts'), "export const tasks = { typed: (args: { n: number }): number => args.n * 2 };\n");
    const node = spawn(join(app, 'node_modules', '.bin', 'jobchart'), ['node', '--tasks', './typed.mts', '--quiet'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    node.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    node.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => node.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 20_000;
    while (!out.includes('Ctrl-C to stop') && node.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    node.kill('SIGTERM');
    expect(await exited, out).toBe(0);
    expect(out).toContain('tasks: typed;');
  }, 60_000);

  it('leaves no stale files: the build starts from an empty dist', () => {
    // prepack wipes dist/ before compiling, so a file left by an older build (dist/demo.js) cannot ship.
    expect(readdirSync(join(repoRoot, 'dist')).some((name) => name.startsWith('demo.'))).toBe(false);
  });
});
