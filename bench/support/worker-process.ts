/**
 * The bench's side of one worker process: spawned as `node --import tsx <entry> <config>`, talked to
 * over IPC, its output kept (the first lines echoed with a prefix), and always ended by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './clock.js';
import { ownProcess, releaseProcess } from './owned-processes.js';
import type { FromWorker, ToWorker, WorkerConfig, WorkerProgress } from './protocol.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const workerEntries: Record<WorkerConfig['kind'], string> = {
  'jobchart-nats': 'bench/workers/jobchart-nats-worker.ts',
  'jobchart-memory': 'bench/workers/jobchart-memory-node.ts',
  bullmq: 'bench/workers/bullmq-worker.ts',
};

/** Lines of a worker's output echoed to the bench's stderr; the rest are only counted. */
const ECHOED_LINES = 8;

export class WorkerProcess {
  progress: WorkerProgress = { started: 0, completed: 0 };
  /** Output lines (stdout + stderr) the process wrote; a healthy worker writes none. */
  outputLines = 0;
  readonly firstLines: string[] = [];
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  /**
   * When the last progress message arrived, and the longest gap between two since `go` (the worker
   * sends one every 50 ms from a timer, so a long gap means its event loop ran no timers or I/O).
   */
  lastProgressAt: number | null = null;
  longestSilenceMs = 0;
  private readonly listeners = new Set<(msg: FromWorker) => void>();
  private readonly exitListeners = new Set<() => void>();

  private constructor(
    readonly label: string,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (raw) => {
      const msg = raw as FromWorker;
      if (msg.type === 'progress') {
        this.progress = { started: msg.started, completed: msg.completed };
        const now = Date.now();
        if (this.lastProgressAt !== null) this.longestSilenceMs = Math.max(this.longestSilenceMs, now - this.lastProgressAt);
        this.lastProgressAt = now;
      }
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

  /** Spawns the worker for `config` and waits (up to `readyTimeoutMs`) until it is connected and idle. */
  static async spawn(config: WorkerConfig, label: string, readyTimeoutMs = 60_000): Promise<WorkerProcess> {
    // BENCH_WORKER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the workers (written on their exit).
    const nodeArgs = (process.env['BENCH_WORKER_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', workerEntries[config.kind], JSON.stringify(config)], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    ownProcess(child.pid, label);
    const worker = new WorkerProcess(label, child);
    try {
      await worker.next('ready', readyTimeoutMs);
    } catch (error) {
      await worker.kill();
      throw error;
    }
    return worker;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exit === null;
  }

  send(msg: ToWorker): void {
    if (msg.type === 'go') {
      this.lastProgressAt = Date.now();
      this.longestSilenceMs = 0;
    }
    if (this.alive && this.child.connected) this.child.send(msg);
  }

  /** How long since the worker last reported progress (0 before `go`). */
  silentForMs(now = Date.now()): number {
    return this.lastProgressAt === null ? 0 : now - this.lastProgressAt;
  }

  /** The next message of `type`; rejects on a `fatal` message, on exit, or after `timeoutMs`. */
  next<T extends FromWorker['type']>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>> {
    let cleanup = (): void => undefined;
    const answer = new Promise<Extract<FromWorker, { type: T }>>((resolve, reject) => {
      const onMessage = (msg: FromWorker): void => {
        if (msg.type === type) resolve(msg as Extract<FromWorker, { type: T }>);
        else if (msg.type === 'fatal') reject(new Error(`${this.label}: ${msg.message}`));
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
  request<T extends FromWorker['type']>(msg: ToWorker, type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>> {
    const reply = this.next(type, timeoutMs);
    this.send(msg);
    return reply;
  }

  onMessage(listener: (msg: FromWorker) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onExit(listener: () => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /** Asks the worker to stop; SIGKILLs its pid if it has not exited after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((resolve) => this.onExit(resolve));
    this.send({ type: 'stop' });
    const timer = setTimeout(() => void this.kill(), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** SIGKILLs the worker by its pid and waits for its exit. */
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
    if (this.firstLines.length < ECHOED_LINES) {
      this.firstLines.push(line.length > 300 ? `${line.slice(0, 300)}…` : line);
      process.stderr.write(`  [${this.label}] ${line}\n`);
    } else if (this.outputLines === ECHOED_LINES + 1) {
      process.stderr.write(`  [${this.label}] … (further output counted, not shown)\n`);
    }
  }
}
