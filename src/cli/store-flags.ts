/**
 * Which store a command talks to, from the flags and the environment: `--nats` (else
 * `JOBCHART_NATS`, else the usual `NATS_URL`), `--prefix`, and the NATS auth/TLS flags, each with a
 * `JOBCHART_*` variable read when the flag is absent. Everything is checked here, before a command
 * connects: URL schemes, files that must exist, flags that need or exclude each other.
 */
import { Option, type Command } from 'commander';
import { isNatsReplicas, validatePrefix, type NatsStoreOptions } from '../store/index.js';
import { CliUsageError } from './cli-error.js';
import { existingFileValue } from './flag-values.js';

/** The store flags as commander parsed them (camelCase keys). */
export interface StoreFlags {
  nats?: string;
  memory?: boolean;
  prefix?: string;
  creds?: string;
  user?: string;
  password?: string;
  token?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  replicas?: string;
}

type StoreFlagKey = Exclude<keyof StoreFlags, 'memory'>;

/** Environment variables read, in this order, when a flag is absent. */
export const STORE_ENV: Readonly<Record<StoreFlagKey, readonly string[]>> = {
  nats: ['JOBCHART_NATS', 'NATS_URL'],
  prefix: ['JOBCHART_PREFIX'],
  creds: ['JOBCHART_NATS_CREDS'],
  user: ['JOBCHART_NATS_USER'],
  password: ['JOBCHART_NATS_PASSWORD'],
  token: ['JOBCHART_NATS_TOKEN'],
  tlsCa: ['JOBCHART_NATS_TLS_CA'],
  tlsCert: ['JOBCHART_NATS_TLS_CERT'],
  tlsKey: ['JOBCHART_NATS_TLS_KEY'],
  replicas: ['JOBCHART_NATS_REPLICAS'],
};

const FLAG_OF: Readonly<Record<StoreFlagKey, string>> = {
  nats: '--nats',
  prefix: '--prefix',
  creds: '--creds',
  user: '--user',
  password: '--password',
  token: '--token',
  tlsCa: '--tls-ca',
  tlsCert: '--tls-cert',
  tlsKey: '--tls-key',
  replicas: '--replicas',
};

const DEFAULT_PREFIX = 'jobchart';

/** A NATS store. `from` names where the URL came from (a flag or a variable), for messages. */
export interface NatsTarget {
  kind: 'nats';
  servers: string[];
  from: string;
  prefix: string;
  options: NatsStoreOptions;
}

/** Where a command's store is. */
export type StoreTarget = { kind: 'memory' } | NatsTarget;

const envHint = (key: StoreFlagKey): string => STORE_ENV[key].map((name) => `$${name}`).join(', else ');

/**
 * Adds the store flags to a command. `node` falls back to the in-memory store without a URL (and has
 * `--memory` to insist on it); the admin commands need a URL.
 */
export function addStoreOptions(cmd: Command, mode: 'node' | 'admin'): Command {
  const fallback = mode === 'node' ? 'the in-memory store' : 'none: admin commands need a NATS store';
  cmd.addOption(new Option('--nats <urls>', `NATS server URL(s), comma-separated: nats://host:4222, tls://host:4222 (default: ${envHint('nats')}, else ${fallback})`));
  if (mode === 'node') {
    cmd.addOption(new Option('--memory', `run on the in-memory store even if ${envHint('nats')} is set (default: off)`).conflicts('nats'));
    cmd.addOption(
      new Option(
        '--replicas <n>',
        `JetStream replicas of every bucket and the dispatch stream: 1, or 3 or 5 on a JetStream cluster of as many servers; what is missing is created with it, an existing one with another count is refused — give every node the same (default: ${envHint('replicas')}, else existing ones as they are, missing ones with 1)`,
      ),
    );
  }
  cmd
    .addOption(new Option('--prefix <name>', `namespace of the store's buckets and subjects (default: ${envHint('prefix')}, else "${DEFAULT_PREFIX}")`))
    .addOption(new Option('--creds <file>', `NATS credentials file (JWT + nkey seed) (default: ${envHint('creds')}, else none)`))
    .addOption(new Option('--user <name>', `NATS user, with --password (default: ${envHint('user')}, else none)`))
    .addOption(new Option('--password <password>', `NATS password, with --user; prefer the variable, a flag shows in ps (default: ${envHint('password')}, else none)`))
    .addOption(new Option('--token <token>', `NATS auth token (default: ${envHint('token')}, else none)`))
    .addOption(new Option('--tls-ca <file>', `CA certificate (PEM) to verify the server with (default: ${envHint('tlsCa')}, else the system's)`))
    .addOption(new Option('--tls-cert <file>', `client certificate (PEM), with --tls-key (default: ${envHint('tlsCert')}, else none)`))
    .addOption(new Option('--tls-key <file>', `client private key (PEM), with --tls-cert (default: ${envHint('tlsKey')}, else none)`));
  return cmd;
}

interface Sourced {
  value: string;
  /** The flag or the environment variable the value came from. */
  from: string;
}

