/**
 * Spawns test/fixtures/runtime-node.ts as real child processes and reads their side channel.
 * Every child is tracked so `killAllChildren()` (afterEach/afterAll) ends exactly the processes
 * this suite started, by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeProcessConfig, SideChannelLine } from '../../fixtures/runtime-node.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixture = join(repoRoot, 'test', 'fixtures', 'runtime-node.ts');

export type { NodeProcessConfig, SideChannelLine };

export interface ChildNode {
  readonly nodeId: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** Everything the child wrote to stdout and stderr so far (for failure messages). */
  output(): string;
  /** Resolves once stdout contains `text`. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  /** Resolves with how the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal(sig: NodeJS.Signals): void;
  /** Asks the node to stop (drain or hand back) through stdin. */
  requestStop(drain?: boolean): void;
}

const children = new Set<ChildNode>();

/** Starts a node process and resolves once it printed READY. */
export async function spawnNode(config: NodeProcessConfig, opts: { readyTimeoutMs?: number } = {}): Promise<ChildNode> {
  const proc = spawn(process.execPath, ['--import', 'tsx', fixture], {
    cwd: repoRoot,
    env: { ...process.env, JOBCHART_NODE_CONFIG: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  const watchers = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    out += chunk.toString();
    for (const w of [...watchers]) w();
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const waitForOutput = (text: string, timeoutMs = 15_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (out.includes(text)) {
          watchers.delete(check);
          clearTimeout(timer);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        watchers.delete(check);
        reject(new Error(`node ${config.nodeId}: no "${text}" within ${timeoutMs} ms; output:\n${out}`));
      }, timeoutMs);
      watchers.add(check);
      void exited.then(({ code, signal }) => {
        if (!out.includes(text) && watchers.has(check)) {
          watchers.delete(check);
          clearTimeout(timer);
          reject(new Error(`node ${config.nodeId} exited (${code ?? signal}) before "${text}"; output:\n${out}`));
        }
      });
      check();
    });
  const node: ChildNode = {
    nodeId: config.nodeId,
    pid: proc.pid ?? -1,
    process: proc,
    output: () => out,
    waitForOutput,
    exited,
    signal: (sig) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    },
    requestStop: (drain = true) => {
      proc.stdin?.write(drain ? 'stop\n' : 'stop-nodrain\n');
    },
  };
  children.add(node);
  void exited.then(() => children.delete(node));
  await waitForOutput(`READY ${config.nodeId}`, opts.readyTimeoutMs ?? 20_000);
  return node;
}

/** SIGKILLs every child this suite started that is still alive (SIGCONT first, in case it was stopped). */
export async function killAllChildren(): Promise<void> {
  const alive = [...children];
  for (const child of alive) {
    child.signal('SIGCONT');
    child.signal('SIGKILL');
  }
  await Promise.all(alive.map((c) => c.exited));
}

/** A temp dir for side-channel files; removed by the returned cleanup. */
export function makeTempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'jobchart-e2e-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The side-channel lines written so far. */
export function readSideChannel(file: string): SideChannelLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as SideChannelLine);
}
