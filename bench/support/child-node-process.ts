/**
 * The bench's side of one of its child processes (a worker, a scheduler node): spawned as
 * `node --import tsx <entry> <config>`, talked to over IPC, its output kept (the first lines echoed
 * with a prefix), its progress messages timed, and always ended by its pid. WorkerProcess and
 * ScheduleNodeProcess add what their protocol carries.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './clock.js';
import { ownProcess, releaseProcess } from './owned-processes.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Lines of a child's output echoed to the bench's stderr; the rest are only counted. */
const ECHOED_LINES = 8;

/** What every child can send: progress from a timer, `fatal` when it gives up, and its own messages. */
type ChildMessage = { type: string; message?: string };

/**
 * Spawns `entry` with `config` as its argument, owned by the bench under `label`.
 * BENCH_WORKER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the children
 * (written on their exit).
 */
export function spawnChild(entry: string, config: unknown, label: string): ChildProcess {
  const nodeArgs = (process.env['BENCH_WORKER_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry, JSON.stringify(config)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  ownProcess(child.pid, label);
  return child;
}

export abstract class ChildNodeProcess<To extends { type: string }, From extends ChildMessage> {
  /** Output lines (stdout + stderr) the process wrote. */
  outputLines = 0;
  readonly firstLines: string[] = [];
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  /** When the last progress message arrived, and the longest gap between two (a long gap: its event loop ran no timers or I/O). */
  lastProgressAt: number | null = null;
  longestSilenceMs = 0;
  private readonly listeners = new Set<(msg: From) => void>();
  private readonly exitListeners = new Set<() => void>();

  protected constructor(
    readonly label: string,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (raw) => {
      const msg = raw as From;
      if (msg.type === 'progress') {
        const now = Date.now();
        if (this.lastProgressAt !== null) this.longestSilenceMs = Math.max(this.longestSilenceMs, now - this.lastProgressAt);
        this.lastProgressAt = now;
      }
      this.received(msg);
      for (const listener of [...this.listeners]) listener(msg);
    });
    child.once('exit', (code, signal) => {
      this.exit = { code, signal };
      releaseProcess(child.pid);
      for (const listener of [...this.exitListeners]) listener();
    });
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.noteLine(line);
      });
    }
  }

  /** What the subclass keeps of a message (before the listeners see it). */
  protected abstract received(msg: From): void;

  /** What the subclass reads from an output line (after it is counted). */
  protected noted(_line: string): void {}

  /** Waits (up to `timeoutMs`) for the child's `ready`; SIGKILLs it if that does not come. */
  protected async untilReady(timeoutMs: number): Promise<void> {
    try {
      await this.next('ready' as From['type'], timeoutMs);
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exit === null;
  }

  send(msg: To): void {
    if (this.alive && this.child.connected) this.child.send(msg);
  }

  /** How long since the last progress message (0 before the first). */
  silentForMs(now = Date.now()): number {
    return this.lastProgressAt === null ? 0 : now - this.lastProgressAt;
  }

  /** The next message of `type`; rejects on a `fatal` message, on exit, or after `timeoutMs`. */
  next<T extends From['type']>(type: T, timeoutMs: number): Promise<Extract<From, { type: T }>> {
    let cleanup = (): void => undefined;
    const answer = new Promise<Extract<From, { type: T }>>((resolve, reject) => {
      const onMessage = (msg: From): void => {
        if (msg.type === type) resolve(msg as Extract<From, { type: T }>);
        else if (msg.type === 'fatal') reject(new Error(`${this.label}: ${msg.message ?? ''}`));
      };
      const onExit = (): void => reject(new Error(`${this.label} exited (${this.describeExit()}) before "${type}"${this.outputHint()}`));
      this.listeners.add(onMessage);
      this.exitListeners.add(onExit);
      cleanup = () => {
        this.listeners.delete(onMessage);
        this.exitListeners.delete(onExit);
      };
      if (!this.alive) onExit();
    });
    return withTimeout(answer, timeoutMs, `${this.label}: waiting for "${type}"`).finally(cleanup);
  }

  /** Sends `msg` and waits for the reply of `type`. */
  request<T extends From['type']>(msg: To, type: T, timeoutMs: number): Promise<Extract<From, { type: T }>> {
    const reply = this.next(type, timeoutMs);
    this.send(msg);
    return reply;
  }

  onMessage(listener: (msg: From) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onExit(listener: () => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /** Asks the child to stop (`{ type: 'stop' }`); SIGKILLs its pid if it has not exited after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((resolve) => this.onExit(resolve));
    this.send({ type: 'stop' } as To);
    const timer = setTimeout(() => void this.kill(), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** SIGKILLs the child by its pid and waits for its exit. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((resolve) => this.onExit(resolve));
    try {
      this.child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
    await withTimeout(exited, 5_000, `${this.label}: exit after SIGKILL`).catch(() => undefined);
  }

  describeExit(): string {
    if (!this.exit) return 'running';
    return this.exit.signal ? `signal ${this.exit.signal}` : `code ${this.exit.code}`;
  }

  private outputHint(): string {
    return this.firstLines.length > 0 ? `; its output began: ${this.firstLines.slice(0, 3).join(' | ')}` : '';
  }

  private noteLine(line: string): void {
    if (line.trim() === '') return;
    this.outputLines++;
    this.noted(line);
    if (this.firstLines.length < ECHOED_LINES) {
      this.firstLines.push(line.length > 300 ? `${line.slice(0, 300)}…` : line);
      process.stderr.write(`  [${this.label}] ${line}\n`);
    } else if (this.outputLines === ECHOED_LINES + 1) {
      process.stderr.write(`  [${this.label}] … (further output counted, not shown)\n`);
    }
  }
}
