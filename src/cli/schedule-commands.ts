/** `jobchart schedule add | list | pause | resume | rm` against a NATS store. */
import { Command, Option } from 'commander';
import { ConflictingIdError, ScheduleLookupError } from '../errors.js';
import type { ScheduleRecord } from '../records.js';
import type { Runtime } from '../runtime/runtime.js';
import type { AddScheduleOptions } from '../runtime/schedule-operations.js';
import { describeTrigger } from '../triggers/index.js';
import { withAdminRuntime } from './admin-runtime.js';
import { printResult, type CliContext } from './cli-context.js';
import { ExitCode } from './cli-error.js';
import { durationValue, instantValue, jsonValue, nonEmptyValue } from './flag-values.js';
import { addStoreOptions, resolveStoreTarget, type StoreFlags } from './store-flags.js';
import { triggerFromFlags, type TriggerFlags } from './schedule-trigger.js';

const COALESCE = ['latest', 'earliest', 'all'] as const;

interface AddFlags extends StoreFlags, TriggerFlags {
  interval?: number;
  task: string;
  id?: string;
  args?: unknown;
  paused?: boolean;
  coalesce?: (typeof COALESCE)[number];
  misfireGrace?: number;
  maxJitter?: number;
  replace?: boolean;
  json?: boolean;
}

interface ListFlags extends StoreFlags {
  json?: boolean;
}

interface ResumeFlags extends ListFlags {
  from?: Date | 'now';
}

/** One line per schedule: id, task, trigger, next fire time. */
export function scheduleLine(s: ScheduleRecord): string {
  const next = s.paused ? 'paused' : (s.nextFireTime?.toISOString() ?? 'finished');
  return `${s.id}\t${s.task}\t${describeTrigger(s.trigger)}\tnext: ${next}`;
}

const jsonOption = (): Option => new Option('--json', 'print one JSON line instead of text (default: off)');

/** The schedule, or null when there is none with that id. */
async function findSchedule(rt: Runtime, id: string): Promise<ScheduleRecord | null> {
  try {
    return await rt.getSchedule(id);
  } catch (error) {
    if (error instanceof ScheduleLookupError) return null;
    throw error;
  }
}

type AddOutcome = { action: 'added' | 'replaced' | 'kept'; schedule: ScheduleRecord };

async function addOrKeep(rt: Runtime, opts: AddScheduleOptions, replace: boolean): Promise<AddOutcome> {
  const existing = opts.id === undefined ? null : await findSchedule(rt, opts.id);
  if (existing && !replace) return { action: 'kept', schedule: existing };
  try {
    // 'error', not the API's default 'keep': a schedule created meanwhile must be reported as kept, not as added.
    const id = await rt.addSchedule({ ...opts, onConflict: replace ? 'replace' : 'error' });
    return { action: existing ? 'replaced' : 'added', schedule: await rt.getSchedule(id) };
  } catch (error) {
    if (error instanceof ConflictingIdError && opts.id !== undefined) return { action: 'kept', schedule: await rt.getSchedule(opts.id) };
    throw error;
  }
}

function addCommand(ctx: CliContext): Command {
  const cmd = new Command('add')
    .description('add a schedule that turns a trigger into jobs of a task; an existing --id is kept as it is unless --replace')
    .addOption(new Option('--task <name>', 'task each fire runs (required)').makeOptionMandatory().argParser(nonEmptyValue('--task')))
    .addOption(new Option('--cron <expression>', "cron expression, 5 fields or 6 with seconds first, e.g. '0 2 * * *' (one of --cron, --interval, --date)"))
    .addOption(new Option('--tz <zone>', 'IANA time zone of --cron, e.g. Europe/Berlin (default: UTC)'))
    .addOption(new Option('--interval <duration>', 'fixed interval of elapsed time, e.g. 90s, 5m, 1h30m (one of --cron, --interval, --date)').argParser(durationValue('--interval')))
    .addOption(new Option('--date <iso>', 'fire once at this ISO 8601 date-time, e.g. 2026-06-01T12:00:00Z (one of --cron, --interval, --date)'))
    .addOption(new Option('--start <iso>', 'first possible fire time of --cron or --interval (default: now)'))
    .addOption(new Option('--end <iso>', 'last possible fire time of --cron or --interval (default: none)'))
    .addOption(new Option('--id <id>', 'schedule id (default: a random UUID)').argParser(nonEmptyValue('--id')))
    .addOption(new Option('--args <json>', 'JSON arguments passed to the task (default: null)').argParser(jsonValue('--args')))
    .addOption(new Option('--paused', 'add it paused: no fires until `schedule resume` (default: off)'))
    .addOption(new Option('--coalesce <policy>', 'missed fire times become one job for the latest, the earliest, or one each (default: latest)').choices(COALESCE))
    .addOption(new Option('--misfire-grace <duration>', "a job must start this long after its fire time at the latest (default: the task's, else no limit)").argParser(durationValue('--misfire-grace')))
    .addOption(new Option('--max-jitter <duration>', 'random delay added to each fire time, at most this (default: 0)').argParser(durationValue('--max-jitter')))
    .addOption(new Option('--replace', 'replace the schedule with the same --id if there is one (default: off: keep it)'))
    .addOption(jsonOption());
  addStoreOptions(cmd, 'admin');
  return cmd.action(async (flags: AddFlags) => {
    const trigger = triggerFromFlags(flags, new Date());
    const target = resolveStoreTarget(flags, ctx.env, 'admin');
    const opts: AddScheduleOptions = {
      task: flags.task,
      trigger,
      ...(flags.id !== undefined ? { id: flags.id } : {}),
      ...(flags.args !== undefined ? { args: flags.args } : {}),
      ...(flags.paused ? { paused: true } : {}),
      ...(flags.coalesce !== undefined ? { coalesce: flags.coalesce } : {}),
      ...(flags.misfireGrace !== undefined ? { misfireGraceTime: flags.misfireGrace } : {}),
      ...(flags.maxJitter !== undefined ? { maxJitter: flags.maxJitter } : {}),
    };
    const outcome = await withAdminRuntime(target, (rt) => addOrKeep(rt, opts, flags.replace === true));
    printResult(ctx, flags.json, `${outcome.action} ${scheduleLine(outcome.schedule)}`, outcome);
    if (outcome.action === 'kept') {
      ctx.stderr(`jobchart: schedule "${outcome.schedule.id}" already exists and was kept as it is; use --replace to replace it\n`);
    }
    ctx.exitCode = ExitCode.ok;
  });
}

