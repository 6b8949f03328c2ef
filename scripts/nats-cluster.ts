/**
 * `npm run cluster`: a three-server NATS JetStream cluster on loopback for trying jobchart with
 * replication. Stays up until Ctrl-C or SIGTERM, then stops the three servers by their pids and
 * removes their temporary dirs.
 *
 *   npm run cluster                          client ports 4222-4224, cluster 6222-6224, monitoring 8222-8224
 *   npm run cluster -- --base-port 5222      client 5222-5224, cluster 7222-7224, monitoring 9222-9224
 *   npm run cluster -- --free-ports          ports chosen by the kernel
 *   npm run cluster -- --store-dir ./cluster-data   keep the data across runs (default: a temp dir)
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startNatsCluster, type ClusterPorts } from '../test/support/nats-cluster.js';

const USAGE = 'usage: npm run cluster -- [--base-port <n> | --free-ports] [--store-dir <dir>]';

const { values } = parseArgs({
  options: {
    'base-port': { type: 'string' },
    'free-ports': { type: 'boolean', default: false },
    'store-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

/** Client ports base..base+2, cluster ports 2000 above, monitoring 4000 above (NATS's 4222/6222/8222). */
function portsFrom(base: number): ClusterPorts {
  const triple = (offset: number) => [base + offset, base + offset + 1, base + offset + 2] as const;
  return { client: triple(0), cluster: triple(2000), monitoring: triple(4000) };
}

const basePort = Number(values['base-port'] ?? 4222);
if (!Number.isInteger(basePort) || basePort < 1024 || basePort + 4002 > 65535) {
  console.error(`--base-port must be an integer from 1024 to 61533, got ${JSON.stringify(values['base-port'])}\n${USAGE}`);
  process.exit(2);
}

let cluster;
try {
  cluster = await startNatsCluster({
    monitoring: true,
    ...(values['free-ports'] ? {} : { ports: portsFrom(basePort) }),
    ...(values['store-dir'] ? { storeRoot: resolve(values['store-dir']) } : {}),
  });
} catch (err) {
  const message = err instanceof Error ? err.message : String(err);
  const hint = /address already in use/i.test(message) ? '\na port is taken: try --base-port <n> or --free-ports' : '';
  console.error(`could not start the cluster: ${message}${hint}`);
  process.exit(1);
}

const urls = cluster.urls;
console.log('jobchart dev cluster: 3 nats-servers with JetStream clustering, loopback only\n');
for (const server of cluster.servers) {
  console.log(`  ${server.name}  ${server.url}  pid ${server.pid}  monitoring ${server.monitorUrl}/jsz`);
  console.log(`      config ${server.configPath}  store ${server.storeDir}`);
}
console.log(`\n  JetStream meta leader: ${await cluster.metaLeader()}`);
console.log(`
Point jobchart at all three (a client given every URL fails over when one server dies):
  natsStore({ servers: [${urls.map((url) => `'${url}'`).join(', ')}], replicas: 3 })
  JOBCHART_NATS=${urls.join(',')}   (for the jobchart CLI's --nats)

Ctrl-C stops all three.`);

let stopping = false;

// A server that dies while we run is reported, not restarted: this is a dev cluster, not a supervisor.
const reported = new Set<string>();
const watch = setInterval(() => {
  if (stopping) return;
  for (const server of cluster.servers) {
    if (server.pid === null && !reported.has(server.name)) {
      reported.add(server.name);
      console.error(`${server.name} (${server.url}) exited; the other two keep serving while they are a majority`);
    }
  }
}, 1_000);

const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
  if (stopping) return;
  stopping = true;
  clearInterval(watch);
  console.log(`\n${signal}: stopping the three servers`);
  await cluster.dispose();
  console.log(values['store-dir'] ? `stopped; data kept in ${resolve(values['store-dir'])}` : 'stopped; temporary dirs removed');
  process.exit(0);
};
// Ctrl-C in a terminal also reaches the servers (same process group) and they exit by themselves;
// dispose() then finds them gone and only removes the dirs.
process.on('SIGINT', (signal) => void shutdown(signal));
process.on('SIGTERM', (signal) => void shutdown(signal));
