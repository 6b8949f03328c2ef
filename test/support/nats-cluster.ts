/**
 * Starts a private three-server NATS JetStream cluster for a test or for `npm run cluster`: one config
 * per server from the repo's nats-cluster.conf, loopback ports (free ones unless given), a store dir per
 * server. Servers are signalled, stopped and restarted by the pids this helper started — never any
 * other process — and their temp dirs are removed on dispose, or on process exit if dispose never ran.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  findNatsServerBinary,
  freePort,
  isRunning,
  NATS_INSTALL_HINT,
  NatsServerStartError,
  spawnNatsServer,
  stopNatsProcess,
} from './nats-process.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVER_NAMES = ['n1', 'n2', 'n3'] as const;
const CLUSTER_SIZE = SERVER_NAMES.length;
const POLL_MS = 100;
const TEMPLATE_KEYS = ['SERVER_NAME', 'CLIENT_PORT', 'CLUSTER_PORT', 'MONITOR_PORT', 'STORE_DIR', 'ROUTE_1', 'ROUTE_2'] as const;

/** The ports of the three servers, in server order (n1, n2, n3). */
export interface ClusterPorts {
  client: readonly [number, number, number];
  cluster: readonly [number, number, number];
  /** Monitoring ports; ignored when `monitoring` is false. */
  monitoring: readonly [number, number, number];
}

export interface StartNatsClusterOptions {
  /**
   * Serve HTTP monitoring (/jsz) on a loopback port per server. Needed by `metaLeader()` and by the
   * meta-group part of `waitCurrent()`; without it readiness is "every server answers $JS.API.INFO".
   * @defaultValue true
   */
  monitoring?: boolean;
  /** Fixed ports (default: free ones chosen by the kernel, re-chosen if one is taken meanwhile). */
  ports?: ClusterPorts;
  /** Dir holding the three store dirs, kept on dispose (default: a temp dir, removed on dispose). */
  storeRoot?: string;
  /** How long to wait for the servers, the meta leader and every server current. @defaultValue 30 s */
  readyTimeoutMs?: number;
}

/** One server of the cluster. */
export interface ClusterServer {
  /** Its server_name, also its Raft peer name in stream info (n1, n2, n3). */
  readonly name: string;
  /** Client URL, nats://127.0.0.1:port. */
  readonly url: string;
  readonly port: number;
  readonly clusterPort: number;
  /** http://127.0.0.1:port, or null without monitoring. */
  readonly monitorUrl: string | null;
  readonly storeDir: string;
  readonly configPath: string;
  /** pid of the running server, or null while it is not running. */
  readonly pid: number | null;
  /**
   * Sends `signal` (default SIGKILL) to this server's pid. Resolves once it has exited; SIGSTOP and
   * SIGCONT resolve at once (the process stays).
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports and store dir (stopping it first with SIGTERM if running);
   * resolves when its client port is ready — use `waitCurrent()` for catch-up. */
  restart(): Promise<void>;
}

/** A running three-server JetStream cluster. */
export interface NatsCluster {
  /** Client URLs of all three servers: give them all to a client so it can fail over. */
  readonly urls: string[];
  readonly servers: readonly ClusterServer[];
  /** The server named `name` (n1, n2, n3). */
  server(name: string): ClusterServer;
  /** Name of the server leading `stream` (a KV bucket's stream is KV_<bucket>); waits for an election. */
  streamLeader(stream: string, timeoutMs?: number): Promise<string>;
  /** `$JS.API.STREAM.INFO.<stream>` as the server answers it; waits while no leader can answer. */
  streamInfo(stream: string, timeoutMs?: number): Promise<StreamInfoReply>;
  /** Asks the leader of `stream` to step down; resolves with the newly elected leader's name. */
  stepDownStream(stream: string, timeoutMs?: number): Promise<string>;
  /**
   * Waits until server `serverName`'s own copy of `stream` (its /jsz, needs monitoring) holds
   * `lastSeq` or later; resolves with that copy's state. Shows a restarted server caught up.
   */
  waitReplicaState(serverName: string, stream: string, lastSeq: number, timeoutMs?: number): Promise<StreamInfoReply['state']>;
  /** Name of the JetStream meta leader, as it reports itself on /jsz (needs monitoring). */
  metaLeader(timeoutMs?: number): Promise<string>;
  /**
   * Waits until every running server is current: in the meta group (needs monitoring; otherwise each
   * answers $JS.API.INFO) and, for each of `streams`, as a replica of a stream that has a leader.
   * Stopped servers are left out.
   */
  waitCurrent(opts?: { streams?: readonly string[]; timeoutMs?: number }): Promise<void>;
  /** Stops all three servers by pid and removes the dirs this helper created. */
  dispose(): Promise<void>;
}

