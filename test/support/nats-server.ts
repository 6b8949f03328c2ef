/**
 * Starts a private nats-server for a test: config from the repo's nats.conf, a free loopback port,
 * a temporary store dir. It is stopped by the pid this helper started — never any other process.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNatsServerBinary, freePort, NATS_INSTALL_HINT, spawnNatsServer, stopNatsProcess } from './nats-process.js';

export { findNatsServerBinary, freePort, NATS_INSTALL_HINT } from './nats-process.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** HTTP monitoring endpoint (`/varz`, `/connz`, …) on loopback, or null when not asked for. */
  readonly monitorUrl: string | null;
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
  /** Serve HTTP monitoring (`-m`): true for a free port, or a port number (default: off). */
  monitoring?: boolean | number;
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
  const monitorPort =
    opts.monitoring === undefined || opts.monitoring === false ? null : opts.monitoring === true ? await freePort() : opts.monitoring;
  // The config's `host: 127.0.0.1` also binds the monitoring listener, so it stays on loopback.
  const monitorArgs = monitorPort === null ? [] : ['-m', String(monitorPort)];

  let child: ChildProcess | null = null;

  const launch = async (): Promise<void> => {
    child = await spawnNatsServer(bin, ['-c', configPath, '-p', String(port), '-a', '127.0.0.1', ...monitorArgs], readyTimeoutMs);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (proc) await stopNatsProcess(proc);
    child = null;
  };

  await launch();

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    monitorUrl: monitorPort === null ? null : `http://127.0.0.1:${monitorPort}`,
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
