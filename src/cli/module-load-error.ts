/**
 * Says why a user's module failed to load, with the file and line where that is known.
 *
 * Node gives a parse error of an ES module no location at all in the error it rejects `import()`
 * with (only its fatal-error printer shows `file:line` and a caret). For that one case we import the
 * module again in a child `node` and read the location from what it prints: a parse error stops the
 * whole module graph before any of it runs, so the child runs none of the user's code. tsx (for
 * TypeScript) puts the location in its message already; errors thrown while the module runs carry it
 * in their stack.
 */
import { spawnSync } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface LoadErrorReport {
  /** missing: a file or package it imports is not there; syntax: it does not parse; threw: its code threw. */
  kind: 'missing' | 'syntax' | 'threw';
  /** One line, e.g. `SyntaxError at /x/tasks.js:3:9: Unexpected token '=>'`. */
  message: string;
}

const MISSING_CODES = new Set(['ERR_MODULE_NOT_FOUND', 'ERR_UNSUPPORTED_DIR_IMPORT', 'ERR_UNKNOWN_FILE_EXTENSION', 'MODULE_NOT_FOUND']);

const firstLine = (text: string): string => text.split('\n')[0] ?? '';

/** jobchart's own code and dependencies (this file is in src/cli/ or dist/cli/): frames there are not the user's. */
const OWN_DIRS = ['src', 'dist', 'node_modules'].map((dir) => fileURLToPath(new URL(`../../${dir}/`, import.meta.url)));

/** The first stack frame in the user's code (not Node's internals, not jobchart's), as `path:line:col`. */
function userFrame(stack: string | undefined): string | null {
  for (const line of (stack ?? '').split('\n').slice(1)) {
    const match = /^at (?:.*\()?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?$/.exec(line.trim());
    if (!match?.[1]) continue;
    const path = match[1].startsWith('file://') ? fileURLToPath(match[1]) : match[1];
    if (OWN_DIRS.some((dir) => path.startsWith(dir))) continue;
    return `${path}:${match[2]}:${match[3]}`;
  }
  return null;
}

/** `SyntaxError at file:line:col: message` for esbuild's "Transform failed" errors (tsx). */
function transformErrorLocation(message: string): string | null {
  const match = /^(.+?):(\d+):(\d+): ERROR: (.*)$/m.exec(message);
  if (!match) return null;
  // esbuild counts columns from 0; editors and Node count from 1.
  return `SyntaxError at ${match[1]}:${match[2]}:${Number(match[3]) + 1}: ${match[4]}`;
}

/** Re-imports `file` in a child node and reads `file:line` and the caret column from its fatal-error output. */
function parseErrorLocation(file: string): string | null {
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(file).href)})`], {
    encoding: 'utf8',
    timeout: 15_000,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines = (child.stderr ?? '').split('\n');
  const at = lines.findIndex((line) => /^(?:file:\/\/)?\/.*:\d+$/.test(line));
  if (at < 0) return null;
  const header = lines[at] as string;
  const split = header.lastIndexOf(':');
  const where = header.slice(0, split);
  const path = where.startsWith('file://') ? fileURLToPath(where) : where;
  const caret = (lines[at + 2] ?? '').indexOf('^');
  return `${path}:${header.slice(split + 1)}${caret >= 0 ? `:${caret + 1}` : ''}`;
}

/** Why loading `file` failed; `file` is the module the user named (the error may be in one it imports). */
export function describeLoadError(error: unknown, file: string): LoadErrorReport {
  const e = (error ?? {}) as { name?: string; message?: string; code?: string; stack?: string };
  const message = e.message ?? String(error);
  if (e.code && MISSING_CODES.has(e.code)) return { kind: 'missing', message: firstLine(message) };
  if (/Transform failed/.test(message)) {
    return { kind: 'syntax', message: transformErrorLocation(message) ?? firstLine(message) };
  }
  if (e.name === 'SyntaxError' && userFrame(e.stack) === null) {
    const where = parseErrorLocation(file);
    const esmInCommonJs = /Cannot use import statement outside a module|Unexpected token 'export'/.test(message) && extname(file) === '.js';
    const hint = esmInCommonJs ? ' (a .js file with import/export needs "type": "module" in its package.json, or the .mjs extension)' : '';
    return { kind: 'syntax', message: `SyntaxError${where ? ` at ${where}` : ` in ${file}`}: ${firstLine(message)}${hint}` };
  }
  const frame = userFrame(e.stack);
  const name = e.name && e.name !== 'Error' ? `${e.name}: ` : '';
  return { kind: 'threw', message: `${name}${firstLine(message)}${frame ? ` (at ${frame})` : ''}` };
}
