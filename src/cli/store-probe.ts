/**
 * The CLI's first contact with a NATS store: one connection with the same servers, auth and TLS the
 * store will use, so that an unreachable server or a rejected login is reported with its URL before
 * anything else happens (`cannot connect to nats://127.0.0.1:4999: connection refused`).
 *
 * It also reads the lease duration the store's nodes use. Admin commands must open the store with
 * that duration (the store refuses a mismatch, rightly, for nodes); an admin client holds no leases,
 * so it simply adopts the TTL of the existing leases bucket, or the runtime default on a new store.
 */
import { readFileSync } from 'node:fs';
import { Kvm } from '@nats-io/kv';
import { connect, credsAuthenticator, type NodeConnectionOptions } from '@nats-io/transport-node';
import { CliFailure } from './cli-error.js';
import { describeServers, type NatsTarget } from './store-flags.js';


const CONNECT_TIMEOUT_MS = 5_000;

function connectionOptions(target: NatsTarget): NodeConnectionOptions {
  const { options } = target;
  return {
    servers: target.servers,
    name: 'jobchart-cli',
    timeout: CONNECT_TIMEOUT_MS,
    ...(options.user !== undefined ? { user: options.user } : {}),
    ...(options.pass !== undefined ? { pass: options.pass } : {}),
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.credsFile !== undefined ? { authenticator: credsAuthenticator(readFileSync(options.credsFile)) } : {}),
  };
}

/** Why a connection failed, in a few words, with a hint where the user can act on it. */
function connectFailureReason(error: unknown): string {
  const e = error as { name?: string; message?: string };
  const message = (e.message ?? String(error)).replace(/^'|'$/g, '');
  if (e.name === 'AuthorizationError') return `${message.toLowerCase()} (check --user/--password, --token or --creds)`;
  return message;
}

/** Connects, reads the leases bucket's TTL (null when there is none yet) and disconnects. */
export async function probeStore(target: NatsTarget): Promise<{ leaseDurationMs: number | null }> {
  let nc;
  try {
    nc = await connect(connectionOptions(target));
  } catch (error) {
    throw new CliFailure(`cannot connect to ${describeServers(target)}: ${connectFailureReason(error)}`, { cause: error });
  }
  try {
    const kv = await new Kvm(nc).open(`${target.prefix}_leases`);
    const status = await kv.status();
    return { leaseDurationMs: status.ttl > 0 ? status.ttl : null };
  } catch {
    return { leaseDurationMs: null };
  } finally {
    await nc.close();
  }
}
