/**
 * What the single-server and the cluster test helpers share about a nats-server process: finding the
 * binary, picking free loopback ports, starting it and waiting until it is ready, stopping it by the
 * pid this module started — never any other process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

export const NATS_INSTALL_HINT =
  'nats-server not found: install it with `apt-get install -y nats-server` or set NATS_SERVER_BIN=/path/to/nats-server';

/** Finds nats-server through NATS_SERVER_BIN, then PATH, then Debian's /usr/sbin; null when absent. */
export function findNatsServerBinary(): string | null {
  const fromEnv = process.env['NATS_SERVER_BIN'];
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : null;
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, 'nats-server');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A nats-server that logged its own failure to start (the log is in the message). */
export class NatsServerStartError extends Error {
  constructor(
    message: string,
    /** Everything the server printed before it failed. */
    readonly log: string,
  ) {
    super(`${message}:\n${log}`);
    this.name = 'NatsServerStartError';
  }

  /** True when a port it was given was taken between choosing it and listening on it. */
  get portTaken(): boolean {
    return /address already in use/i.test(this.log);
  }
}

/**
 * Spawns nats-server with `args` and resolves once it logs "Server is ready" (client port listening).
 * On timeout the process is killed by its pid before rejecting, so a hung start leaves nothing behind.
 */
export async function spawnNatsServer(bin: string, args: readonly string[], readyTimeoutMs: number): Promise<ChildProcess> {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new NatsServerStartError(`nats-server did not become ready within ${readyTimeoutMs} ms`, log));
      }, readyTimeoutMs);
      const onData = (chunk: Buffer): void => {
        log += chunk.toString();
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new NatsServerStartError(`nats-server exited early (code ${code}, signal ${signal})`, log));
      });
    });
  } catch (err) {
    if (isRunning(proc)) await stopNatsProcess(proc, 'SIGKILL');
    throw err;
  }
  // Keep draining output so the pipe never fills, and never hold the test process open.
  proc.stdout?.removeAllListeners('data');
  proc.stderr?.removeAllListeners('data');
  proc.stdout?.resume();
  proc.stderr?.resume();
  proc.removeAllListeners('exit');
  proc.removeAllListeners('error');
  return proc;
}

/** True while the process this module spawned has not exited. */
export function isRunning(proc: ChildProcess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}

/**
 * Sends `signal` to the process (SIGTERM by default) and resolves when it has exited; SIGKILL after
 * `graceMs` (default 5 s) if it is still there. A stopped (SIGSTOP) process is continued first so a
 * SIGTERM can take effect.
 */
export async function stopNatsProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
  if (!isRunning(proc)) return;
  await new Promise<void>((resolve) => {
    const killTimer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    proc.once('exit', () => {
      clearTimeout(killTimer);
      resolve();
    });
    if (signal !== 'SIGKILL') proc.kill('SIGCONT');
    proc.kill(signal);
  });
}
