/**
 * `inWorkerThread(module, exportName)`: a task function that runs a module's export in a worker
 * thread, one thread per job. CPU-heavy work on the main thread starves the event loop, so lease
 * renewals stop and the node loses its leases (the job is then aborted and run elsewhere — safe,
 * but never finishing). In a thread, the main loop keeps renewing. The job's AbortSignal terminates
 * the thread (lease lost, cancel, timeout, stop).
 *
 * The export receives `(args, ctx)` with `ctx` as plain data (jobId, task, attempt, scheduleId,
 * scheduledFireTime) plus `ctx.log(...)` and `ctx.progress(value)`, which post to the main thread —
 * no AbortSignal crosses the thread boundary; the thread is terminated instead. Args, progress
 * values and the return value are structured-cloned.
 */
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import type { JobContext, TaskFunction } from './task-registry.js';

/** What the runner thread posts back: log lines and progress while it runs, then its answer. */
type ThreadReply =
  | { ok: true; value: unknown }
  | { ok: false; error: { name: string; message: string; stack?: string } }
  | { log: string }
  | { progress: unknown };

/**
 * The thread's entry, as source: a plain script needs no loader, whether jobchart runs from dist or
 * from its TypeScript source. A TypeScript task module is loaded through tsx (registered in the
 * thread only then; tsx must be installed).
 */
const RUNNER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { moduleUrl, exportName, args, ctx, tsxApi } = workerData;
  const { format } = require('node:util');
  ctx.log = (...values) => parentPort.postMessage({ log: format(...values) });
  ctx.progress = (value) => parentPort.postMessage({ progress: value });
  try {
    if (/\\.[cm]?tsx?$/.test(moduleUrl)) {
      if (!tsxApi) throw new Error('task module ' + moduleUrl + ' is TypeScript: install tsx, or point inWorkerThread at compiled JavaScript');
      (await import(tsxApi)).register();
    }
    const mod = await import(moduleUrl);
    const fn = mod[exportName];
    if (typeof fn !== 'function') throw new TypeError('export "' + exportName + '" of ' + moduleUrl + ' is not a function');
    parentPort.postMessage({ ok: true, value: await fn(args, ctx) });
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    parentPort.postMessage({ ok: false, error: { name: error.name, message: error.message, stack: error.stack } });
  }
})();
`;

function resolveTsxApi(): string | null {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return null;
  }
}

/** Wraps `exportName` of `module` (a path or file URL) as a task function run in a worker thread. */
export function inWorkerThread(module: string | URL, exportName = 'default'): TaskFunction {
  const moduleUrl =
    module instanceof URL ? module.href : module.startsWith('file:') ? module : pathToFileURL(isAbsolute(module) ? module : resolve(module)).href;
  return (args: unknown, ctx: JobContext) =>
    new Promise((resolvePromise, reject) => {
      if (ctx.signal.aborted) {
        reject(ctx.signal.reason);
        return;
      }
      const plainCtx = {
        jobId: ctx.jobId,
        task: ctx.task,
        attempt: ctx.attempt,
        ...(ctx.scheduleId !== undefined ? { scheduleId: ctx.scheduleId } : {}),
        ...(ctx.scheduledFireTime !== undefined ? { scheduledFireTime: ctx.scheduledFireTime } : {}),
      };
      const worker = new Worker(RUNNER, { eval: true, workerData: { moduleUrl, exportName, args, ctx: plainCtx, tsxApi: resolveTsxApi() } });
      let settled = false;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        ctx.signal.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = (): void => {
        finish(() => reject(ctx.signal.reason));
        void worker.terminate();
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      worker.on('message', (reply: ThreadReply) => {
        if ('log' in reply) return ctx.log(reply.log);
        if ('progress' in reply) {
          try {
            ctx.progress(reply.progress);
          } catch {
            // a progress value the job cannot keep is dropped; the task goes on
          }
          return;
        }
        finish(() => {
          if (reply.ok) resolvePromise(reply.value);
          else reject(Object.assign(new Error(reply.error.message), { name: reply.error.name, stack: reply.error.stack }));
        });
        void worker.terminate();
      });
      worker.once('error', (error) => finish(() => reject(error)));
      worker.once('exit', (code) => finish(() => reject(new Error(`worker thread of job ${ctx.jobId} exited with code ${code} before answering`))));
    });
}
