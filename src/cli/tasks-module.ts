/**
 * Loads task functions for `jobchart node --tasks <module>`. A tasks module either exports
 * `register(rt)` (full control: rt.task(...) with options, schedules…) or exports its tasks as an
 * object — `export default { name: fn }` or `export const tasks = { name: fn | { fn, options } }`.
 *
 * The module is imported before the node connects (a typo costs no connection) and registered once
 * the runtime exists. JavaScript (`.js`, `.mjs`, `.cjs`) is imported by Node itself, the same way
 * whether jobchart runs from its sources or from a build; TypeScript (`.ts`, `.mts`, `.cts`) goes
 * through tsx's `tsImport`, which touches only that import, when tsx can be resolved from jobchart or
 * from the module's own folder.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Runtime } from '../runtime/runtime.js';
import type { TaskFunction, TaskOptions } from '../runtime/task-registry.js';
import { CliFailure, CliUsageError } from './cli-error.js';
import { describeLoadError } from './module-load-error.js';

type TaskEntry = TaskFunction | { fn: TaskFunction; options?: TaskOptions };

const TYPESCRIPT_EXTENSIONS = new Set(['.ts', '.mts', '.cts']);

/** A tasks module, imported but not yet registered on a runtime. */
export interface TasksModule {
  /** The path as the user gave it (for messages). */
  readonly given: string;
  readonly file: string;
  readonly exports: Record<string, unknown>;
}

/** Imports the module at `given` (relative to `cwd`); throws CliUsageError/CliFailure naming the file (and line). */
export async function importTasksModule(given: string, cwd = process.cwd()): Promise<TasksModule> {
  const file = resolve(cwd, given);
  if (!existsSync(file)) throw new CliUsageError(`--tasks: cannot find "${given}" (looked for ${file})`);
  if (!statSync(file).isFile()) throw new CliUsageError(`--tasks: "${given}" is not a file (${file})`);
  const url = pathToFileURL(file).href;
  const typescript = TYPESCRIPT_EXTENSIONS.has(extname(file));
  let exports: Record<string, unknown>;
  try {
    if (typescript) {
      const tsxApi = resolveTsxApi(file);
      if (!tsxApi) {
        throw new CliUsageError(
          `--tasks "${given}" is TypeScript, which needs tsx: install it next to your module (npm install --save-dev tsx), or compile the module to .js`,
        );
      }
      const { tsImport } = (await import(tsxApi)) as { tsImport: (specifier: string, parentURL: string) => Promise<unknown> };
      // The module's own URL as parent, not ours: run from sources, ours carries the launcher's tsx
      // namespace, and tsx would then resolve the module's imports in that namespace (and fail).
      exports = (await tsImport(url, url)) as Record<string, unknown>;
    } else {
      exports = (await importJavaScript(url)) as Record<string, unknown>;
    }
  } catch (error) {
    if (error instanceof CliUsageError) throw error;
    const report = describeLoadError(error, file);
    const message = `cannot load tasks module "${given}": ${report.message}`;
    throw report.kind === 'threw' ? new CliFailure(message, { cause: error }) : new CliUsageError(message, { cause: error });
  }
  return { given, file, exports };
}

const IMPORT_JAVASCRIPT = Symbol.for('jobchart.importJavaScript');

/**
 * Node's own import(). Run from its sources, the CLI is compiled by tsx, whose hooks would also take
 * an import() made here (and resolve tasks.js to a tasks.ts beside it); bin/jobchart.js then hands
 * us an import() made outside tsx. From a build there is no tsx and import() is Node's.
 */
function importJavaScript(url: string): Promise<unknown> {
  const launcherImport = (globalThis as Record<symbol, unknown>)[IMPORT_JAVASCRIPT];
  return typeof launcherImport === 'function' ? (launcherImport as (url: string) => Promise<unknown>)(url) : import(url);
}

/** Registers the module's tasks on `rt`; resolves to the names it added. */
export async function registerTasks(mod: TasksModule, rt: Runtime): Promise<string[]> {
  const before = new Set(rt.taskNames);
  const shape = moduleShape(mod.exports);
  if (typeof shape['register'] === 'function') {
    try {
      await (shape['register'] as (rt: Runtime) => unknown)(rt);
    } catch (error) {
      throw new CliFailure(`register(rt) in tasks module "${mod.given}" failed: ${describeLoadError(error, mod.file).message}`, { cause: error });
    }
  } else {
    const table = shape['tasks'] ?? shape['default'];
    if (!table || typeof table !== 'object') {
      throw new CliUsageError(`tasks module "${mod.given}" must export register(rt), or an object of tasks as "tasks" or default`);
    }
    for (const [name, entry] of Object.entries(table as Record<string, TaskEntry>)) {
      if (typeof entry === 'function') rt.task(name, entry);
      else if (entry && typeof entry.fn === 'function') rt.task(name, entry.fn, entry.options ?? {});
      else throw new CliUsageError(`task "${name}" in tasks module "${mod.given}" must be a function or { fn, options }`);
    }
  }
  return rt.taskNames.filter((name) => !before.has(name));
}

/**
 * The object that holds `register`/`tasks`: the namespace itself, or its default export when that is
 * what carries them (a CommonJS `module.exports = { tasks }`, or tsx's interop default).
 */
function moduleShape(ns: Record<string, unknown>): Record<string, unknown> {
  if (typeof ns['register'] === 'function' || (ns['tasks'] && typeof ns['tasks'] === 'object')) return ns;
  const fallback = ns['default'];
  if (fallback && typeof fallback === 'object') {
    const inner = fallback as Record<string, unknown>;
    if (typeof inner['register'] === 'function' || (inner['tasks'] && typeof inner['tasks'] === 'object')) return inner;
  }
  return ns;
}

/**
 * The URL of tsx's ESM API (`tsx/esm/api`), resolved from jobchart's own install, else from the
 * tasks module's folder; null when tsx is not installed in either place.
 */
function resolveTsxApi(moduleFile: string): string | null {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    // Not beside jobchart: look next to the user's module.
  }
  try {
    // require.resolve would pick tsx's CommonJS entry, which cannot be imported from ESM; read the
    // ESM entry from tsx's own exports map instead.
    const manifestPath = createRequire(moduleFile).resolve('tsx/package.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports?: Record<string, unknown> };
    const entry = manifest.exports?.['./esm/api'] as { import?: string | { default?: string } } | undefined;
    const relative = typeof entry?.import === 'string' ? entry.import : entry?.import?.default;
    return relative ? pathToFileURL(join(dirname(manifestPath), relative)).href : null;
  } catch {
    return null;
  }
}
