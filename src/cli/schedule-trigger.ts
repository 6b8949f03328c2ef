/**
 * The trigger of `jobchart schedule add`, from `--cron [--tz]`, `--interval` or `--date`, with
 * `--start`/`--end`. Built (and so validated) by the trigger constructors before anything is
 * written, and refused when it can never fire.
 */
import { cron, date, describeTrigger, interval, InvalidTriggerError, nextFireTime, type Trigger } from '../triggers/index.js';
import { CliUsageError } from './cli-error.js';
import { describeCliError } from './cli-error-messages.js';

export interface TriggerFlags {
  cron?: string;
  tz?: string;
  /** Milliseconds (read by the flag's parser) or a duration string. */
  interval?: number | string;
  date?: string;
  start?: string;
  end?: string;
}

function build(flags: TriggerFlags): Trigger {
  const bounds = { ...(flags.start !== undefined ? { start: flags.start } : {}), ...(flags.end !== undefined ? { end: flags.end } : {}) };
  if (flags.cron !== undefined) return cron(flags.cron, { ...(flags.tz !== undefined ? { timezone: flags.tz } : {}), ...bounds });
  if (flags.interval !== undefined) return interval(flags.interval, bounds);
  return date(flags.date as string);
}

/** The trigger the flags describe; throws CliUsageError for a missing, bad or never-firing one. */
export function triggerFromFlags(flags: TriggerFlags, now: Date): Trigger {
  const given = (['cron', 'interval', 'date'] as const).filter((key) => flags[key] !== undefined);
  if (given.length !== 1) throw new CliUsageError('give exactly one of --cron, --interval, --date');
  if (flags.tz !== undefined && flags.cron === undefined) throw new CliUsageError('--tz applies to --cron only');
  if (flags.date !== undefined && (flags.start !== undefined || flags.end !== undefined)) {
    throw new CliUsageError('--start and --end apply to --cron and --interval, not --date');
  }
  let trigger: Trigger;
  try {
    trigger = build(flags);
  } catch (error) {
    if (error instanceof InvalidTriggerError) throw new CliUsageError(describeCliError(error).message, { cause: error });
    throw error;
  }
  if (nextFireTime(trigger, now, { inclusive: true }) === null) {
    throw new CliUsageError(
      trigger.kind === 'date'
        ? `--date ${new Date(trigger.at).toISOString()} is in the past: the schedule would never fire`
        : `${describeTrigger(trigger)} has no fire time after now: the schedule would never fire (check --start and --end)`,
    );
  }
  return trigger;
}
