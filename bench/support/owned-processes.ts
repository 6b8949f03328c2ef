/**
 * Every process and temp dir this bench started, so that whatever happens (an exception, Ctrl-C, a
 * stalled run) they are stopped by their pid and removed on exit. Nothing here looks processes up by
 * name: the bench only ever signals pids it spawned itself.
 */
import { rmSync } from 'node:fs';

const pids = new Map<number, string>();
const dirs = new Set<string>();

/** Records a process this bench spawned. */
export function ownProcess(pid: number | undefined, label: string): void {
  if (pid !== undefined) pids.set(pid, label);
}

/** Forgets a process once it has exited. */
export function releaseProcess(pid: number | undefined): void {
  if (pid !== undefined) pids.delete(pid);
}

/** Records a temp dir to delete on exit. */
export function ownDir(dir: string): void {
  dirs.add(dir);
}

export function releaseDir(dir: string): void {
  dirs.delete(dir);
}

/** SIGKILLs every recorded process by pid and deletes the recorded dirs (synchronous: runs in 'exit'). */
export function killOwned(): void {
  for (const [pid] of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  pids.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

let installed = false;

/** Installs the exit and signal handlers once. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killOwned);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping the processes it started\n`);
      killOwned();
      process.exit(130);
    });
  }
}