function listCommand(ctx: CliContext): Command {
  const cmd = new Command('list').description('list the schedules: id, task, trigger, next fire time').addOption(jsonOption());
  addStoreOptions(cmd, 'admin');
  return cmd.action(async (flags: ListFlags) => {
    const target = resolveStoreTarget(flags, ctx.env, 'admin');
    const list = await withAdminRuntime(target, (rt) => rt.listSchedules());
    printResult(ctx, flags.json, list.length ? list.map(scheduleLine).join('\n') : '(no schedules)', list);
    ctx.exitCode = ExitCode.ok;
  });
}

function pauseCommand(ctx: CliContext): Command {
  const cmd = new Command('pause').description('pause a schedule: no fires until `schedule resume`').argument('<id>', 'schedule id').addOption(jsonOption());
  addStoreOptions(cmd, 'admin');
  return cmd.action(async (id: string, flags: ListFlags) => {
    const target = resolveStoreTarget(flags, ctx.env, 'admin');
    const record = await withAdminRuntime(target, (rt) => rt.pauseSchedule(id));
    printResult(ctx, flags.json, `paused ${scheduleLine(record)}`, record);
    ctx.exitCode = ExitCode.ok;
  });
}

function resumeCommand(ctx: CliContext): Command {
  const fromValue = instantValue('--from');
  const cmd = new Command('resume')
    .description('resume a paused schedule')
    .argument('<id>', 'schedule id')
    .addOption(
      new Option('--from <now|iso>', 'fire times from here on: now skips those missed while paused, a past date replays them through --coalesce (default: now)').argParser(
        (raw: string) => (raw === 'now' ? 'now' : fromValue(raw)),
      ),
    )
    .addOption(jsonOption());
  addStoreOptions(cmd, 'admin');
  return cmd.action(async (id: string, flags: ResumeFlags) => {
    const target = resolveStoreTarget(flags, ctx.env, 'admin');
    const record = await withAdminRuntime(target, (rt) => rt.resumeSchedule(id, { from: flags.from ?? 'now' }));
    printResult(ctx, flags.json, `resumed ${scheduleLine(record)}`, record);
    ctx.exitCode = ExitCode.ok;
  });
}

function removeCommand(ctx: CliContext): Command {
  const cmd = new Command('rm').description('remove a schedule (its jobs already made are not touched)').argument('<id>', 'schedule id').addOption(jsonOption());
  addStoreOptions(cmd, 'admin');
  return cmd.action(async (id: string, flags: ListFlags) => {
    const target = resolveStoreTarget(flags, ctx.env, 'admin');
    await withAdminRuntime(target, async (rt) => {
      // Look first: removing a missing id would still write a delete marker and announce
      // ScheduleRemoved to every node (see the runtime's removeSchedule).
      await rt.getSchedule(id);
      if (!(await rt.removeSchedule(id))) throw new ScheduleLookupError(id);
    });
    printResult(ctx, flags.json, `removed ${id}`, { id, removed: true });
    ctx.exitCode = ExitCode.ok;
  });
}

/** `jobchart schedule …` */
export function scheduleCommand(ctx: CliContext): Command {
  return new Command('schedule')
    .description('add, list, pause, resume and remove schedules in a NATS store')
    .addCommand(addCommand(ctx))
    .addCommand(listCommand(ctx))
    .addCommand(pauseCommand(ctx))
    .addCommand(resumeCommand(ctx))
    .addCommand(removeCommand(ctx));
}