/** The parts of a stream info reply the cluster tests read. */
export interface StreamInfoReply {
  config: { name: string; num_replicas: number; [key: string]: unknown };
  state: { messages: number; last_seq: number; [key: string]: unknown };
  cluster?: {
    name?: string;
    leader?: string;
    replicas?: { name: string; current: boolean; offline?: boolean; active: number; lag?: number }[];
  };
}

/** Starts three nats-servers with JetStream clustering and waits until the cluster is whole. */
export async function startNatsCluster(opts: StartNatsClusterOptions = {}): Promise<NatsCluster> {
  const attempts = opts.ports ? 1 : 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts, opts.ports ?? (await freeClusterPorts()));
    } catch (err) {
      // A free port can be taken by someone else between choosing it and listening on it.
      if (!(err instanceof NatsServerStartError && err.portTaken) || attempt >= attempts) throw err;
    }
  }
}

async function freeClusterPorts(): Promise<ClusterPorts> {
  const ports: number[] = [];
  while (ports.length < 3 * CLUSTER_SIZE) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const triple = (i: number) => [ports[i]!, ports[i + 1]!, ports[i + 2]!] as const;
  return { client: triple(0), cluster: triple(3), monitoring: triple(6) };
}

const liveClusters = new Set<{ procs: () => ChildProcess[]; dirs: string[] }>();
let exitHookInstalled = false;

