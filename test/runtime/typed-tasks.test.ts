/**
 * Typed tasks: `createRuntime<Tasks>()` types `task`, `addJob`, `addJobs`, `runJob` and
 * `addSchedule` by the task map; `rt.task<Args, Result>(name, fn)` types one task ad hoc; an untyped
 * runtime accepts anything, as before. The checks are the compiler's: `npm test` runs `tsc --noEmit`
 * first, and each `@ts-expect-error` line fails it if the line it marks compiles. The tests then run
 * the same calls on the memory store.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createRuntime, interval, memoryStore, type JobContext, type Runtime } from '../../src/index.js';

type Tasks = {
  send: (args: { to: string; cc?: string[] }) => string;
  count: (args: number) => Promise<number>;
  cleanup: () => void;
};

describe('typed tasks', () => {
  it('a task map types registration, addJob, addJobs, runJob and addSchedule', async () => {
    const rt = await createRuntime<Tasks>({ store: memoryStore() });
    try {
      rt.task('send', ({ to, cc }) => `sent to ${to}${cc ? ` cc ${cc.join(',')}` : ''}`);
      rt.task('count', async (n, ctx) => {
        expectTypeOf(ctx).toEqualTypeOf<JobContext>();
        return n + 1;
      });
      rt.task('cleanup', () => undefined);
      // An ad-hoc task beside the map, typed by its own parameters.
      rt.task<{ n: number }, string>('extra', ({ n }) => String(n));
      // Compiled, never run (a second registration of a name throws).
      const wrongRegistrations = (): void => {
        // @ts-expect-error: the map says send returns a string
        rt.task('send', () => 42);
        // @ts-expect-error: the map says count takes a number
        rt.task('count', (args: string) => Number(args));
        // @ts-expect-error: ad hoc, but the function does not match the explicit types
        rt.task<{ n: number }, string>('extra2', ({ n }) => n);
      };
      expect(wrongRegistrations).toBeTypeOf('function');

      await rt.start();
      const sent = await rt.runJob('send', { to: 'a@b.c' });
      expectTypeOf(sent).toEqualTypeOf<string>();
      expect(sent).toBe('sent to a@b.c');
      const counted = await rt.runJob('count', 41);
      expectTypeOf(counted).toEqualTypeOf<number>();
      expect(counted).toBe(42);
      await rt.runJob('cleanup'); // no args

      // Compiled, never run.
      const wrongCalls = async (): Promise<void> => {
        // @ts-expect-error: args of the wrong shape
        await rt.runJob('send', { too: 'a@b.c' });
        // @ts-expect-error: args are required for send
        await rt.runJob('send');
        // @ts-expect-error: a task the map does not declare (a typo)
        await rt.runJob('sned', { to: 'x' });
        // @ts-expect-error: count takes a number
        await rt.addJob({ task: 'count', args: 'forty-one' });
        // @ts-expect-error: args are required for count
        await rt.addJob({ task: 'count' });
        // @ts-expect-error: one job of the batch has the args of another task
        await rt.addJobs([{ task: 'send', args: 1 }]);
        // @ts-expect-error: schedule args are checked too
        await rt.addSchedule({ id: 'typed2', task: 'count', args: { n: 1 }, trigger: interval('1h') });
      };
      expect(wrongCalls).toBeTypeOf('function');

      const id = await rt.addJob({ task: 'send', args: { to: 'x@y.z', cc: ['c@d.e'] }, resultTtl: '1h' });
      expect((await rt.getJobResult(id, { wait: true, timeout: '5s' }))?.returnValue).toBe('sent to x@y.z cc c@d.e');
      const ids = await rt.addJobs([
        { task: 'send', args: { to: 'p@q.r' } },
        { task: 'count', args: 1 },
        { task: 'cleanup' },
      ]);
      expect(ids).toHaveLength(3);

      await rt.addSchedule({ id: 'typed', task: 'count', args: 1, trigger: interval('1h') });
    } finally {
      await rt.stop();
    }
  });

  it('an untyped runtime accepts any task, args and function, and runJob resolves to unknown', async () => {
    const rt: Runtime = await createRuntime({ store: memoryStore() });
    try {
      rt.task('add', ({ a, b }: { a: number; b: number }) => a + b);
      rt.task('anything', (args) => args);
      await rt.start();
      const value = await rt.runJob('add', { a: 1, b: 2 });
      expectTypeOf(value).toEqualTypeOf<unknown>();
      expect(value).toBe(3);
      expect(await rt.runJob('anything')).toBeNull();
      await rt.addJob({ task: 'anything', args: [1, 'two'] });
    } finally {
      await rt.stop();
    }
  });
});
