/**
 * Loads task functions for `jobchart node --tasks <module>`. A tasks module either exports
 * `register(rt)` (full control: rt.task(...) with options, schedules…) or exports its tasks as an
 * object — `export default { name: fn }` or `export const tasks = { name: fn | { fn, options } }`.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Runtime } from '../runtime/runtime.js';
import type { TaskFunction, TaskOptions } from '../runtime/task-registry.js';
import { CliUsageError } from './cli-error.js';

type TaskEntry = TaskFunction | { fn: TaskFunction; options?: TaskOptions };

export async function loadTasksModule(path: string, rt: Runtime): Promise<string[]> {
  const url = pathToFileURL(resolve(process.cwd(), path)).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw new CliUsageError(`cannot load tasks module "${path}": ${(error as Error).message}`);
  }
  const before = new Set(registeredNames(rt));
  if (typeof mod['register'] === 'function') {
    await (mod['register'] as (rt: Runtime) => unknown)(rt);
  } else {
    const table = (mod['tasks'] ?? mod['default']) as Record<string, TaskEntry> | undefined;
    if (!table || typeof table !== 'object') {
      throw new CliUsageError(`tasks module "${path}" must export register(rt), or an object of tasks as "tasks" or default`);
    }
    for (const [name, entry] of Object.entries(table)) {
      if (typeof entry === 'function') rt.task(name, entry);
      else if (entry && typeof entry.fn === 'function') rt.task(name, entry.fn, entry.options ?? {});
      else throw new CliUsageError(`task "${name}" in "${path}" must be a function or { fn, options }`);
    }
  }
  return registeredNames(rt).filter((name) => !before.has(name));
}

function registeredNames(rt: Runtime): string[] {
  return rt.taskNames;
}