/** On process exit nothing async runs: SIGKILL our own children by pid and remove our dirs. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const cluster of liveClusters) {
      for (const proc of cluster.procs()) if (isRunning(proc)) proc.kill('SIGKILL');
      for (const dir of cluster.dirs) rmSync(dir, { recursive: true, force: true });
    }
  });
}

async function startOnce(opts: StartNatsClusterOptions, ports: ClusterPorts): Promise<NatsCluster> {
  const bin = findNatsServerBinary();
  if (!bin) throw new Error(NATS_INSTALL_HINT);
  const monitoring = opts.monitoring ?? true;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const template = readFileSync(join(repoRoot, 'nats-cluster.conf'), 'utf8');
  // Fail before creating anything when the template and this file disagree.
  fillTemplate(template, Object.fromEntries(TEMPLATE_KEYS.map((k) => [k, '0'])));
  const workDir = mkdtempSync(join(tmpdir(), 'jobchart-nats-cluster-'));
  const storeRoot = opts.storeRoot ?? workDir;

  const children = new Map<string, ChildProcess>();
  const launchers = new Map<string, () => Promise<void>>();
  const registration = { procs: () => [...children.values()], dirs: [workDir] };
  liveClusters.add(registration);
  installExitHook();

  const servers: ClusterServer[] = SERVER_NAMES.map((name, i) => {
    const port = ports.client[i]!;
    const clusterPort = ports.cluster[i]!;
    const monitorPort = monitoring ? ports.monitoring[i]! : 0;
    const storeDir = join(storeRoot, name);
    mkdirSync(storeDir, { recursive: true });
    const routes = ports.cluster.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`);
    const config = fillTemplate(template, {
      SERVER_NAME: name,
      CLIENT_PORT: String(port),
      CLUSTER_PORT: String(clusterPort),
      MONITOR_PORT: String(monitorPort),
      STORE_DIR: storeDir,
      ROUTE_1: routes[0]!,
      ROUTE_2: routes[1]!,
    });
    const configPath = join(workDir, `${name}.conf`);
    writeFileSync(configPath, config);

    const launch = async (): Promise<void> => {
      children.set(name, await spawnNatsServer(bin, ['-c', configPath], readyTimeoutMs));
    };
    launchers.set(name, launch);
    const running = (): ChildProcess | null => {
      const proc = children.get(name);
      return proc && isRunning(proc) ? proc : null;
    };
    return {
      name,
      url: `nats://127.0.0.1:${port}`,
      port,
      clusterPort,
      monitorUrl: monitoring ? `http://127.0.0.1:${monitorPort}` : null,
      storeDir,
      configPath,
      get pid() {
        return running()?.pid ?? null;
      },
      kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
        const proc = running();
        if (!proc) throw new Error(`cluster server ${name} is not running: nothing to send ${signal} to`);
        if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
          proc.kill(signal);
          return;
        }
        await stopNatsProcess(proc, signal, 10_000);
      },
      restart: async () => {
        const proc = running();
        if (proc) await stopNatsProcess(proc);
        await launch();
      },
    };
  });

  const stopAll = async (): Promise<void> => {
    await Promise.all([...children.values()].map((proc) => stopNatsProcess(proc)));
  };

  // One connection to all three, used only for JetStream API requests; it fails over like a user's.
  let api: NatsConnection | null = null;
  const apiConnection = async (): Promise<NatsConnection> => {
    api ??= await connect({
      servers: servers.map((s) => s.url),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
      name: 'nats-cluster-harness',
    });
    return api;
  };

  const isUp = (server: ClusterServer): boolean => server.pid !== null;

  const jsz = async (server: ClusterServer, query = ''): Promise<JszReply | null> => {
    try {
      const res = await fetch(`${server.monitorUrl}/jsz${query}`, { signal: AbortSignal.timeout(2_000) });
      return res.ok ? ((await res.json()) as JszReply) : null;
    } catch {
      return null;
    }
  };

  const selfReportedMetaLeader = async (): Promise<ClusterServer | null> => {
    for (const server of servers.filter(isUp)) {
      if ((await jsz(server))?.meta_cluster?.leader === server.name) return server;
    }
    return null;
  };

  const metaGroupCurrent = async (): Promise<boolean> => {
    if (!monitoring) {
      const answers = await Promise.all(servers.filter(isUp).map((s) => answersJsApiInfo(s.url)));
      return answers.every(Boolean);
    }
    const leader = await selfReportedMetaLeader();
    if (!leader) return false;
    const replicas = (await jsz(leader))?.meta_cluster?.replicas ?? [];
    return servers
      .filter((s) => isUp(s) && s !== leader)
      .every((s) => replicas.some((r) => r.name === s.name && r.current && !r.offline));
  };

  const streamInfoOnce = async (stream: string): Promise<StreamInfoReply | ApiErrorReply> => {
    const nc = await apiConnection();
    const msg = await nc.request(`$JS.API.STREAM.INFO.${stream}`, '', { timeout: 2_000 });
    return msg.json<StreamInfoReply | ApiErrorReply>();
  };

  const streamInfo = async (stream: string, timeoutMs = 20_000): Promise<StreamInfoReply> => {
    return pollUntil(`stream ${stream} answers STREAM.INFO with a leader`, timeoutMs, async () => {
      const reply = await streamInfoOnce(stream).catch(() => null);
      if (reply && 'error' in reply) {
        // 10059: the stream does not exist — waiting will not help.
        if (reply.error.err_code === 10059) throw new Error(`stream ${stream} not found: ${reply.error.description}`);
        return null;
      }
      return reply?.cluster?.leader ? reply : null;
    });
  };

  const streamCurrent = async (stream: string): Promise<boolean> => {
    const info = await streamInfoOnce(stream).catch(() => null);
    if (!info || 'error' in info || !info.cluster?.leader) return false;
    const { leader, replicas = [] } = info.cluster;
    return servers
      .filter((s) => isUp(s) && s.name !== leader)
      .every((s) => replicas.some((r) => r.name === s.name && r.current && !r.offline));
  };

  const cluster: NatsCluster = {
    urls: servers.map((s) => s.url),
    servers,
    server(name) {
      const found = servers.find((s) => s.name === name);
      if (!found) throw new Error(`no cluster server named ${JSON.stringify(name)} (have ${SERVER_NAMES.join(', ')})`);
      return found;
    },
    streamInfo,
    streamLeader: async (stream, timeoutMs) => (await streamInfo(stream, timeoutMs)).cluster!.leader!,
    stepDownStream: async (stream, timeoutMs = 20_000) => {
      const before = await cluster.streamLeader(stream, timeoutMs);
      const nc = await apiConnection();
      await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, '', { timeout: 5_000 });
      return pollUntil(`stream ${stream} elects a leader other than ${before}`, timeoutMs, async () => {
        const info = await streamInfoOnce(stream).catch(() => null);
        const leader = info && !('error' in info) ? info.cluster?.leader : undefined;
        return leader && leader !== before ? leader : null;
      });
    },
    waitReplicaState: async (serverName, stream, lastSeq, timeoutMs = 20_000) => {
      if (!monitoring) throw new Error('waitReplicaState() reads /jsz: start the cluster with monitoring: true');
      const server = cluster.server(serverName);
      return pollUntil(`${serverName}'s copy of ${stream} at last_seq ${lastSeq}`, timeoutMs, async () => {
        const details = (await jsz(server, '?streams=true'))?.account_details ?? [];
        const state = details.flatMap((a) => a.stream_detail ?? []).find((d) => d.name === stream)?.state;
        return state && state.last_seq >= lastSeq ? state : null;
      });
    },
    metaLeader: async (timeoutMs = 20_000) => {
      if (!monitoring) throw new Error('metaLeader() reads /jsz: start the cluster with monitoring: true');
      return (await pollUntil('a JetStream meta leader', timeoutMs, selfReportedMetaLeader)).name;
    },
    waitCurrent: async ({ streams = [], timeoutMs = 30_000 } = {}) => {
      await pollUntil(`every running server current (meta group, streams ${streams.join(', ') || 'none'})`, timeoutMs, async () => {
        if (!(await metaGroupCurrent())) return null;
        for (const stream of streams) if (!(await streamCurrent(stream))) return null;
        return true;
      });
    },
    dispose: async () => {
      await api?.close().catch(() => undefined);
      api = null;
      await stopAll();
      rmSync(workDir, { recursive: true, force: true });
      liveClusters.delete(registration);
    },
  };

  try {
    // allSettled: a server still starting when another fails must be in `children` before dispose.
    const launched = await Promise.allSettled([...launchers.values()].map((launch) => launch()));
    const failed = launched.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    await cluster.waitCurrent({ timeoutMs: readyTimeoutMs });
  } catch (err) {
    await cluster.dispose();
    throw err;
  }
  return cluster;
}

interface JszReply {
  account_details?: { stream_detail?: { name: string; state: StreamInfoReply['state'] }[] }[];
  meta_cluster?: {
    leader?: string;
    replicas?: { name: string; current: boolean; offline?: boolean }[];
  };
}

interface ApiErrorReply {
  error: { code: number; err_code: number; description: string };
}

/** Replaces every {{NAME}} in the template; a placeholder left unfilled is a bug in this file. */
function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  const filled = template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (whole, key: string) => values[key] ?? whole);
  const left = filled.match(/\{\{[A-Z0-9_]+\}\}/);
  if (left) throw new Error(`nats-cluster.conf: no value for placeholder ${left[0]}`);
  return filled;
}

/** True when a client connected only to `url` gets an account info reply (a meta leader exists). */
async function answersJsApiInfo(url: string): Promise<boolean> {
  let nc: NatsConnection | null = null;
  try {
    nc = await connect({ servers: url, timeout: 2_000, reconnect: false });
    const reply = (await nc.request('$JS.API.INFO', '', { timeout: 2_000 })).json<{ error?: unknown }>();
    return reply.error === undefined;
  } catch {
    return false;
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

/** Calls `probe` every POLL_MS until it returns a value other than null; rejects after `timeoutMs`. */
async function pollUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() >= deadline) throw new Error(`nats cluster: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
