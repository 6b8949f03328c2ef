/**
 * Readers for flag values. Each turns a raw string into a value or throws CliUsageError naming the
 * flag (or the environment variable it came from) in command-line words. They run while the command
 * line is parsed, so a bad value stops the command before it connects or writes anything.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDuration } from '../duration.js';
import { parseListen } from '../runtime/metrics.js';
import { date } from '../triggers/index.js';
import { CliUsageError } from './cli-error.js';

const DURATION_HINT = 'use e.g. 250ms, 90s, 5m, 1h30m, 2d (units w d h m s ms, largest first; a bare number is ms)';

/** A duration flag: milliseconds or `90s`, `5m`, `1h30m`… → milliseconds. */
export function durationValue(flag: string): (raw: string) => number {
  return (raw) => {
    try {
      return parseDuration(raw, flag);
    } catch {
      throw new CliUsageError(`${flag} ${JSON.stringify(raw)} is not a duration; ${DURATION_HINT}`);
    }
  };
}

/** A whole number >= `min`. */
export function integerValue(flag: string, min: number): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isSafeInteger(n) || n < min) {
      throw new CliUsageError(`${flag} must be a whole number >= ${min}, got ${JSON.stringify(raw)}`);
    }
    return n;
  };
}

/** A JSON value (job or schedule args). */
export function jsonValue(flag: string): (raw: string) => unknown {
  return (raw) => {
    try {
      return JSON.parse(raw) as unknown;
    } catch (error) {
      throw new CliUsageError(`${flag} must be JSON, e.g. '{"to":"a@b.c"}' or '[1,2]': ${(error as Error).message}`);
    }
  };
}

/** A non-empty string (ids, task names). A value that is itself a flag means the value was forgotten. */
export function nonEmptyValue(flag: string): (raw: string) => string {
  return (raw) => {
    if (raw.trim() === '') throw new CliUsageError(`${flag} must not be empty`);
    if (/^--[a-z]/.test(raw)) throw new CliUsageError(`${flag} needs a value, not the flag ${raw}`);
    return raw;
  };
}

/** An instant: an ISO 8601 date-time, read as the `date` trigger reads it (without offset: UTC). */
export function instantValue(flag: string): (raw: string) => Date {
  return (raw) => {
    try {
      return new Date(date(raw).at);
    } catch {
      throw new CliUsageError(`${flag} ${JSON.stringify(raw)} is not an ISO 8601 date-time; use e.g. 2026-06-01T12:00:00Z`);
    }
  };
}

/** A path to an existing file, resolved against the working directory. */
export function existingFileValue(flag: string): (raw: string) => string {
  return (raw) => {
    const path = resolve(process.cwd(), raw);
    if (!existsSync(path)) throw new CliUsageError(`${flag} ${JSON.stringify(raw)}: no such file (looked for ${path})`);
    if (!statSync(path).isFile()) throw new CliUsageError(`${flag} ${JSON.stringify(raw)}: not a file (${path})`);
    return path;
  };
}

/** An address to serve on: `host:port`, `[::1]:port`, `:port` or a port (port 0: any free one). */
export function listenAddressValue(flag: string): (raw: string) => string {
  return (raw) => {
    try {
      parseListen(raw);
    } catch {
      throw new CliUsageError(`${flag} ${JSON.stringify(raw)} is not an address to listen on; use host:port, e.g. 127.0.0.1:9464 (port 0: any free port)`);
    }
    return raw;
  };
}

/** A WebSocket URL (ws:// or wss://) of an inspector server. */
export function webSocketUrlValue(flag: string): (raw: string) => string {
  return (raw) => {
    let url: URL | null = null;
    try {
      url = new URL(raw);
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== 'ws:' && url.protocol !== 'wss:') || url.hostname === '') {
      throw new CliUsageError(`${flag} takes the ws:// (or wss://) URL of an inspector server, e.g. ws://127.0.0.1:8080; got ${JSON.stringify(raw)}`);
    }
    return raw;
  };
}