function pick(flags: StoreFlags, env: NodeJS.ProcessEnv, key: StoreFlagKey): Sourced | undefined {
  const fromFlag = flags[key];
  if (fromFlag !== undefined) return { value: fromFlag, from: FLAG_OF[key] };
  for (const name of STORE_ENV[key]) {
    const value = env[name];
    if (value !== undefined && value !== '') return { value, from: name };
  }
  return undefined;
}

/** One server URL as the NATS client takes it: nats://, tls://, or a bare host[:port]. */
function checkServer(server: string, from: string): string {
  const bad = (why: string): CliUsageError =>
    new CliUsageError(`${from} ${JSON.stringify(server)}: ${why}; use nats://host:4222 or tls://host:4222 (several separated by commas)`);
  if (server === '') throw bad('empty server URL');
  if (server.includes('://')) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw bad('not a URL');
    }
    if (url.protocol !== 'nats:' && url.protocol !== 'tls:') throw bad(`the scheme must be nats:// or tls://, not ${url.protocol}//`);
    if (url.hostname === '') throw bad('no host');
    return server;
  }
  if (!/^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/.test(server)) throw bad('not a host[:port]');
  return server;
}

/**
 * Resolves the store flags and variables into a target. Throws CliUsageError for a bad URL, prefix or
 * file, and for auth flags that do not go together.
 */
export function resolveStoreTarget(flags: StoreFlags, env: NodeJS.ProcessEnv, mode: 'admin'): NatsTarget;
export function resolveStoreTarget(flags: StoreFlags, env: NodeJS.ProcessEnv, mode: 'node'): StoreTarget;
export function resolveStoreTarget(flags: StoreFlags, env: NodeJS.ProcessEnv, mode: 'node' | 'admin'): StoreTarget {
  const nats = flags.memory ? undefined : pick(flags, env, 'nats');
  if (!nats) {
    if (mode === 'admin') {
      throw new CliUsageError(
        'admin commands need --nats <url> (or JOBCHART_NATS / NATS_URL): the in-memory store lives only inside a node',
      );
    }
    const stray = (Object.keys(FLAG_OF) as StoreFlagKey[]).find((key) => key !== 'nats' && flags[key] !== undefined);
    if (stray) {
      throw new CliUsageError(`${FLAG_OF[stray]} applies to a NATS store: ${flags.memory ? 'drop it or --memory' : 'give --nats <url> too'}`);
    }
    return { kind: 'memory' };
  }
  const servers = nats.value.split(',').map((s) => checkServer(s.trim(), nats.from));
  const prefixGiven = pick(flags, env, 'prefix');
  const prefix = prefixGiven?.value ?? DEFAULT_PREFIX;
  try {
    validatePrefix(prefix);
  } catch {
    throw new CliUsageError(`${prefixGiven?.from ?? '--prefix'} ${JSON.stringify(prefix)}: use letters, digits, - and _ only`);
  }
  const file = (key: StoreFlagKey): string | undefined => {
    const given = pick(flags, env, key);
    return given === undefined ? undefined : existingFileValue(given.from)(given.value);
  };
  const user = pick(flags, env, 'user');
  const password = pick(flags, env, 'password');
  const token = pick(flags, env, 'token');
  const creds = file('creds');
  if ((user === undefined) !== (password === undefined)) {
    throw new CliUsageError(user ? `${user.from} needs --password (or JOBCHART_NATS_PASSWORD)` : `${password?.from} needs --user (or JOBCHART_NATS_USER)`);
  }
  const schemes = [creds !== undefined && '--creds', user !== undefined && '--user/--password', token !== undefined && '--token'].filter(Boolean);
  if (schemes.length > 1) throw new CliUsageError(`give one way to authenticate, not ${schemes.join(' and ')}`);
  const tlsCa = file('tlsCa');
  const tlsCert = file('tlsCert');
  const tlsKey = file('tlsKey');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new CliUsageError(tlsCert ? '--tls-cert needs --tls-key (the client key)' : '--tls-key needs --tls-cert (the client certificate)');
  }
  const options: NatsStoreOptions = { servers, prefix };
  // Admin commands never create a bucket with a count of their own: they adopt what the nodes made.
  const replicas = mode === 'node' ? pick(flags, env, 'replicas') : undefined;
  if (replicas) {
    const count = Number(replicas.value);
    if (!isNatsReplicas(count)) {
      throw new CliUsageError(`${replicas.from} ${JSON.stringify(replicas.value)}: use 1, or 3 or 5 on a JetStream cluster of at least as many servers`);
    }
    options.replicas = count;
  }
  if (user && password) {
    options.user = user.value;
    options.pass = password.value;
  }
  if (token) options.token = token.value;
  if (creds) options.credsFile = creds;
  if (tlsCa || tlsCert) {
    options.tls = {
      ...(tlsCa ? { caFile: tlsCa } : {}),
      ...(tlsCert ? { certFile: tlsCert } : {}),
      ...(tlsKey ? { keyFile: tlsKey } : {}),
    };
  }
  return { kind: 'nats', servers, from: nats.from, prefix, options };
}

/** `nats://a:4222, nats://b:4222` (and where they came from, when not from --nats). */
export function describeServers(target: NatsTarget): string {
  return target.servers.join(', ') + (target.from === '--nats' ? '' : ` (from ${target.from})`);
}
