#!/usr/bin/env node
// Launcher of the `jobchart` command.
//
// An installed package has no src/: it runs the compiled dist/ with Node alone (production
// dependencies only). A source checkout has src/: it always runs the TypeScript sources through tsx,
// even when a dist/ from an earlier build lies beside them (a stale build must never shadow edited
// sources). tsx is registered in a namespace of its own, so it compiles only jobchart's sources and
// leaves the user's tasks modules to Node: a .js tasks module then loads exactly as it does from a
// build, and a .ts one goes through tsx's tsImport (src/cli/tasks-module.ts).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'cli', 'main.ts');

if (!existsSync(source)) {
  await import(pathToFileURL(join(root, 'dist', 'cli', 'main.js')).href);
} else {
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch {
    process.stderr.write(`jobchart: running from a source checkout (${root}) needs tsx: run npm install there, or npm run build and use the package\n`);
    process.exit(1);
  }
  // An import() made here is Node's own, outside tsx's namespace (an import() made inside it would be
  // tsx's, which resolves tasks.js to a tasks.ts beside it): the CLI imports users' JavaScript through it.
  globalThis[Symbol.for('jobchart.importJavaScript')] = (url) => import(url);
  await tsx.register({ namespace: 'jobchart-cli' }).import(pathToFileURL(source).href, import.meta.url);
}
