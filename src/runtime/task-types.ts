/**
 * Typed tasks. A runtime may declare its tasks' signatures as a type parameter:
 *
 * ```ts
 * type Tasks = { send: (args: { to: string }) => string; cleanup: () => void };
 * const rt = await createRuntime<Tasks>({ store });
 * rt.task('send', ({ to }) => `sent to ${to}`);          // args typed, the return value checked
 * const sent: string = await rt.runJob('send', { to: 'a@b.c' });
 * await rt.addJob({ task: 'send', args: { to: 'x' } });   // args required and checked
 * await rt.runJob('cleanup');                             // no args
 * ```
 *
 * The map is a type, not a registration: a producer that never runs the tasks declares the same map
 * as the workers (share it from one module) and gets the same checks. Without a map (the default)
 * every name and any args are accepted, as before; `rt.task<Args, Result>(name, fn)` types one task
 * ad hoc. In a typed runtime only the map's names are accepted by `addJob`/`runJob`/`addSchedule` —
 * a typo in a task name is a compile error; register or add others through a runtime typed wider.
 */
import type { AddJobOptions } from './job-operations.js';
import type { AddScheduleOptions } from './schedule-operations.js';

/** The default: any task name, any args, unknown results. */
export interface UntypedTasks {
  [task: string]: (args?: any) => unknown;
}

/** Task names a runtime accepts: the map's, or any string for an untyped runtime. */
export type TaskName<TM> = string extends keyof TM ? string : Extract<keyof TM, string>;

/** The args of task `K` (undefined for a task declared without a parameter). */
export type TaskArgs<TM, K> = K extends keyof TM
  ? TM[K] extends (...args: infer P) => unknown
    ? P extends []
      ? undefined
      : P[0]
    : unknown
  : unknown;

/** What task `K` resolves to. */
export type TaskResult<TM, K> = K extends keyof TM ? (TM[K] extends (...args: any[]) => infer R ? Awaited<R> : unknown) : unknown;

/** `args` optional when the task's args may be undefined, required otherwise. */
export type ArgsField<A> = undefined extends A ? { args?: A } : { args: A };

/** `runJob(task, args)`: args optional when the task's args may be undefined. */
export type ArgsParameter<A> = undefined extends A ? [args?: A] : [args: A];

/** A name `rt.task<Args, Result>(name, fn)` may register ad hoc: any not declared in the map. */
export type AdHocTaskName<TM, N extends string> = string extends keyof TM ? N : N extends keyof TM ? never : N;

/** `addJob` options with the task's args typed. */
export type TypedJobOptions<TM, K extends string> = Omit<AddJobOptions, 'task' | 'args'> & { task: K } & ArgsField<TaskArgs<TM, K>>;

/** One job of `addJobs`: any of the runtime's tasks with its args. */
export type AnyTypedJobOptions<TM> = { [K in TaskName<TM>]: TypedJobOptions<TM, K> }[TaskName<TM>];

/** `addSchedule` options with the task's args typed. */
export type TypedScheduleOptions<TM, K extends string> = Omit<AddScheduleOptions, 'task' | 'args'> & { task: K } & ArgsField<TaskArgs<TM, K>>;
