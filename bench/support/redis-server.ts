/**
 * A private redis-server for BullMQ: a free loopback port, no persistence, a temp dir; stopped by
 * the pid this module spawned. `INFO` gives the command counts the bench reports per job.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../test/support/nats-server.js';
import { withTimeout } from './clock.js';
import { ownDir, ownProcess, releaseDir, releaseProcess } from './owned-processes.js';

/** redis-server through REDIS_SERVER_BIN, PATH, then Debian's /usr/bin; null when absent. */
export function findRedisServerBinary(): string | null {
  const fromEnv = process.env['REDIS_SERVER_BIN'];
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : null;
  for (const dir of [...(process.env['PATH'] ?? '').split(delimiter), '/usr/bin', '/usr/local/bin']) {
    if (dir && existsSync(join(dir, 'redis-server'))) return join(dir, 'redis-server');
  }
  return null;
}

export interface RedisCounters {
  /** Commands clients sent (INFO stats total_commands_processed). */
  commands: number;
  /** EVALSHA / EVAL / FCALL calls (BullMQ's scripts). */
  scriptCalls: number;
}

export class RedisServer {
  private constructor(
    readonly port: number,
    private readonly proc: ChildProcess,
    private readonly dir: string,
    private readonly admin: Redis,
  ) {}

  static async start(bin: string, readyTimeoutMs = 10_000): Promise<RedisServer> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'jobchart-bench-redis-'));
    ownDir(dir);
    const proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    ownProcess(proc.pid, 'redis-server');
    let log = '';
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          const onData = (chunk: Buffer): void => {
            log += chunk.toString();
            if (log.includes('Ready to accept connections')) resolve();
          };
          proc.stdout?.on('data', onData);
          proc.stderr?.on('data', onData);
          proc.once('exit', (code, signal) => reject(new Error(`redis-server exited early (code ${code}, signal ${signal}):\n${log}`)));
        }),
        readyTimeoutMs,
        'redis-server start',
      );
    } catch (error) {
      proc.kill('SIGKILL');
      releaseProcess(proc.pid);
      throw error;
    }
    proc.stdout?.resume();
    proc.stderr?.resume();
    const admin = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
    return new RedisServer(port, proc, dir, admin);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Command counts so far (the INFO calls themselves add one each; negligible per 1,000 jobs). */
  async counters(): Promise<RedisCounters> {
    const stats = await this.admin.info('stats');
    const commandStats = await this.admin.info('commandstats');
    const commands = Number(/total_commands_processed:(\d+)/.exec(stats)?.[1] ?? Number.NaN);
    let scriptCalls = 0;
    for (const match of commandStats.matchAll(/cmdstat_(evalsha|eval|fcall|evalsha_ro|eval_ro|fcall_ro):calls=(\d+)/g)) {
      scriptCalls += Number(match[2]);
    }
    return { commands, scriptCalls };
  }

  /** Stops the server by its pid (SIGTERM, SIGKILL after 5 s) and deletes its dir. */
  async stop(): Promise<void> {
    this.admin.disconnect();
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      await new Promise<void>((resolve) => {
        const killTimer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
        this.proc.once('exit', () => {
          clearTimeout(killTimer);
          resolve();
        });
        this.proc.kill('SIGTERM');
      });
    }
    releaseProcess(this.proc.pid);
    rmSync(this.dir, { recursive: true, force: true });
    releaseDir(this.dir);
  }
}
