/**
 * How the store flags and variables become natsStore options: the precedence of --nats,
 * JOBCHART_NATS and NATS_URL; --creds and the --tls-* files mapped to credsFile and tls (the servers
 * that would need them are not started here; the connection tests cover token and user/password).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveStoreTarget } from '../../src/cli/store-flags.js';

let dir = '';
const file = (name: string): string => join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'jobchart-store-flags-'));
  for (const name of ['user.creds', 'ca.pem', 'cert.pem', 'key.pem']) writeFileSync(file(name), 'x');
});

describe('resolveStoreTarget', () => {
  it('--nats wins over JOBCHART_NATS, which wins over NATS_URL; several servers split on commas', () => {
    const env = { JOBCHART_NATS: 'nats://env:1', NATS_URL: 'nats://usual:2' };
    expect(resolveStoreTarget({ nats: 'nats://a:4222, tls://b:4222' }, env, 'admin')).toMatchObject({
      servers: ['nats://a:4222', 'tls://b:4222'],
      from: '--nats',
      options: { servers: ['nats://a:4222', 'tls://b:4222'], prefix: 'jobchart' },
    });
    expect(resolveStoreTarget({}, env, 'admin')).toMatchObject({ servers: ['nats://env:1'], from: 'JOBCHART_NATS' });
    expect(resolveStoreTarget({}, { NATS_URL: 'localhost:4222' }, 'node')).toMatchObject({ servers: ['localhost:4222'], from: 'NATS_URL' });
  });

  it('node runs on the memory store without a URL, or with --memory whatever the environment says', () => {
    expect(resolveStoreTarget({}, {}, 'node')).toEqual({ kind: 'memory' });
    expect(resolveStoreTarget({ memory: true }, { JOBCHART_NATS: 'nats://env:1', JOBCHART_NATS_TOKEN: 't' }, 'node')).toEqual({ kind: 'memory' });
  });

  it('--creds → credsFile, --tls-ca/--tls-cert/--tls-key → tls files, --prefix → prefix (absolute paths)', () => {
    const target = resolveStoreTarget(
      { nats: 'tls://n:4222', prefix: 'ops', creds: file('user.creds'), tlsCa: file('ca.pem'), tlsCert: file('cert.pem'), tlsKey: file('key.pem') },
      {},
      'admin',
    );
    expect(target.options).toEqual({
      servers: ['tls://n:4222'],
      prefix: 'ops',
      credsFile: file('user.creds'),
      tls: { caFile: file('ca.pem'), certFile: file('cert.pem'), keyFile: file('key.pem') },
    });
  });

  it('the same from JOBCHART_* variables; a flag wins over its variable', () => {
    const env = {
      JOBCHART_NATS: 'nats://env:1',
      JOBCHART_PREFIX: 'fromenv',
      JOBCHART_NATS_USER: 'u',
      JOBCHART_NATS_PASSWORD: 'p',
      JOBCHART_NATS_TLS_CA: file('ca.pem'),
    };
    expect(resolveStoreTarget({}, env, 'admin').options).toEqual({
      servers: ['nats://env:1'],
      prefix: 'fromenv',
      user: 'u',
      pass: 'p',
      tls: { caFile: file('ca.pem') },
    });
    expect(resolveStoreTarget({ prefix: 'flag' }, env, 'admin').options.prefix).toBe('flag');
    expect(resolveStoreTarget({}, { JOBCHART_NATS: 'nats://env:1', JOBCHART_NATS_TOKEN: 'tok' }, 'node')).toMatchObject({ options: { token: 'tok' } });
  });
  it('node: --replicas / JOBCHART_NATS_REPLICAS → replicas (1, 3 or 5, else a usage error); admin commands never take it', () => {
    const url = { nats: 'nats://n:4222' };
    expect(resolveStoreTarget({ ...url, replicas: '3' }, {}, 'node')).toMatchObject({ options: { replicas: 3 } });
    expect(resolveStoreTarget(url, { JOBCHART_NATS_REPLICAS: '5' }, 'node')).toMatchObject({ options: { replicas: 5 } });
    expect(resolveStoreTarget({ ...url, replicas: '1' }, { JOBCHART_NATS_REPLICAS: '5' }, 'node')).toMatchObject({ options: { replicas: 1 } });
    expect(resolveStoreTarget(url, {}, 'node')).not.toHaveProperty('options.replicas');
    expect(resolveStoreTarget(url, { JOBCHART_NATS_REPLICAS: '3' }, 'admin').options).not.toHaveProperty('replicas');
    expect(() => resolveStoreTarget({ ...url, replicas: '2' }, {}, 'node')).toThrow('--replicas "2": use 1, or 3 or 5 on a JetStream cluster');
    expect(() => resolveStoreTarget(url, { JOBCHART_NATS_REPLICAS: 'three' }, 'node')).toThrow('JOBCHART_NATS_REPLICAS "three"');
    expect(() => resolveStoreTarget({ replicas: '3' }, {}, 'node')).toThrow('--replicas applies to a NATS store');
  });
});
