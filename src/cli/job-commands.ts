/** `jobchart job add | result | cancel` against a NATS store. */
import { Command, Option } from 'commander';
import { formatDuration } from '../duration.js';
import type { JobResult } from '../records.js';
import { withAdminRuntime } from './admin-runtime.js';
import { printResult, type CliContext } from './cli-context.js';
import { CliUsageError, ExitCode } from './cli-error.js';
import { durationValue, jsonValue, nonEmptyValue } from './flag-values.js';
import { jobListCommand, jobShowCommand } from './job-list-commands.js';
import { addStoreOptions, resolveStoreTarget, type StoreFlags } from './store-flags.js';

interface WaitFlags extends StoreFlags {
  wait?: boolean;
  timeout?: number;
  json?: boolean;
}

interface AddFlags extends WaitFlags {
  task: string;
  args?: unknown;
  id?: string;
  resultTtl?: number;
}

/** `ID<TAB>outcome<TAB>value` — the return value as JSON, or the error as `Name: message` on one line. */
export function resultLine(id: string, result: JobResult | null): string {
  if (!result) return `${id}\tpending`;
  if (result.outcome === 'success') return `${id}\tsuccess\t${JSON.stringify(result.returnValue ?? null)}`;
  const error = result.error ? `${result.error.name}: ${result.error.message}`.split('\n')[0] : result.outcome;
  return `${id}\t${result.outcome}\t${error}`;
}

/** 0 for success, 3 while pending, 1 for any other outcome. */
export function resultExitCode(result: JobResult | null): ExitCode {
  if (!result) return ExitCode.pending;
  return result.outcome === 'success' ? ExitCode.ok : ExitCode.failure;
}

const waitOptions = (cmd: Command, what: string): Command =>
  cmd
    .addOption(new Option('--wait', `wait for ${what} result (default: off)`))
    .addOption(new Option('--timeout <duration>', 'with --wait: give up waiting after this long and exit 3 (default: wait forever)').argParser(durationValue('--timeout')))
    .addOption(new Option('--json', 'print one JSON line instead of text (default: off)'));

function checkWaitFlags(flags: WaitFlags): void {
  if (flags.timeout !== undefined && !flags.wait) throw new CliUsageError('--timeout applies to --wait: add --wait, or drop --timeout');
}

function pendingNote(ctx: CliContext, id: string, flags: WaitFlags): void {
  const waited = flags.wait && flags.timeout !== undefined ? ` after waiting ${formatDuration(flags.timeout)}` : '';
  ctx.stderr(`jobchart: job ${id} has no result yet${waited}; ask again with \`jobchart job result ${id} --wait\`\n`);
}

function addCommand(ctx: CliContext): Command {
  const cmd = new Command('add')
    .description('add a job for a task; with --wait, wait for its result')
    .addOption(new Option('--task <name>', 'task to run (required)').makeOptionMandatory().argParser(nonEmptyValue('--task')))
    .addOption(new Option('--args <json>', 'JSON arguments passed to the task (default: null)').argParser(jsonValue('--args')))
    .addOption(new Option('--id <id>', 'job id, single-use (default: a random UUID)').argParser(nonEmptyValue('--id')))
    .addOption(new Option('--result-ttl <duration>', 'how long the result is kept (default: 1d)').argParser(durationValue('--result-ttl')));
  waitOptions(cmd, 'its');
  addStoreOptions(cmd, 'admin');
  return cmd.action(async (flags: AddFlags) => {
    checkWaitFlags(flags);
    const target = resolveStoreTarget(flags, ctx.env, 'admin');
    const out = await withAdminRuntime(target, async (rt) => {
      const jobId = await rt.addJob({
        task: flags.task,
        ...(flags.args !== undefined ? { args: flags.args } : {}),
        ...(flags.id !== undefined ? { id: flags.id } : {}),
        ...(flags.resultTtl !== undefined ? { resultTtl: flags.resultTtl } : {}),
      });
      // Queued either way; say so when no live node could run it yet (a deploy in progress, or a typo).
      const nodes = await rt.backend.nodes.listNodes().catch(() => null);
      const orphan = nodes !== null && !nodes.some((n) => n.role !== 'scheduler' && (n.tasks ?? []).includes(flags.task));
      if (orphan) {
        ctx.stderr(`jobchart: no live worker registers task "${flags.task}" yet; job ${jobId} waits in the queue until one does\n`);
      }
      const result = flags.wait ? await rt.getJobResult(jobId, { wait: true, ...(flags.timeout !== undefined ? { timeout: flags.timeout } : {}) }) : null;
      return { jobId, result };
    });
    if (!flags.wait) {
      printResult(ctx, flags.json, out.jobId, out);
      ctx.exitCode = ExitCode.ok;
      return;
    }
    printResult(ctx, flags.json, resultLine(out.jobId, out.result), out);
    if (!out.result) pendingNote(ctx, out.jobId, flags);
    ctx.exitCode = resultExitCode(out.result);
  });
}

function resultCommand(ctx: CliContext): Command {
  const cmd = new Command('result')
    .description("print a job's result: exit 0 success, 1 another outcome, 3 no result yet")
    .argument('<id>', 'job id');
  waitOptions(cmd, 'its');
  addStoreOptions(cmd, 'admin');
  return cmd.action(async (id: string, flags: WaitFlags) => {
    checkWaitFlags(flags);
    const target = resolveStoreTarget(flags, ctx.env, 'admin');
    const result = await withAdminRuntime(target, (rt) =>
      rt.getJobResult(id, { wait: flags.wait === true, ...(flags.timeout !== undefined ? { timeout: flags.timeout } : {}) }),
    );
    printResult(ctx, flags.json, resultLine(id, result), result);
    if (!result) pendingNote(ctx, id, flags);
    ctx.exitCode = resultExitCode(result);
  });
}

function cancelCommand(ctx: CliContext): Command {
  const cmd = new Command('cancel')
    .description('cancel a job: a queued one ends cancelled at once, a running one is aborted on its node; exit 1 if it had already ended')
    .argument('<id>', 'job id')
    .addOption(new Option('--json', 'print one JSON line instead of text (default: off)'));
  addStoreOptions(cmd, 'admin');
  return cmd.action(async (id: string, flags: StoreFlags & { json?: boolean }) => {
    const target = resolveStoreTarget(flags, ctx.env, 'admin');
    const cancelled = await withAdminRuntime(target, (rt) => rt.cancelJob(id));
    printResult(ctx, flags.json, cancelled ? `cancelled ${id}` : `${id} had already ended; nothing to cancel`, { id, cancelled });
    ctx.exitCode = cancelled ? ExitCode.ok : ExitCode.failure;
  });
}

/** `jobchart job …` */
export function jobCommand(ctx: CliContext): Command {
  return new Command('job')
    .description('add jobs, list them, show one with its attempts, read results, cancel them, in a NATS store')
    .addCommand(addCommand(ctx))
    .addCommand(jobListCommand(ctx))
    .addCommand(jobShowCommand(ctx))
    .addCommand(resultCommand(ctx))
    .addCommand(cancelCommand(ctx));
}
