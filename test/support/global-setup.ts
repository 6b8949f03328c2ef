/**
 * Runs once before the suites: makes sure nats-server is available, installing Debian's package when
 * running as root with apt-get, otherwise failing with a one-line instruction. Never skips silently.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findNatsServerBinary, NATS_INSTALL_HINT } from './nats-server.js';

export default function setup(): void {
  if (findNatsServerBinary()) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && existsSync('/usr/bin/apt-get')) {
    console.log('[jobchart tests] nats-server missing: installing Debian package nats-server');
    execFileSync('/usr/bin/apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('/usr/bin/apt-get', ['install', '-y', '-qq', 'nats-server'], { stdio: 'inherit' });
    if (findNatsServerBinary()) return;
  }
  throw new Error(NATS_INSTALL_HINT);
}
