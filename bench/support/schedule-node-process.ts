/**
 * The bench's side of one scheduler process: spawned as `node --import tsx <entry> <config>`, talked
 * to over IPC, its output kept (the first lines echoed with a prefix), and always ended by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './clock.js';
import { ownProcess, releaseProcess } from './owned-processes.js';
import type { FireRecords, FromScheduleNode, NodeProgress, ScheduleNodeConfig, ToScheduleNode } from './schedule-protocol.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const entries: Record<ScheduleNodeConfig['kind'], string> = {
  jobchart: 'bench/workers/jobchart-schedule-node.ts',
  bullmq: 'bench/workers/bullmq-schedule-node.ts',
};

const ECHOED_LINES = 8;

export type NodeSampleMessage = Extract<FromScheduleNode, { type: 'sample' }>;

export class ScheduleNodeProcess {
  progress: (NodeProgress & { wallNow: number }) | null = null;
  /** When the last progress message came (the process sends one every 100 ms from a timer once started). */
  lastProgressAt: number | null = null;
  longestSilenceMs = 0;
  outputLines = 0;
  /** The partitions the node held at its last sample (null before one). */
  lastPartitions: number[] | null = null;
  /** Partitions whose schedules the node reported it failed to load (its "[jobchart] loading the schedules of partition N: …" lines). */
  readonly failedPartitionLoads: number[] = [];
  readonly firstLines: string[] = [];
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly listeners = new Set<(msg: FromScheduleNode) => void>();
  private readonly exitListeners = new Set<() => void>();

  private constructor(
    readonly label: string,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (raw) => {
      const msg = raw as FromScheduleNode;
      if (msg.type === 'progress') {
        this.progress = msg;
        const now = Date.now();
        if (this.lastProgressAt !== null) this.longestSilenceMs = Math.max(this.longestSilenceMs, now - this.lastProgressAt);
        this.lastProgressAt = now;
      }
      if (msg.type === 'sample') this.lastPartitions = msg.partitionList;
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

  /** Spawns the process for `config` and waits (up to `readyTimeoutMs`) until its node is connected, not started. */
  static async spawn(config: ScheduleNodeConfig, readyTimeoutMs = 60_000): Promise<ScheduleNodeProcess> {
    const nodeArgs = (process.env['BENCH_WORKER_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entries[config.kind], JSON.stringify(config)], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    ownProcess(child.pid, config.label);
    const node = new ScheduleNodeProcess(config.label, child);
    try {
      await node.next('ready', readyTimeoutMs);
    } catch (error) {
      await node.kill();
      throw error;
    }
    return node;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exit === null;
  }

  send(msg: ToScheduleNode): void {
    if (this.alive && this.child.connected) this.child.send(msg);
  }

  /** How long since the last progress message (0 before the first). */
  silentForMs(now = Date.now()): number {
    return this.lastProgressAt === null ? 0 : now - this.lastProgressAt;
  }

  /** The next message of `type`; rejects on `fatal`, on exit, or after `timeoutMs`. */
  next<T extends FromScheduleNode['type']>(type: T, timeoutMs: number): Promise<Extract<FromScheduleNode, { type: T }>> {
    let cleanup = (): void => undefined;
    const answer = new Promise<Extract<FromScheduleNode, { type: T }>>((resolve, reject) => {
      const onMessage = (msg: FromScheduleNode): void => {
        if (msg.type === type) resolve(msg as Extract<FromScheduleNode, { type: T }>);
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

  request<T extends FromScheduleNode['type']>(msg: ToScheduleNode, type: T, timeoutMs: number): Promise<Extract<FromScheduleNode, { type: T }>> {
    const reply = this.next(type, timeoutMs);
    this.send(msg);
    return reply;
  }

  sample(timeoutMs = 10_000): Promise<NodeSampleMessage> {
    return this.request({ type: 'sample' }, 'sample', timeoutMs);
  }

  async fires(timeoutMs = 30_000): Promise<FireRecords> {
    const { index, fireTime, startedAt } = await this.request({ type: 'fires' }, 'fires', timeoutMs);
    return { index, fireTime, startedAt };
  }

  /** Asks the process to stop; SIGKILLs its pid if it has not exited after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((resolve) => this.exitListeners.add(resolve));
    this.send({ type: 'stop' });
    const timer = setTimeout(() => void this.kill(), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** SIGKILLs the process by its pid and waits for its exit. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((resolve) => this.exitListeners.add(resolve));
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
    const failedLoad = /loading the schedules of partition (\d+)/.exec(line);
    if (failedLoad) this.failedPartitionLoads.push(Number(failedLoad[1]));
    if (this.firstLines.length < ECHOED_LINES) {
      this.firstLines.push(line.length > 300 ? `${line.slice(0, 300)}…` : line);
      process.stderr.write(`  [${this.label}] ${line}\n`);
    } else if (this.outputLines === ECHOED_LINES + 1) {
      process.stderr.write(`  [${this.label}] … (further output counted, not shown)\n`);
    }
  }
}
