/**
 * Starts a private nats-server for a test: config from the repo's nats.conf, a free loopback port,
 * a temporary store dir. It is stopped by the pid this helper started — never any other process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

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

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** pid of the running server, or null while stopped. */
  readonly pid: number | null;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s). Keeps the store dir for a restart. */
  stop(): Promise<void>;
  /** Starts the server again on the same port and store dir (after `stop`). */
  restart(): Promise<void>;
  /** Stops the server and deletes the store dir. */
  dispose(): Promise<void>;
}

export interface StartNatsServerOptions {
  /** Reuse an existing store dir (default: a new temporary dir). */
  storeDir?: string;
  /** Port to listen on (default: a free one). */
  port?: number;
  /** How long to wait for "Server is ready" (default 10 s). */
  readyTimeoutMs?: number;
}

/** Starts nats-server from nats.conf on a free loopback port with a temporary store dir. */
export async function startNatsServer(opts: StartNatsServerOptions = {}): Promise<NatsServerHandle> {
  const bin = findNatsServerBinary();
  if (!bin) throw new Error(NATS_INSTALL_HINT);
  const workDir = mkdtempSync(join(tmpdir(), 'jobchart-nats-'));
  const storeDir = opts.storeDir ?? join(workDir, 'store');
  const port = opts.port ?? (await freePort());
  const configPath = join(workDir, 'nats.conf');
  const baseConfig = readFileSync(join(repoRoot, 'nats.conf'), 'utf8');
  writeFileSync(configPath, baseConfig.replace(/store_dir:.*$/m, `store_dir: ${JSON.stringify(storeDir)}`));
  const readyTimeoutMs = opts.readyTimeoutMs ?? 10_000;

  let child: ChildProcess | null = null;

  const launch = async (): Promise<void> => {
    const proc = spawn(bin, ['-c', configPath, '-p', String(port), '-a', '127.0.0.1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`nats-server did not become ready within ${readyTimeoutMs} ms:\n${log}`));
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
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited early (code ${code}, signal ${signal}):\n${log}`));
      });
    });
    // Keep draining output so the pipe never fills, and never hold the test process open.
    proc.stdout?.resume();
    proc.stderr?.resume();
    proc.removeAllListeners('exit');
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
      child = null;
      return;
    }
    await new Promise<void>((resolve) => {
      const killTimer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      proc.once('exit', () => {
        clearTimeout(killTimer);
        resolve();
      });
      proc.kill('SIGTERM');
    });
    child = null;
  };

  await launch();

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    get pid() {
      const proc = child as ChildProcess | null;
      return proc?.pid ?? null;
    },
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    dispose: async () => {
      await stop();
      rmSync(workDir, { recursive: true, force: true });
      if (opts.storeDir === undefined) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
