/** `jobchart job list` and `jobchart job show ID`: the jobs of a NATS store, and one job's every attempt. */
import { Command, Option } from 'commander';
import { OUTCOMES } from '../outcome.js';
import type { ListJobsQuery } from '../store/index.js';
import { withAdminRuntime } from './admin-runtime.js';
import { printResult, type CliContext } from './cli-context.js';
import { ExitCode } from './cli-error.js';
import { integerValue, nonEmptyValue } from './flag-values.js';
import { jobListText, jobShowText } from './job-view.js';
import { addStoreOptions, resolveStoreTarget, type StoreFlags } from './store-flags.js';

/** `--state` values: the phases, `succeeded`/`failed`, and every outcome. */
const STATES = ['queued', 'running', 'done', 'succeeded', 'failed', ...OUTCOMES] as const;
type StateFlag = (typeof STATES)[number];

interface ListFlags extends StoreFlags {
  state?: StateFlag;
  task?: string;
  schedule?: string;
  limit?: number;
  cursor?: string;
  json?: boolean;
}

/** The CLI's words for states → the listing's filter (`succeeded` is the outcome `success`). */
function stateFilter(state: StateFlag | undefined): ListJobsQuery['state'] {
  return state === 'succeeded' ? 'success' : state;
}

/** The command line that asks for the next page. */
function nextPageCommand(flags: ListFlags, cursor: string): string {
  const parts = ['jobchart job list'];
  if (flags.state) parts.push(`--state ${flags.state}`);
  if (flags.task) parts.push(`--task ${flags.task}`);
  if (flags.schedule) parts.push(`--schedule ${flags.schedule}`);
  if (flags.limit !== undefined) parts.push(`--limit ${flags.limit}`);
  parts.push(`--cursor ${cursor}`);
  return parts.join(' ');
}

function listCommand(ctx: CliContext): Command {
  const cmd = new Command('list')
    .description('list jobs newest first: queued, running and finished (while their result is kept)')
    .addOption(new Option('--state <state>', 'only jobs in this state: queued, running, done, succeeded, failed (done, neither success nor cancelled) or an outcome (default: all)').choices(STATES))
    .addOption(new Option('--task <name>', 'only jobs of this task (default: all tasks)').argParser(nonEmptyValue('--task')))
    .addOption(new Option('--schedule <id>', 'only jobs made by this schedule (default: all)').argParser(nonEmptyValue('--schedule')))
    .addOption(new Option('--limit <n>', 'jobs per page (default: 50)').argParser(integerValue('--limit', 1)))
    .addOption(new Option('--cursor <cursor>', 'the next page, as printed after the previous one (default: the first page)').argParser(nonEmptyValue('--cursor')))
    .addOption(new Option('--json', 'print one JSON line { jobs, nextCursor } instead of a table (default: off)'));
  addStoreOptions(cmd, 'admin');
  return cmd.action(async (flags: ListFlags) => {
    const target = resolveStoreTarget(flags, ctx.env, 'admin');
    const query: ListJobsQuery = { limit: flags.limit ?? 50 };
    const state = stateFilter(flags.state);
    if (state !== undefined) query.state = state;
    if (flags.task !== undefined) query.task = flags.task;
    if (flags.schedule !== undefined) query.scheduleId = flags.schedule;
    if (flags.cursor !== undefined) query.cursor = flags.cursor;
    const page = await withAdminRuntime(target, (rt) => rt.listJobs(query));
    printResult(ctx, flags.json, jobListText(page.jobs, new Date()), page);
    if (!flags.json && page.nextCursor) ctx.stderr(`jobchart: more jobs: ${nextPageCommand(flags, page.nextCursor)}\n`);
    ctx.exitCode = ExitCode.ok;
  });
}

function showCommand(ctx: CliContext): Command {
  const cmd = new Command('show')
    .description("show a job: its record, state, result, and every attempt kept with its node, times, outcome, error and stack, log lines and progress")
    .argument('<id>', 'job id')
    .addOption(new Option('--json', 'print the whole record as one JSON line (default: off)'));
  addStoreOptions(cmd, 'admin');
  return cmd.action(async (id: string, flags: StoreFlags & { json?: boolean }) => {
    const target = resolveStoreTarget(flags, ctx.env, 'admin');
    const job = await withAdminRuntime(target, (rt) => rt.getJob(id));
    printResult(ctx, flags.json, jobShowText(job, new Date()), job);
    ctx.exitCode = ExitCode.ok;
  });
}

export { listCommand as jobListCommand, showCommand as jobShowCommand };
