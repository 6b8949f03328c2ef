/** Fakes for the worker machine: fetch effects and a stub job actor the test finishes by hand. */
import { fromPromise, sendParent, setup } from 'xstate';
import type { jobMachine } from '../../../src/machines/job-machine.js';
import type { JobInput } from '../../../src/machines/job-types.js';
import type { FetchedJob, FetchJobsInput, ReturnUnstartedJobsParams } from '../../../src/machines/worker-types.js';
import { deferred, type Deferred } from './deferred.js';

/** fetchJobs backed by an array (a work queue): takes up to `max` from the front. */
export function queueFetch(queue: FetchedJob[]) {
  const calls: FetchJobsInput[] = [];
  let failures = 0;
  const logic = fromPromise<FetchedJob[], FetchJobsInput>(async ({ input }) => {
    calls.push(input);
    if (failures > 0) {
      failures--;
      throw new Error('dispatch unavailable');
    }
    return queue.splice(0, input.max);
  });
  return { logic, calls, failNext: (n: number) => void (failures = n) };
}

/** fetchJobs whose every call waits for the test to answer it. */
export function controlledFetch() {
  const calls: { input: FetchJobsInput; answer: Deferred<FetchedJob[]>; signal: AbortSignal }[] = [];
  const logic = fromPromise<FetchedJob[], FetchJobsInput>(({ input, signal }) => {
    const answer = deferred<FetchedJob[]>();
    calls.push({ input, answer, signal });
    return answer.promise;
  });
  return { logic, calls, last: () => calls[calls.length - 1] };
}

/** Records returnUnstartedJobs calls. */
export function returnLog() {
  const returned: ReturnUnstartedJobsParams[] = [];
  const action = (_: unknown, params: ReturnUnstartedJobsParams) => {
    returned.push(params);
  };
  return { returned, action };
}

export interface StubJobLog {
  started: string[];
  shutdown: string[];
  restored: string[];
}

/**
 * A stand-in for the job machine: runs until the test sends FINISH, then ends like the real one
 * (final state entry sends SLOT_RELEASED). Records starts (entry effect) and SHUTDOWN/RESTORED.
 */
export function stubJobLogic(log: StubJobLog = { started: [], shutdown: [], restored: [] }) {
  const logic = setup({
    types: {} as {
      context: { jobId: string };
      input: JobInput;
      events: { type: 'FINISH' } | { type: 'SHUTDOWN' } | { type: 'RESTORED' } | { type: 'CRASH' };
    },
    actions: {
      recordStart: ({ context }) => void log.started.push(context.jobId),
      recordShutdown: ({ context }) => void log.shutdown.push(context.jobId),
      recordRestored: ({ context }) => void log.restored.push(context.jobId),
      crash: () => {
        throw new Error('job actor crashed');
      },
    },
  }).createMachine({
    context: ({ input }) => ({ jobId: input.job.id }),
    initial: 'running',
    states: {
      running: {
        entry: 'recordStart',
        on: {
          FINISH: 'done',
          SHUTDOWN: { actions: 'recordShutdown' },
          RESTORED: { actions: 'recordRestored' },
          CRASH: { actions: 'crash' },
        },
      },
      done: {
        type: 'final',
        entry: sendParent(({ context }) => ({ type: 'SLOT_RELEASED', jobId: context.jobId })),
      },
    },
  });
  // The worker declares the real job machine; the stub honours the part of its contract it uses.
  return { logic: logic as unknown as typeof jobMachine, log };
}
