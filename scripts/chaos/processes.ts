/**
 * The node processes of a chaos run: spawned from chaos-node.ts, tracked by the pid this module
 * started, signalled only by that pid, and all of them SIGKILLed on `stopAll()` or when the
 * harness's own process exits — never any process it did not start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChaosNodeConfig } from './chaos-node.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const entry = join(repoRoot, 'scripts', 'chaos', 'chaos-node.ts');

export type NodeState = 'starting' | 'running' | 'paused' | 'dead';

export class ChaosNode {
  state: NodeState = 'starting';
  #output = '';
  readonly exited: Promise<void>;

  constructor(
    readonly config: ChaosNodeConfig,
    readonly proc: ChildProcess,
  ) {
    const collect = (chunk: Buffer): void => {
      // Keep the tail only: a long run's warnings must not grow without bound.
      this.#output = (this.#output + chunk.toString()).slice(-20_000);
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    this.exited = new Promise((resolve) =>
      proc.once('exit', () => {
        this.state = 'dead';
        resolve();
      }),
    );
  }

  get nodeId(): string {
    return this.config.nodeId;
  }

  get role(): ChaosNodeConfig['role'] {
    return this.config.role;
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  output(): string {
    return this.#output;
  }

  /** Sends `signal` to this node's pid (nothing if it has exited). */
  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(signal);
  }

  async ready(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#output.includes(`READY ${this.nodeId}`)) {
      if (!this.alive) throw new Error(`chaos node ${this.nodeId} exited before it was ready:\n${this.#output}`);
      if (Date.now() > deadline) throw new Error(`chaos node ${this.nodeId} not ready within ${timeoutMs} ms:\n${this.#output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    this.state = 'running';
  }
}

export class ChaosProcesses {
  readonly #nodes = new Set<ChaosNode>();
  #exitHook: (() => void) | null = null;

  /** Every node started, dead ones included. */
  get all(): ChaosNode[] {
    return [...this.#nodes];
  }

  live(role: ChaosNodeConfig['role'], state?: NodeState): ChaosNode[] {
    return this.all.filter((n) => n.role === role && n.alive && n.state !== 'dead' && (state === undefined || n.state === state));
  }

  /** Starts a node and resolves once it printed READY. */
  async spawn(config: ChaosNodeConfig, readyTimeoutMs = 30_000): Promise<ChaosNode> {
    this.#installExitHook();
    const proc = spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: repoRoot,
      env: { ...process.env, JOBCHART_CHAOS_NODE: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const node = new ChaosNode(config, proc);
    this.#nodes.add(node);
    await node.ready(readyTimeoutMs);
    return node;
  }

  /** SIGKILLs `node` by its pid (SIGCONT first if it was paused) and waits for it to exit. */
  async kill(node: ChaosNode): Promise<void> {
    node.signal('SIGCONT');
    node.signal('SIGKILL');
    await node.exited;
  }

  /** Asks every live node to stop (SIGTERM: drain), then SIGKILLs what is left after `graceMs`. */
  async stopAll(graceMs = 5_000): Promise<void> {
    const alive = this.all.filter((n) => n.alive);
    for (const node of alive) {
      node.signal('SIGCONT');
      node.signal('SIGTERM');
    }
    await Promise.race([Promise.all(alive.map((n) => n.exited)), new Promise((r) => setTimeout(r, graceMs))]);
    await Promise.all(alive.filter((n) => n.alive).map((n) => this.kill(n)));
    if (this.#exitHook) process.off('exit', this.#exitHook);
    this.#exitHook = null;
  }

  /** On the harness's own exit nothing async runs: SIGKILL our children by pid. */
  #installExitHook(): void {
    if (this.#exitHook) return;
    this.#exitHook = () => {
      for (const node of this.#nodes) {
        if (!node.alive) continue;
        node.signal('SIGCONT');
        node.signal('SIGKILL');
      }
    };
    process.on('exit', this.#exitHook);
  }
}
