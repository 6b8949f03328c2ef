/**
 * Leveled structured logs. The runtime logs through any object with pino-like level methods
 * (`logger.warn(fields, message)`), so a pino logger, a child of one, or an adapter to another
 * library can be passed as `createRuntime({ logger })`.
 *
 * The default is a pino logger at level `warn` writing JSON lines to stderr: a library stays quiet
 * while things work, and still says so when something goes wrong in the background (a store write
 * that failed, a listener that threw, a lease lost) — those used to be `console.error` lines, and
 * silencing them by default would hide real trouble. Pass `logger: silentLogger` for none.
 *
 * What is logged at which level:
 * - error: a background effect failed with nobody to tell (NodeContext.reportError), a listener threw;
 * - warn: a job's lease lost, a renewal or write without answer (retried), an acquisition that failed;
 * - info: node started/stopped, the metrics server's address, a job that ended other than success;
 * - debug: each job acquired, committed, requeued for a retry, and the tasks' own `ctx.log` lines.
 */
import { Writable } from 'node:stream';
import { pino, type Logger as PinoLogger } from 'pino';

/** One level method: structured fields first, then the message (pino's calling convention). */
export type LogMethod = (fields: Record<string, unknown>, message: string) => void;

/** What `createRuntime({ logger })` accepts: pino, or anything with these methods. */
export interface Logger {
  error: LogMethod;
  warn: LogMethod;
  info: LogMethod;
  debug: LogMethod;
}

/** Log levels, most severe first (pino's names). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Log line formats of `createLogger`: one JSON object per line, or pino-pretty's coloured text. */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const noop: LogMethod = () => undefined;

/** A logger that drops everything. */
export const silentLogger: Logger = { error: noop, warn: noop, info: noop, debug: noop };

export interface CreateLoggerOptions {
  /** @defaultValue 'warn' */
  level?: LogLevel;
  /** @defaultValue 'json' */
  format?: LogFormat;
  /** Fields on every line (e.g. `{ nodeId }`). @defaultValue none */
  base?: Record<string, unknown>;
  /** File descriptor, or anything with `write(text)`. @defaultValue 2 (stderr) */
  destination?: number | { write(text: string): unknown };
  /** pretty: colour the level names. @defaultValue false */
  colorize?: boolean;
}

/**
 * A pino logger. Writes are synchronous (a node that exits right after an error still prints it);
 * `pretty` runs pino-pretty in this thread rather than as a transport worker.
 */
export async function createLogger(opts: CreateLoggerOptions = {}): Promise<PinoLogger> {
  const level = opts.level ?? 'warn';
  const destination = opts.destination ?? 2;
  const pinoOpts = { level, base: opts.base ?? {} };
  const stream =
    typeof destination === 'number'
      ? pino.destination({ fd: destination, sync: true })
      : new Writable({
          write(chunk: Buffer | string, _encoding, done) {
            destination.write(chunk.toString());
            done();
          },
        });
  if (opts.format === 'pretty') {
    const { default: pretty } = await import('pino-pretty');
    return pino(pinoOpts, pretty({ destination: stream, sync: true, colorize: opts.colorize ?? false, ignore: 'pid,hostname' }));
  }
  return pino(pinoOpts, stream);
}

/** The default logger of a runtime: pino at `warn`, JSON lines on stderr, each with the node's id. */
export function defaultLogger(nodeId: string): Logger {
  return pino({ level: 'warn', base: { nodeId } }, pino.destination({ fd: 2, sync: true }));
}

/**
 * `logger` made safe to call from anywhere in the node: a logger that throws (a broken stream, a
 * bug in an adapter) must not break the effect that logs.
 */
export function safeLogger(logger: Logger): Logger {
  const guard =
    (level: keyof Logger): LogMethod =>
    (fields, message) => {
      try {
        logger[level](fields, message);
      } catch {
        // nowhere left to report it
      }
    };
  return { error: guard('error'), warn: guard('warn'), info: guard('info'), debug: guard('debug') };
}
