/**
 * Leveled structured logs: a pino logger passed as `createRuntime({ logger })` gets JSON lines that
 * parse, at the documented levels (error: a listener that threw, with the error serialised; info:
 * node started/stopped, a job that ended other than success; debug: the task's own `ctx.log` lines
 * and retries); the default is pino at `warn`; a logger that throws never breaks the node; a logger
 * without the level methods is refused. And no `console.*` is left in the library.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createRuntime, InvalidOptionError, memoryStore, type JobContext } from '../../src/index.js';
import { resolveRuntimeOptions } from '../../src/runtime/runtime-options.js';
import { waitUntil } from './support/wait.js';

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A pino logger at `level` writing into an array of parsed JSON lines. */
function capture(level: pino.Level): { logger: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

const LEVEL = { error: 50, warn: 40, info: 30, debug: 20 } as const;

describe('logs', () => {
  it('JSON lines at the documented levels: lifecycle and failed jobs at info, task lines and retries at debug, listener errors at error', async () => {
    const { logger, lines } = capture('debug');
    const rt = await createRuntime({ store: memoryStore(), nodeId: 'log-node', logger });
    rt.task('talk', (args: { fail: boolean }, ctx: JobContext) => {
      ctx.log('hello %s', 'world', { n: 1 });
      if (args.fail) throw new TypeError('bad input');
      return 'ok';
    }, { retry: { attempts: 2, backoff: '10ms' } });
    rt.on('JobAdded', () => {
      throw new Error('listener bug');
    });
    await rt.start();
    await rt.runJob('talk', { fail: false });
    const failing = await rt.addJob({ task: 'talk', args: { fail: true } });
    await rt.getJobResult(failing, { wait: true, timeout: '5s' });
    await waitUntil('the failed job logged', () => lines.some((l) => l.msg.includes('ended error')));
    await rt.stop();

    expect(lines.every((l) => typeof l.level === 'number' && typeof l.msg === 'string' && typeof l['time'] === 'number')).toBe(true);
    expect(lines.find((l) => l.msg === 'node log-node started (both)')).toMatchObject({ level: LEVEL.info, role: 'both', tasks: ['talk'], store: 'memory' });
    expect(lines.find((l) => l.msg === 'node log-node stopped')).toMatchObject({ level: LEVEL.info, reason: 'drain' });
    const taskLines = lines.filter((l) => l.msg === "hello world { n: 1 }");
    expect(taskLines.length).toBe(3); // one success, two failed attempts
    expect(taskLines[0]).toMatchObject({ level: LEVEL.debug, task: 'talk', attempt: 1 });
    expect(lines.find((l) => l.jobId === failing && l.msg.includes('attempt 2 at'))).toMatchObject({ level: LEVEL.debug, outcome: 'error', nextAttempt: 2 });
    expect(lines.find((l) => l.jobId === failing && l.msg.includes('ended error'))).toMatchObject({
      level: LEVEL.info,
      msg: `job ${failing} (talk) ended error on attempt 2: TypeError: bad input`,
      outcome: 'error',
      error: { name: 'TypeError', message: 'bad input' },
    });
    const listenerError = lines.find((l) => l.level === LEVEL.error);
    expect(listenerError).toMatchObject({ msg: 'an event listener threw: Error: listener bug', err: { type: 'Error', message: 'listener bug' } });
    expect((listenerError?.['err'] as { stack: string }).stack).toMatch(/listener bug\n\s+at /);
  });

  it('the default logger is pino at warn; a throwing logger never breaks the node; a logger without level methods is refused', async () => {
    const resolved = resolveRuntimeOptions({ nodeId: 'n' });
    expect((resolved.logger as pino.Logger).level).toBe('warn');

    const throwing = { error: () => boom(), warn: () => boom(), info: () => boom(), debug: () => boom() };
    const rt = await createRuntime({ store: memoryStore(), logger: throwing });
    rt.task('t', (_: null, ctx: JobContext) => {
      ctx.log('still fine');
      return 1;
    });
    await rt.start();
    await expect(rt.runJob('t', null)).resolves.toBe(1);
    await rt.stop();

    expect(() => resolveRuntimeOptions({ logger: { error() {}, warn() {}, info() {} } as never })).toThrow(InvalidOptionError);
    expect(() => resolveRuntimeOptions({ logger: { error() {}, warn() {}, info() {} } as never })).toThrow(/"debug" is missing/);
  });

  it('no console.* is left in the library (src/cli writes through its context, src/demo.ts is the demo)', () => {
    const root = fileURLToPath(new URL('../../src', import.meta.url));
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts') && !path.endsWith(join('src', 'demo.ts'))) {
          readFileSync(path, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
              if (/\bconsole\.[a-z]+\(/.test(code)) offenders.push(`${path}:${i + 1}: ${line.trim()}`);
            });
        }
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});

function boom(): never {
  throw new Error('logger broke');
}
